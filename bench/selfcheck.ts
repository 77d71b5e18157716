import { join } from 'node:path';
import { execa } from 'execa';
import { buildWorkloads, workloadArgv } from '../workloads/build.js';
import { calibrateIterations } from '../workloads/calibrate.js';
import { parseWorkloadLine, runUnderPerfStat } from './perfstat.js';
import { MACHINE_NOISE, simulateCoverage } from './coverageSimulation.js';
import { DEFAULT_OPTIONS } from './planner.js';
import { runMatrix, type ProgressEvent } from './runner.js';
import { bootstrapCi, median } from './statistics.js';
import type { Cell, Estimate, RunOptions } from './results.js';

export interface SelfCheck {
  workload: string;
  iterations: number;
  /** ns/op of the binary run bare, in a plain `sh` loop. */
  bare: number[];
  /** ns/op of the same binary run the way hookbench runs a baseline (under perf stat, from node). */
  harness: number[];
  /** Median harness / median bare - 1, %, with a bootstrap CI over interleaved block pairs. */
  perturbationPct: Estimate;
}

const BLOCK = 5;

/**
 * Does the harness perturb what it measures? Alternates blocks of bare runs from a shell loop with
 * blocks of harness baseline runs, so drift hits both sides alike, and compares their medians.
 */
export async function selfCheck(workload: string, blocks: number, runMs: number, seed: number): Promise<SelfCheck> {
  const built = await buildWorkloads();
  const harnessRun = async (n: number) => parseWorkloadLine((await runUnderPerfStat(workloadArgv(built, workload, n))).stdout);
  const iterations = await calibrateIterations(harnessRun, runMs);
  const argv = workloadArgv(built, workload, iterations);
  const bare: number[] = [];
  const harness: number[] = [];
  const ratios: number[] = [];
  for (let b = 0; b < blocks; b++) {
    const loop = await execa('sh', ['-c', `i=0; while [ $i -lt ${BLOCK} ]; do "$@"; i=$((i+1)); done`, 'sh', ...argv]);
    const bareBlock = loop.stdout.trim().split('\n').map((l) => perOp(parseWorkloadLine(l)));
    const harnessBlock: number[] = [];
    for (let i = 0; i < BLOCK; i++) harnessBlock.push(perOp(await harnessRun(iterations)));
    bare.push(...bareBlock);
    harness.push(...harnessBlock);
    ratios.push((median(harnessBlock) / median(bareBlock) - 1) * 100);
  }
  return { workload, iterations, bare, harness, perturbationPct: bootstrapCi(ratios, median, { seed }) };
}

const perOp = (l: { ops: number; ns: number }) => l.ns / l.ops;

export function formatSelfCheck(c: SelfCheck): string {
  const p = c.perturbationPct;
  return [
    `${c.workload}: ${c.iterations} ops per run, ${c.bare.length} bare runs (sh loop) and ${c.harness.length} harness runs, interleaved in blocks of ${BLOCK}`,
    `  bare     median ${median(c.bare).toFixed(1)} ns/op`,
    `  harness  median ${median(c.harness).toFixed(1)} ns/op`,
    `  harness vs bare: ${p.value >= 0 ? '+' : ''}${p.value.toFixed(2)} % (95 % CI ${p.ciLow.toFixed(2)} .. ${p.ciHigh.toFixed(2)})`,
  ].join('\n');
}

// ---------------------------------------------------------------------------------------------
// The `none` cell and the method's coverage

/** Least share of simulated cells whose 95 % CI must cover the true overhead. */
export const REQUIRED_COVERAGE = 0.93;
const SIMULATED_CELLS = 1000;

export interface NoneRepeat {
  outDir: string;
  cell: Cell;
  /** The stored CI of the overhead contains 0, as it must with nothing attached. */
  containsZero: boolean;
}

/**
 * The whole measuring procedure with nothing attached (the `none` mechanism), `repeats` times with
 * different seeds, each a run of its own in `outDir/none-<i>`: its CI must contain 0, in at least the
 * stated share of repeats. A harness that measured a difference where there is none would show here.
 */
export async function noneRepeats(
  options: Pick<RunOptions, 'workloads' | 'runMs' | 'maxTimeS' | 'cpus'>,
  repeats: number,
  outDir: string,
  run: { signal?: AbortSignal; onProgress?: (e: ProgressEvent) => void } = {},
): Promise<NoneRepeat[]> {
  const out: NoneRepeat[] = [];
  for (let i = 0; i < repeats; i++) {
    const dir = join(outDir, `none-${i + 1}`);
    const results = await runMatrix({ ...DEFAULT_OPTIONS, ...options, mechanisms: ['none'], seed: DEFAULT_OPTIONS.seed + i }, { outDir: dir, ...run });
    for (const cell of results.cells) {
      const o = cell.stats?.overheadMedian;
      out.push({ outDir: dir, cell, containsZero: o !== undefined && o.ciLow <= 0 && 0 <= o.ciHigh });
    }
  }
  return out;
}

/** The simulation of test/statistics-coverage.test.ts with the run's own stopping options. */
export function simulatedCoverage(options: Pick<RunOptions, 'precision' | 'budget' | 'minRounds' | 'maxRounds' | 'maxTimeS' | 'confidence'>) {
  return simulateCoverage(SIMULATED_CELLS, MACHINE_NOISE, { ...DEFAULT_OPTIONS, ...options, mechanisms: [], workloads: [] });
}

export function formatNoneRepeats(repeats: readonly NoneRepeat[]): string {
  const pp = (v: number) => `${v >= 0 ? '+' : ''}${v.toFixed(2)}`;
  const lines = repeats.map(({ cell, containsZero, outDir }) => {
    const s = cell.stats;
    if (!s) return `  ${cell.workload.padEnd(9)} ${cell.verdict}: ${cell.reason ?? ''} (${outDir})`;
    const o = s.overheadMedian;
    return `  ${cell.workload.padEnd(9)} ${pp(o.value)} % [${pp(o.ciLow)}, ${pp(o.ciHigh)}] over ${s.blocks} blocks (sd ${s.betweenBlockSd.toFixed(2)} pp)  ${containsZero ? 'contains 0' : 'MISSES 0'}  (${outDir})`;
  });
  const hits = repeats.filter((r) => r.containsZero).length;
  return [`none cell (nothing attached): CI contains 0 in ${hits} of ${repeats.length}`, ...lines].join('\n');
}

export function formatCoverage(c: ReturnType<typeof simulatedCoverage>): string {
  const ok = c.coverage >= REQUIRED_COVERAGE;
  return `simulated coverage of the stored ${c.confidence * 100} % CI (${c.cells.length} synthetic cells, this machine's kinds of noise, the real stopping rule): ${c.covered}/${c.cells.length} = ${(100 * c.coverage).toFixed(1)} %  ${ok ? 'ok' : `BELOW ${REQUIRED_COVERAGE * 100} %`}`;
}
