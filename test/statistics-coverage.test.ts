import { describe, expect, it } from 'vitest';
import { MACHINE_NOISE, simulateCell, simulateCoverage, type NoiseModel } from '../bench/coverageSimulation.js';
import { DEFAULT_OPTIONS } from '../bench/planner.js';
import type { RunOptions } from '../bench/results.js';
import { cellOptionsFrom, type CellOptions } from '../bench/statistics.js';

/**
 * Synthetic cells with a known true overhead and this machine's kinds of noise, through the real
 * stopping rule and CI code: the stored 95 % CIs must cover the truth at least 93 % of the time.
 */
const OPTIONS: RunOptions = { ...DEFAULT_OPTIONS, mechanisms: [], workloads: [] };
const CELLS = 1000;

describe('coverage of the stored CI after sequential stopping (simulation)', () => {
  it(`covers the true overhead in >= 93 % of ${CELLS} cells with two speed clusters, drift and outliers`, () => {
    const result = simulateCoverage(CELLS, MACHINE_NOISE, OPTIONS, 1);
    console.log(`simulated coverage at 95 %: ${result.covered}/${CELLS} = ${(100 * result.coverage).toFixed(1)} %`);
    expect(result.cells).toHaveLength(CELLS);
    expect(result.coverage).toBeGreaterThanOrEqual(0.93);
    // The stopping rule really stopped cells early for precision or a clear verdict, not only at max-time.
    expect(result.cells.filter((c) => c.stopReason === 'precision' || c.stopReason === 'decided').length).toBeGreaterThan(CELLS / 4);
  });

  it('holds on a quiet machine too, where cells stop early for precision', () => {
    const quiet: NoiseModel = { ...MACHINE_NOISE, slowCpuFactor: 0.3, strayRun: 0, outlier: 0.01, runSd: 0.01, driftAmplitude: 0.02 };
    const result = simulateCoverage(500, quiet, OPTIONS, 2);
    expect(result.cells.filter((c) => c.stopReason === 'precision').length).toBeGreaterThan(100);
    expect(result.coverage).toBeGreaterThanOrEqual(0.93);
  });

  it('holds where the hook costs more on one CPU than on the other (the true overhead is their average)', () => {
    const split: NoiseModel = { ...MACHINE_NOISE, cpuOverheadSplit: 0.25 };
    const result = simulateCoverage(500, split, OPTIONS, 4);
    console.log(`simulated coverage at 95 %, overhead split 25 % between the CPUs: ${result.covered}/500 = ${(100 * result.coverage).toFixed(1)} %`);
    expect(result.coverage).toBeGreaterThanOrEqual(0.93);
  });

  it('can fail: the same simulation finds intervals too narrow for their claim (80 % per look, a look after every block)', () => {
    const narrow: CellOptions = { ...cellOptionsFrom(OPTIONS, 1), looks: Array.from({ length: 40 }, (_, i) => i + 2), lookConfidence: 0.8, minRounds: 10 };
    const result = simulateCoverage(400, MACHINE_NOISE, OPTIONS, 3, narrow);
    expect(result.coverage).toBeLessThan(0.85);
  });

  it('is reproducible: the same seed gives the same cell', () => {
    expect(simulateCell(20, MACHINE_NOISE, cellOptionsFrom(OPTIONS, 1), 9)).toEqual(simulateCell(20, MACHINE_NOISE, cellOptionsFrom(OPTIONS, 1), 9));
    expect(simulateCell(20, MACHINE_NOISE, cellOptionsFrom(OPTIONS, 1), 9)).not.toEqual(simulateCell(20, MACHINE_NOISE, cellOptionsFrom(OPTIONS, 1), 10));
  });
});
