import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { ResultsSchema, SCHEMA_VERSION, upgradeResults, type Results } from '../bench/results.js';

/** Input a user handed us that is not a readable hookbench results document: one line, exit 2. */
export class ResultsInputError extends Error {}

export interface LoadedResults {
  results: Results;
  /** The results.json actually read. */
  jsonPath: string;
}

/** Where a merged report keeps each input's results.json: <report>/inputs/<input>/results.json. */
export const MERGED_INPUTS_DIR = 'inputs';

const isFile = async (path: string) => (await stat(path).catch(() => null))?.isFile() ?? false;

/** The results.json files of a merged report directory, in name order; none when it is not one. */
export async function mergedInputPaths(dir: string): Promise<string[]> {
  const inputs = join(dir, MERGED_INPUTS_DIR);
  const names = await readdir(inputs).catch(() => [] as string[]);
  const paths = names.sort((a, b) => a.localeCompare(b, 'en', { numeric: true })).map((name) => join(inputs, name, 'results.json'));
  const present = await Promise.all(paths.map(isFile));
  return paths.filter((_, i) => present[i]);
}

/**
 * The results.json files a path stands for: a file itself; a results directory's results.json; or,
 * for a directory without one, the inputs of the merged report it holds.
 */
async function resolveJsonPaths(path: string): Promise<string[]> {
  const info = await stat(path).catch(() => {
    throw new ResultsInputError(`${path}: no such file or directory`);
  });
  if (!info.isDirectory()) return [path];
  const jsonPath = join(path, 'results.json');
  if (await isFile(jsonPath)) return [jsonPath];
  const merged = await mergedInputPaths(path);
  if (merged.length === 0) throw new ResultsInputError(`${path}: no results.json in this directory (nor ${MERGED_INPUTS_DIR}/*/results.json of a merged report)`);
  return merged;
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
    return `written by an older hookbench (results schema version ${schemaVersion}, measured without blocks and CPU placement); this hookbench reads versions 2 to ${SCHEMA_VERSION}: re-measure with hookbench run`;
  }
  if (schemaVersion !== SCHEMA_VERSION) return `results schema version ${String(schemaVersion)}, this hookbench reads version ${SCHEMA_VERSION}`;
  return null;
}

/** Reads a results directory (its results.json) or a results.json file, validated against the schema. */
export async function loadResults(path: string): Promise<LoadedResults> {
  const jsonPaths = await resolveJsonPaths(path);
  if (jsonPaths.length > 1) throw new ResultsInputError(`${path}: a merged report of ${jsonPaths.length} inputs; name one of its ${MERGED_INPUTS_DIR}/*/results.json`);
  return loadJson(jsonPaths[0]);
}

/** Every results document a path stands for: one for a results file or directory, each input of a merged report. */
export async function loadResultsSet(path: string): Promise<LoadedResults[]> {
  return Promise.all((await resolveJsonPaths(path)).map(loadJson));
}

async function loadJson(jsonPath: string): Promise<LoadedResults> {
  const text = await readFile(jsonPath, 'utf8').catch((error: NodeJS.ErrnoException) => {
    throw new ResultsInputError(`${jsonPath}: cannot read (${error.code ?? error.message})`);
  });
  const document = upgradeResults(parseJson(text, jsonPath));
  const foreign = describeForeign(document);
  if (foreign) throw new ResultsInputError(`${jsonPath}: ${foreign}`);
  const parsed = ResultsSchema.safeParse(document);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ResultsInputError(`${jsonPath}: invalid hookbench results at ${issue.path.join('.') || '(top)'}: ${issue.message}`);
  }
  return { results: parsed.data, jsonPath };
}
