import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { z } from 'zod';
import { EstimateSchema, ResultsSchema, SCHEMA_VERSION, type Results, upgradeResults, VerdictSchema } from '../bench/results.js';
import { cellTable } from '../reports/table.js';
import { ACCELS } from './qemu.js';

/**
 * The combined document of one `hookbench vm` invocation: what each kernel's VM did (boot time kept
 * apart from any measurement), and every cell of every kernel side by side. The cells are read back
 * from each kernel's results.json, never recomputed.
 */
/** 2: the overhead is results schema 2's (mean of block medians, t CI over blocks), with its blocks and spread. */
export const COMPARISON_VERSION = 2;
export const COMPARISON_FILE = 'comparison.json';

export const KernelRunSchema = z.object({
  /** As given to --kernel, resolved: a Debian package or a vmlinuz path. */
  kernel: z.string(),
  /** The guest's `uname -r` (from its results) or what the package says; null if unknown. */
  release: z.string().nullable(),
  /** Relative to the comparison's directory. */
  resultsDir: z.string(),
  accel: z.enum(ACCELS),
  memoryMiB: z.number().int(),
  cpus: z.number().int(),
  /** qemu start to guest command start; null if the guest never got there. */
  bootS: z.number().nullable(),
  runS: z.number().nullable(),
  guestExitCode: z.number().int().nullable(),
  /** Why this kernel has no results (panic, timeout, ...), with the console tail in the terminal output. */
  error: z.string().nullable(),
});
export type KernelRun = z.infer<typeof KernelRunSchema>;

export const ComparisonCellSchema = z.object({
  kernel: z.string(),
  release: z.string(),
  mechanism: z.string(),
  workload: z.string(),
  hookPoint: z.string(),
  verdict: VerdictSchema,
  /**
   * Overhead, %: mean over blocks of each block's median, with the stored CI (at the results' per-look
   * confidence, covering at the run's 95 %); null for cells without statistics (UNSUPPORTED, ERROR).
   */
  overheadPct: EstimateSchema.nullable(),
  /** Blocks the CI rests on and their standard deviation, pp; null without statistics. */
  blocks: z.number().int().nullable(),
  betweenBlockSdPp: z.number().nullable(),
  /** Runs that did not stay on one CPU (flagged, kept); null without statistics. */
  migratedRuns: z.number().int().nullable(),
  nsPerEvent: EstimateSchema.nullable(),
  eventsPerOp: z.number().nullable(),
  reason: z.string().nullable(),
});
export type ComparisonCell = z.infer<typeof ComparisonCellSchema>;

export const ComparisonSchema = z.object({
  comparisonVersion: z.literal(COMPARISON_VERSION),
  tool: z.literal('hookbench'),
  createdAt: z.string(),
  accelReason: z.string(),
  kernels: z.array(KernelRunSchema),
  cells: z.array(ComparisonCellSchema),
});
export type Comparison = z.infer<typeof ComparisonSchema>;

/** A kernel's results document, if its guest wrote one. */
export function readKernelResults(resultsDir: string): Results | null {
  const path = join(resultsDir, 'results.json');
  if (!existsSync(path)) return null;
  const document = upgradeResults(JSON.parse(readFileSync(path, 'utf8')));
  const version = (document as { schemaVersion?: unknown } | null)?.schemaVersion;
  if (typeof version === 'number' && version < SCHEMA_VERSION) {
    throw new Error(`${path}: written by an older hookbench (results schema version ${version}); re-measure with hookbench vm`);
  }
  const parsed = ResultsSchema.safeParse(document);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new Error(`${path}: invalid hookbench results at ${issue.path.join('.') || '(top)'}: ${issue.message}`);
  }
  return parsed.data;
}

function cellsOf(kernel: string, results: Results): ComparisonCell[] {
  return results.cells.map((c) => ({
    kernel,
    release: results.environment.kernelRelease,
    mechanism: c.mechanism,
    workload: c.workload,
    hookPoint: c.hookPoint,
    verdict: c.verdict,
    overheadPct: c.stats?.overheadMedian ?? null,
    blocks: c.stats?.blocks ?? null,
    betweenBlockSdPp: c.stats?.betweenBlockSd ?? null,
    migratedRuns: c.stats?.migratedRuns ?? null,
    nsPerEvent: c.stats?.nsPerEvent ?? null,
    eventsPerOp: c.stats?.eventsPerOp.median ?? null,
    reason: c.reason,
  }));
}

export interface KernelOutcome {
  run: Omit<KernelRun, 'resultsDir'>;
  /** Absolute path of the kernel's results directory. */
  dir: string;
  results: Results | null;
}

export function buildComparison(outDir: string, accelReason: string, outcomes: readonly KernelOutcome[]): Comparison {
  return {
    comparisonVersion: COMPARISON_VERSION,
    tool: 'hookbench',
    createdAt: new Date().toISOString(),
    accelReason,
    kernels: outcomes.map(({ run, dir, results }) => ({
      ...run,
      resultsDir: relative(outDir, dir) || '.',
      release: results?.environment.kernelRelease ?? run.release,
    })),
    cells: outcomes.flatMap(({ run, results }) => (results ? cellsOf(run.kernel, results) : [])),
  };
}

export function writeComparison(outDir: string, comparison: Comparison): string {
  const path = join(outDir, COMPARISON_FILE);
  writeFileSync(path, `${JSON.stringify(ComparisonSchema.parse(comparison), null, 1)}\n`);
  return path;
}

/** The terminal table: every kernel's cells in the project's cell table, one row per kernel x cell. */
export function comparisonTable(outcomes: readonly KernelOutcome[], colour: boolean): string | null {
  const results = outcomes.flatMap((o) => (o.results ? [o.results] : []));
  return results.length ? cellTable(results, { colour }) : null;
}

/** One line per kernel: boot time apart from the run, and what went wrong if anything did. */
export function kernelLines(comparison: Comparison): string[] {
  return comparison.kernels.map((k) => {
    const times = k.bootS === null ? 'no boot' : `boot ${k.bootS.toFixed(1)} s, run ${k.runS?.toFixed(1) ?? '-'} s`;
    const status = k.error ?? `guest exit ${k.guestExitCode}`;
    return `${k.kernel} (${k.release ?? 'release unknown'}, ${k.accel}, ${k.cpus} vCPU, ${k.memoryMiB} MiB): ${times}; ${status}`;
  });
}
