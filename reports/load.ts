import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { ResultsSchema, SCHEMA_VERSION, type Results } from '../bench/results.js';

/** Input a user handed us that is not a readable hookbench results document: one line, exit 2. */
export class ResultsInputError extends Error {}

export interface LoadedResults {
  results: Results;
  /** The results.json actually read. */
  jsonPath: string;
}

async function resolveJsonPath(path: string): Promise<string> {
  const info = await stat(path).catch(() => {
    throw new ResultsInputError(`${path}: no such file or directory`);
  });
  if (!info.isDirectory()) return path;
  const jsonPath = join(path, 'results.json');
  const found = await stat(jsonPath).catch(() => null);
  if (!found?.isFile()) throw new ResultsInputError(`${path}: no results.json in this directory`);
  return jsonPath;
}

function parseJson(text: string, jsonPath: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new ResultsInputError(`${jsonPath}: not valid JSON (${(error as Error).message})`);
  }
}

function describeForeign(document: unknown): string | null {
  if (typeof document !== 'object' || document === null || Array.isArray(document)) return 'not a JSON object';
  const { tool, schemaVersion } = document as Record<string, unknown>;
  if (tool !== 'hookbench') return 'not a hookbench results document (no "tool": "hookbench")';
  if (typeof schemaVersion === 'number' && schemaVersion < SCHEMA_VERSION) {
    return `written by an older hookbench (results schema version ${schemaVersion}, measured without blocks and CPU placement); this hookbench reads version ${SCHEMA_VERSION} only: re-measure with hookbench run`;
  }
  if (schemaVersion !== SCHEMA_VERSION) return `results schema version ${String(schemaVersion)}, this hookbench reads version ${SCHEMA_VERSION}`;
  return null;
}

/** Reads a results directory (its results.json) or a results.json file, validated against the schema. */
export async function loadResults(path: string): Promise<LoadedResults> {
  const jsonPath = await resolveJsonPath(path);
  const text = await readFile(jsonPath, 'utf8').catch((error: NodeJS.ErrnoException) => {
    throw new ResultsInputError(`${jsonPath}: cannot read (${error.code ?? error.message})`);
  });
  const document = parseJson(text, jsonPath);
  const foreign = describeForeign(document);
  if (foreign) throw new ResultsInputError(`${jsonPath}: ${foreign}`);
  const parsed = ResultsSchema.safeParse(document);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ResultsInputError(`${jsonPath}: invalid hookbench results at ${issue.path.join('.') || '(top)'}: ${issue.message}`);
  }
  return { results: parsed.data, jsonPath };
}
