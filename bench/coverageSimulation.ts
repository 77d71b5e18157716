import type { Round, RunOptions, RunSample } from './results.js';
import { cellOptionsFrom, cellStats, ROUNDS_PER_BLOCK, seededRandom, shouldStop, type CellOptions } from './statistics.js';

/**
 * Does a cell's stored CI cover the true overhead as often as it claims, after the real stopping rule
 * picked when to stop? Synthetic cells with a known overhead and the kinds of noise measured on the
 * 2-vCPU machines hookbench runs on go through exactly what the runner does after each block:
 * cellStats, then shouldStop. Nothing here is a measurement of a kernel.
 */

export interface NoiseModel {
  /** How much slower the slow CPU is (two speed clusters: 0.35 = 1,400 vs 1,900 ns/op). */
  slowCpuFactor: number;
  /** Chance per block that the CPUs trade places (which one is slow changes over minutes). */
  cpuSwapPerBlock: number;
  /** Chance a run lands in the other speed cluster anyway (steal, a migration the pinning missed). */
  strayRun: number;
  /** Amplitude of the slow sinusoidal drift of the whole machine, as a fraction. */
  driftAmplitude: number;
  /** Run-to-run noise, sd of log(ns/op). */
  runSd: number;
  /** Chance a run is an outlier, slowed by 20 to 80 %. */
  outlier: number;
  /** How much more the hook costs on CPU 0 than the average, and less on CPU 1 (bpftrace's tracepoints: ~0.25). */
  cpuOverheadSplit: number;
}

/** Noise as seen on the development machines (kernel-facts.md, measured 2026-12-01). */
export const MACHINE_NOISE: NoiseModel = { slowCpuFactor: 0.35, cpuSwapPerBlock: 0.1, strayRun: 0.02, driftAmplitude: 0.05, runSd: 0.015, outlier: 0.03, cpuOverheadSplit: 0 };

export interface SimulatedCell {
  trueOverhead: number;
  ciLow: number;
  ciHigh: number;
  rounds: number;
  stopReason: string;
}

export interface CoverageResult {
  cells: SimulatedCell[];
  covered: number;
  /** Share of cells whose stored CI contains the true overhead. */
  coverage: number;
  confidence: number;
}

/** Seconds one simulated round takes (two ~200 ms runs plus the harness around them), for max-time. */
const SIMULATED_ROUND_S = 0.6;

function gaussian(random: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
}

/** One cell: blocks of rounds on alternating CPUs until the real stopping rule says stop. */
export function simulateCell(trueOverhead: number, noise: NoiseModel, cellOptions: CellOptions, seed: number): SimulatedCell {
  const random = seededRandom(seed);
  const period = 50 + 250 * random();
  const phase = 2 * Math.PI * random();
  const speeds = [1, 1 + noise.slowCpuFactor];
  const rounds: Round[] = [];
  let clock = 0;
  const run = (arm: RunSample['arm'], cpu: number): RunSample => {
    clock += 300;
    const cluster = random() < noise.strayRun ? 1 - cpu : cpu;
    const drift = 1 + noise.driftAmplitude * Math.sin((2 * Math.PI * clock) / (600 * period) + phase);
    const outlier = random() < noise.outlier ? 1.2 + 0.6 * random() : 1;
    const effect = arm === 'probed' ? 1 + (trueOverhead / 100) * (cpu === 0 ? 1 + noise.cpuOverheadSplit : 1 - noise.cpuOverheadSplit) : 1;
    const nsPerOp = 1500 * speeds[cluster]! * drift * outlier * effect * Math.exp(noise.runSd * gaussian(random));
    const ops = 100_000;
    return { arm, startedAt: clock, ops, ns: nsPerOp * ops, nsPerOp, perf: {}, cpuStart: cpu, cpuEnd: cpu, ...(arm === 'probed' ? { events: ops } : {}) };
  };
  for (let block = 0; ; block++) {
    if (random() < noise.cpuSwapPerBlock) speeds.reverse();
    const cpu = block % 2;
    for (let i = 0; i < ROUNDS_PER_BLOCK && rounds.length < cellOptions.maxRounds; i++) {
      const order: Round['order'] = random() < 0.5 ? ['baseline', 'probed'] : ['probed', 'baseline'];
      const [first, second] = order.map((arm) => run(arm, cpu));
      const byArm = first!.arm === 'baseline' ? { baseline: first!, probed: second! } : { baseline: second!, probed: first! };
      rounds.push({ index: rounds.length, block, cpu, order, ...byArm });
    }
    const measures = cellStats(rounds, cellOptions);
    const stop = shouldStop(measures, rounds.length * SIMULATED_ROUND_S, cellOptions);
    if (stop) return { trueOverhead, ciLow: measures.overheadMedian.ciLow, ciHigh: measures.overheadMedian.ciHigh, rounds: rounds.length, stopReason: stop };
  }
}

/** `count` cells with true overheads spread from -1 % to +60 %, each with its own seed. */
export function simulateCoverage(count: number, noise: NoiseModel, options: RunOptions, seed = 1, cellOptions = cellOptionsFrom(options, 1)): CoverageResult {
  const random = seededRandom(seed);
  const cells = Array.from({ length: count }, (_, i) => simulateCell(-1 + 61 * random(), noise, cellOptions, seed * 100_003 + i));
  const covered = cells.filter((c) => c.ciLow <= c.trueOverhead && c.trueOverhead <= c.ciHigh).length;
  return { cells, covered, coverage: covered / count, confidence: options.confidence };
}
