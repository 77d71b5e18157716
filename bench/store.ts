import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { UsageError } from './errors.js';
import { CellSchema, EnvironmentSchema, LatencySchema, ResultsSchema, RoundSchema, RunOptionsSchema, RunSampleSchema, SCHEMA_VERSION, type Results } from './results.js';

/**
 * A results directory, written incrementally so a killed run loses at most its round in progress:
 * `run.json` (options, environment, start), `rounds.jsonl` (one line per calibration, warm-up, round
 * and finished cell, then one with the run's attach/detach latency), and at the end `results.json`
 * (the whole versioned document).
 */
export const RUN_FILE = 'run.json';
export const LOG_FILE = 'rounds.jsonl';
export const RESULTS_FILE = 'results.json';
export const SCHEMA_FILE = 'results.schema.json';

const RunHeaderSchema = z.object({
  schemaVersion: z.literal(SCHEMA_VERSION),
  startedAt: z.string(),
  options: RunOptionsSchema,
  environment: EnvironmentSchema,
});
export type RunHeader = z.infer<typeof RunHeaderSchema>;

const CellKeySchema = z.object({ mechanism: z.string(), workload: z.string() });
export const LogLineSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('calibration'), workload: z.string(), iterations: z.number().int().positive() }),
  z.object({ type: z.literal('warmup'), cell: CellKeySchema, sample: RunSampleSchema }),
  z.object({ type: z.literal('round'), cell: CellKeySchema, round: RoundSchema }),
  z.object({ type: z.literal('cell'), cell: CellSchema }),
  z.object({ type: z.literal('latency'), latency: LatencySchema }),
]);
export type LogLine = z.infer<typeof LogLineSchema>;

export function defaultResultsDir(now = new Date()): string {
  const stamp = now.toISOString().replace(/[:.]/g, '-').replace(/-\d{3}Z$/, 'Z');
  return join('results', `${stamp}-${hostname().replace(/[^A-Za-z0-9_.-]/g, '_')}`);
}

/** JSON text, or undefined when it is not JSON (a hand-edited or foreign file): the schema then refuses it. */
function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

export class ResultsStore {
  constructor(readonly dir: string) {}

  /** Starts a new results directory; refuses one that already holds a run (that is `--resume`). */
  create(header: RunHeader): void {
    if (existsSync(join(this.dir, RUN_FILE))) throw new UsageError(`${this.dir} already holds a run; use --resume ${this.dir} to continue it`);
    mkdirSync(this.dir, { recursive: true });
    writeFileSync(join(this.dir, RUN_FILE), JSON.stringify(header, null, 2));
    writeFileSync(join(this.dir, LOG_FILE), '');
  }

  append(line: LogLine): void {
    appendFileSync(join(this.dir, LOG_FILE), `${JSON.stringify(line)}\n`);
  }

  readHeader(): RunHeader {
    const path = join(this.dir, RUN_FILE);
    if (!existsSync(path)) throw new UsageError(`${this.dir} is not a hookbench results directory (no ${RUN_FILE})`);
    const parsed = RunHeaderSchema.safeParse(parseJson(readFileSync(path, 'utf8')));
    if (!parsed.success) throw new UsageError(`${path} is not a hookbench run header of schema version ${SCHEMA_VERSION}`);
    return parsed.data;
  }

  /** Log lines so far; a torn last line (the kill happened mid-write) is dropped. */
  readLog(): LogLine[] {
    const text = readFileSync(join(this.dir, LOG_FILE), 'utf8');
    return text.split('\n').flatMap((line) => {
      if (!line.trim()) return [];
      try {
        const parsed = LogLineSchema.safeParse(JSON.parse(line));
        return parsed.success ? [parsed.data] : [];
      } catch {
        return [];
      }
    });
  }

  /** The document, and beside it its JSON Schema, so readers in any language can validate it. */
  writeResults(results: Results): string {
    const path = join(this.dir, RESULTS_FILE);
    writeFileSync(path, JSON.stringify(ResultsSchema.parse(results), null, 1));
    writeFileSync(join(this.dir, SCHEMA_FILE), JSON.stringify(z.toJSONSchema(ResultsSchema), null, 1));
    return path;
  }
}

export const cellKey = (c: { mechanism: string; workload: string }) => `${c.mechanism} × ${c.workload}`;
