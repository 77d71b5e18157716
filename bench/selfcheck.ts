import { execa } from 'execa';
import { buildWorkloads, workloadArgv } from '../workloads/build.js';
import { calibrateIterations } from '../workloads/calibrate.js';
import { parseWorkloadLine, runUnderPerfStat } from './perfstat.js';
import { bootstrapCi, median } from './statistics.js';
import type { Estimate } from './results.js';

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
