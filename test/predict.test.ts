import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { execa } from 'execa';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { onlineCpus } from '../bench/cpus.js';
import { UsageError } from '../bench/errors.js';
import { predictCommand, registerPredictCommand, type RawPredictOptions } from '../bench/predict.js';
import { comparisonCoverage, formatPredictReport } from '../bench/predict.js';
import {
  compareWithMeasured,
  MODEL_ERROR,
  mechanismCosts,
  predictOverhead,
  profileHookSets,
  syscallHookSet,
  windowResampler,
  type MechanismCosts,
  type Prediction,
} from '../bench/predictModel.js';
import { coverage, loadValidationFixture, modelErrorFromRows, validationCoverage, validationIntervals } from '../bench/predictValidation.js';
import type { Cell, Results, Round } from '../bench/results.js';
import { cellOptionsFrom, cellStats, coefficientOfVariation, decideVerdict, median, ROUNDS_PER_BLOCK, seededRandom } from '../bench/statistics.js';
import { parseCountingCsv, parseDuration, parseIntervalCsv, RATES_FORMAT, readRates, recordMachine, recordWorkload, type RatesWindow, type SyscallRates } from '../bench/syscallRates.js';
import { hookTargetFor } from '../probes/hookpoints.js';
import { ELKEID_DEFAULT } from '../probes/profiles.js';
import { buildWorkloads, workloadArgv } from '../workloads/build.js';
import { syntheticResults } from './fixtures/reports-synthetic.js';

/**
 * `hookbench predict`: the model's arithmetic on fixed inputs (costs made of rounds with
 * known added ns, rates with known counts), its bootstrap CI and verdict, the command's inputs, and
 * recording syscall rates for real on this machine.
 */

const scratch = mkdtempSync(join(tmpdir(), 'hookbench-predict-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/**
 * Rounds whose probed runs add `added[i]` ns per op to a baseline of `baselines[i]` ns (1000 unless
 * given; baseline then probed, so each probed run's neighbouring baselines are its own and the next
 * round's: with a constant baseline the added ns are exactly `added`), in blocks of ROUNDS_PER_BLOCK.
 */
function rounds(added: readonly number[], expectedPerOp: number, baselines?: readonly number[]): Round[] {
  let clock = 1_800_000_000_000;
  const run = (arm: 'baseline' | 'probed', nsPerOp: number) => ({
    arm,
    startedAt: (clock += 1000),
    ops: 1000,
    ns: nsPerOp * 1000,
    nsPerOp,
    perf: {},
    cpuStart: 0,
    cpuEnd: 0,
    ...(arm === 'probed' ? { events: expectedPerOp * 1000, inProgramNs: null } : {}),
  });
  return added.map((ns, index) => {
    const base = baselines?.[index] ?? 1000;
    const baseline = run('baseline', base);
    const probed = run('probed', base + ns);
    return { index, block: Math.floor(index / ROUNDS_PER_BLOCK), cpu: 0, order: ['baseline', 'probed'], baseline, probed };
  });
}

const RUN_OPTIONS = { ...syntheticResults({ mechanisms: ['tracepoint'], workloads: ['mprotect'], rounds: 3 }).options, minRounds: 2 };

function cell(mechanism: string, workload: string, added: readonly number[], baselines?: readonly number[]): Cell {
  const expectedPerOp = hookTargetFor(workload).expectedPerOp;
  const r = rounds(added, expectedPerOp, baselines);
  const options = cellOptionsFrom(RUN_OPTIONS, expectedPerOp);
  const measures = cellStats(r, options);
  const { verdict, reason } = decideVerdict(measures, options);
  return { mechanism, workload, hookPoint: '-', expectedEventsPerOp: expectedPerOp, iterations: 1000, warmup: [], rounds: r, stats: { ...measures, stopReason: 'precision' }, verdict, reason, elapsedS: 1 };
}

/** A valid results document (the envelope of the synthetic fixture) holding exactly these cells. */
function resultsWith(cells: Cell[]): Results {
  return { ...syntheticResults({ mechanisms: ['tracepoint'], workloads: ['mprotect'], rounds: 3 }), cells };
}

const FIXED_COSTS = resultsWith([
  cell('tracepoint', 'mprotect', [500, 500, 500, 500]),
  cell('tracepoint', 'null', [20, 20, 20, 20]),
  cell('tracepoint', 'execve', [5000, 5000, 5000, 5000]),
]);

const RATES: SyscallRates = {
  format: RATES_FORMAT,
  source: 'fixed',
  recordedAt: '2026-11-25T00:00:00Z',
  host: 'test',
  durationS: 1,
  cpuS: 1,
  ops: null,
  totalCalls: 10_000,
  calls: { execve: 100, mprotect: 1000, openat: 500, connect: 50 },
};

const OPTIONS = { budget: 5, resamples: 2000, confidence: 0.95, seed: 1 };
/** Components (b) to (d) switched off: the interval is the costs' alone. */
const COSTS_ONLY = { rates: false, driftCv: 0, model: { kind: 'additive-pp' as const, sd: 0 } };

describe('predict: the model on fixed inputs', () => {
  it('hooked calls at their own cell\'s cost (or mprotect\'s), every other call at the null cost, over CPU time', () => {
    const costs = mechanismCosts(FIXED_COSTS, 'tracepoint') as MechanismCosts;
    expect([...costs.hit.keys()].sort()).toEqual(['execve', 'mprotect']);
    const p = predictOverhead(RATES, costs, { name: 'set', mechanism: 'tracepoint', hits: new Map([['execve', 1], ['openat', 1]]) }, { ...OPTIONS, components: COSTS_ONLY });
    // 100 execve x 5000 ns + 500 openat x 500 ns (mprotect's) + (10000 - 600) other x 20 ns, per 1 CPU-s.
    const addedNs = 100 * 5000 + 500 * 500 + 9400 * 20;
    expect(p.overhead.value).toBeCloseTo((addedNs / 1e9) * 100, 10);
    // Constant costs: every resample gives the same prediction.
    expect(p.overhead.ciLow).toBeCloseTo(p.overhead.value, 10);
    expect(p.overhead.ciHigh).toBeCloseTo(p.overhead.value, 10);
    expect(p.verdict).toBe('PASS');
    expect(p.hookedPerCpuS).toBe(600);
    expect(p.otherPerCpuS).toBe(9400);
    expect(p.sources.sort()).toEqual(['tracepoint x execve', 'tracepoint x mprotect', 'tracepoint x null']);
  });

  it('a workload run: added time over its wall time, or its CPU time when it fills more than one CPU', () => {
    const costs = mechanismCosts(FIXED_COSTS, 'tracepoint') as MechanismCosts;
    const set = syscallHookSet('tracepoint', ['execve']);
    const machine = predictOverhead(RATES, costs, set, OPTIONS).overhead.value;
    const sequential = predictOverhead({ ...RATES, ops: 100, cpuS: 0.5, durationS: 1 }, costs, set, OPTIONS).overhead.value;
    const parallel = predictOverhead({ ...RATES, ops: 100, cpuS: 2, durationS: 1 }, costs, set, OPTIONS).overhead.value;
    expect(sequential).toBeCloseTo(machine, 10);
    expect(parallel).toBeCloseTo(machine / 2, 10);
  });

  it('a hook reached twice per call (execve: bprm_execve and commit_creds) costs twice', () => {
    const costs = mechanismCosts(FIXED_COSTS, 'tracepoint') as MechanismCosts;
    const once = predictOverhead(RATES, costs, { name: 'a', mechanism: 'tracepoint', hits: new Map([['execve', 1]]) }, OPTIONS);
    const twice = predictOverhead(RATES, costs, { name: 'b', mechanism: 'tracepoint', hits: new Map([['execve', 2]]) }, OPTIONS);
    expect(twice.overhead.value - once.overhead.value).toBeCloseTo(((100 * 5000) / 1e9) * 100, 10);
  });

  it('the costs\' CI comes from resampling the rounds: it holds the estimate, widens with noise, and decides the verdict', () => {
    const noisy = resultsWith([cell('audit', 'mprotect', [9000, 11000, 10000, 12000, 8000, 10500]), cell('audit', 'null', [100, 300, 200, 250, 150, 200])]);
    const costs = mechanismCosts(noisy, 'audit') as MechanismCosts;
    const rates = { ...RATES, cpuS: 0.5 };
    const OPTIONS = { budget: 5, resamples: 2000, confidence: 0.95, seed: 1, components: COSTS_ONLY };
    const p = predictOverhead(rates, costs, syscallHookSet('audit', ['mprotect']), OPTIONS);
    // 1000 x median 10250 + 9000 x median 200, per 0.5 CPU-s.
    expect(p.overhead.value).toBeCloseTo(((1000 * 10250 + 9000 * 200) / 0.5e9) * 100, 10);
    expect(p.overhead.ciLow).toBeLessThan(p.overhead.value);
    expect(p.overhead.ciHigh).toBeGreaterThan(p.overhead.value);
    expect(p.verdict).toBe('PASS');
    expect(predictOverhead(rates, costs, syscallHookSet('audit', ['mprotect']), { ...OPTIONS, budget: 1 }).verdict).toBe('FAIL');
    expect(predictOverhead(rates, costs, syscallHookSet('audit', ['mprotect']), { ...OPTIONS, budget: p.overhead.value }).verdict).toBe('INCONCLUSIVE');
    // Same seed, same CI.
    expect(predictOverhead(rates, costs, syscallHookSet('audit', ['mprotect']), OPTIONS).overhead).toEqual(p.overhead);
  });

  it('falls back to the open cell\'s cost where the mprotect cell is unusable', () => {
    const invalid = { ...cell('audit', 'mprotect', [1, 2]), verdict: 'INVALID' as const };
    const costs = mechanismCosts(resultsWith([invalid, cell('audit', 'open', [700, 700]), cell('audit', 'null', [5, 5])]), 'audit') as MechanismCosts;
    expect(costs.defaultHit.cell).toBe('audit x open');
  });

  it('says which cells a mechanism lacks instead of predicting', () => {
    expect(mechanismCosts(resultsWith([cell('audit', 'mprotect', [1, 2])]), 'audit')).toEqual({ missing: 'audit: the results hold no usable null cell' });
    expect(mechanismCosts(FIXED_COSTS, 'kprobe')).toEqual({ missing: 'kprobe: the results hold no usable mprotect, open, execve and null cell' });
  });

  it('profile hook sets: syscalls at the syscall layer, reached-by at the function layer', () => {
    const sets = new Map(profileHookSets(ELKEID_DEFAULT).map((s) => [s.name, s]));
    const tp = sets.get('elkeid-default/tracepoint')!;
    expect(tp.mechanism).toBe('tracepoint');
    expect(tp.hits.get('openat')).toBe(1);
    expect(tp.hits.get('renameat2')).toBe(1);
    expect(tp.hits.has('commit_creds' as never)).toBe(false);
    const kp = sets.get('elkeid-default/kprobe')!;
    // execve reaches bprm_execve (execve hook) and commit_creds (update_cred hook).
    expect(kp.hits.get('execve')).toBe(2);
    expect(kp.hits.has('openat')).toBe(false);
  });

  it('puts each prediction beside the measured cell of the recorded workload', () => {
    const measured = resultsWith([...FIXED_COSTS.cells, cell('tracepoint', 'hids-mix', [30, 30, 30])]);
    const costs = mechanismCosts(measured, 'tracepoint') as MechanismCosts;
    const p = predictOverhead(RATES, costs, syscallHookSet('tracepoint', ['execve']), OPTIONS);
    const [c] = compareWithMeasured([p], measured, 'hids-mix');
    expect(c!.measured!.value).toBeCloseTo(3, 10);
    expect(c!.errorPp).toBeCloseTo(p.overhead.value - 3, 10);
    expect(compareWithMeasured([p], measured, 'build')[0]!.measured).toBeNull();
  });
});

/** The prediction interval before prediction intervals had their own components: each source's rounds resampled, medians taken, percentiles (the old code, verbatim in effect). */
function oldBootstrapCi(rates: SyscallRates, costs: MechanismCosts, set: { hits: Map<string, number> }, resamples: number, seed: number): { ciLow: number; ciHigh: number } {
  const sourceOf = (s: string) => costs.hit.get(s as never) ?? costs.defaultHit;
  const used = [...new Set([...[...set.hits.keys()].map(sourceOf), costs.collateral])];
  const random = seededRandom(seed);
  const draws: number[] = [];
  for (let b = 0; b < resamples; b++) {
    const drawn = new Map(used.map((src) => [src, median(Array.from({ length: src.perRound.length }, () => src.perRound[Math.floor(random() * src.perRound.length)]!))]));
    let hooked = 0;
    let hookedCalls = 0;
    for (const [s, hits] of set.hits) {
      hooked += (rates.calls[s] ?? 0) * hits * drawn.get(sourceOf(s))!;
      hookedCalls += rates.calls[s] ?? 0;
    }
    draws.push(((hooked + (rates.totalCalls - hookedCalls) * drawn.get(costs.collateral)!) / (rates.cpuS * 1e9)) * 100);
  }
  draws.sort((a, b) => a - b);
  return { ciLow: draws[Math.floor(0.025 * resamples)]!, ciHigh: draws[Math.floor(0.975 * resamples)]! };
}

const Z = 1.959963984540054;
const NOISY = resultsWith([
  cell('tracepoint', 'mprotect', [400, 650, 500, 550, 450, 700, 380, 520, 610, 480]),
  cell('tracepoint', 'null', [10, 30, 20, 25, 15, 20, 18, 22, 35, 12]),
  cell('tracepoint', 'execve', [5000, 5000, 5000, 5000]),
]);

/** Windows of a recording whose hooked calls (execve) per window are `execve[i]`, nothing else, 0.1 s each. */
function windowed(execve: readonly number[], cpuS: (i: number) => number | null = () => null): SyscallRates {
  const windows: RatesWindow[] = execve.map((n, i) => ({ durationS: 0.1, cpuS: cpuS(i), totalCalls: n, calls: { execve: n } }));
  const total = execve.reduce((a, b) => a + b, 0);
  return { ...RATES, ops: null, durationS: 0.1 * execve.length, cpuS: 0.1 * execve.length, totalCalls: total, calls: { execve: total }, windows };
}

describe('predict: the prediction interval (costs, rates, drift, model error)', () => {
  const set = syscallHookSet('tracepoint', ['execve', 'mprotect']);
  const noisyCosts = mechanismCosts(NOISY, 'tracepoint') as MechanismCosts;
  const widthOf = (e: { ciLow: number; ciHigh: number }) => e.ciHigh - e.ciLow;
  const share = (p: Prediction, c: string) => p.components.find((x) => x.component === c)!;

  it('with every extra component zero it is the cost-only interval, and that is exactly the old bootstrap', () => {
    const p = predictOverhead(RATES, noisyCosts, set, { ...OPTIONS, components: COSTS_ONLY });
    expect(p.overhead).toEqual(p.costOnly);
    const old = oldBootstrapCi(RATES, noisyCosts, set, OPTIONS.resamples, OPTIONS.seed);
    expect(p.costOnly.ciLow).toBe(old.ciLow);
    expect(p.costOnly.ciHigh).toBe(old.ciHigh);
    expect(share(p, 'cost').share).toBe(1);
    // A recording without windows (older files), and cells whose baseline never moved, add nothing either.
    const measured = predictOverhead(RATES, noisyCosts, set, { ...OPTIONS, components: { model: { kind: 'additive-pp', sd: 0 } } });
    expect(measured.uncertainty.rateWindows).toBe(0);
    expect(measured.uncertainty.driftCv).toBe(0);
    expect(measured.overhead).toEqual(p.costOnly);
  });

  it('is wider than the costs\' interval exactly by the components given', () => {
    const constant = mechanismCosts(FIXED_COSTS, 'tracepoint') as MechanismCosts;
    const options = { ...OPTIONS, resamples: 40_000 };
    // Model error alone, additive: value -/+ 1.96 sd.
    const additive = predictOverhead(RATES, constant, set, { ...options, components: { ...COSTS_ONLY, model: { kind: 'additive-pp', sd: 2 } } });
    const v = additive.overhead.value;
    expect(widthOf(additive.costOnly)).toBe(0);
    expect(additive.overhead.ciLow).toBeCloseTo(v - Z * 2, 1);
    expect(additive.overhead.ciHigh).toBeCloseTo(v + Z * 2, 1);
    expect(share(additive, 'model').share).toBe(1);
    // Model error as a factor: value x exp(-/+ 1.96 sd).
    const factor = predictOverhead(RATES, constant, set, { ...options, components: { ...COSTS_ONLY, model: { kind: 'log-ratio', sd: 0.5 } } });
    expect(factor.overhead.ciLow / v).toBeCloseTo(Math.exp(-Z * 0.5), 2);
    expect(factor.overhead.ciHigh / v).toBeCloseTo(Math.exp(Z * 0.5), 2);
    // Drift alone: value x exp(-/+ 1.96 sqrt(2) cv).
    const drift = predictOverhead(RATES, constant, set, { ...options, components: { ...COSTS_ONLY, driftCv: 0.1 } });
    expect(drift.overhead.ciLow / v).toBeCloseTo(Math.exp(-Z * Math.SQRT2 * 0.1), 2);
    expect(drift.overhead.ciHigh / v).toBeCloseTo(Math.exp(Z * Math.SQRT2 * 0.1), 2);
    expect(share(drift, 'drift').share).toBe(1);
    // Costs and an additive model error together: the squared widths add (within simulation error).
    const both = predictOverhead(RATES, noisyCosts, set, { ...options, components: { ...COSTS_ONLY, model: { kind: 'additive-pp', sd: 0.02 } } });
    const costWidth = widthOf(both.costOnly);
    expect(share(both, 'cost').widthPp).toBeCloseTo(costWidth, 10);
    expect(share(both, 'model').widthPp).toBeCloseTo(2 * Z * 0.02, 3);
    expect(widthOf(both.overhead) / Math.hypot(costWidth, 2 * Z * 0.02)).toBeGreaterThan(0.93);
    expect(widthOf(both.overhead) / Math.hypot(costWidth, 2 * Z * 0.02)).toBeLessThan(1.07);
    expect(both.overhead.ciLow).toBeLessThan(both.costOnly.ciLow);
    expect(both.overhead.ciHigh).toBeGreaterThan(both.costOnly.ciHigh);
    expect(both.components.reduce((sum, c) => sum + c.share, 0)).toBeCloseTo(1, 10);
    // Same seed, same interval.
    expect(predictOverhead(RATES, noisyCosts, set, { ...options, components: { ...COSTS_ONLY, model: { kind: 'additive-pp', sd: 0.02 } } }).overhead).toEqual(both.overhead);
  });

  it('rates: resampling the recording\'s windows widens by the spread of the windows\' rate, nothing when every window is alike', () => {
    const constant = mechanismCosts(FIXED_COSTS, 'tracepoint') as MechanismCosts;
    const execveOnly = syscallHookSet('tracepoint', ['execve']);
    const options = { ...OPTIONS, resamples: 40_000, components: { driftCv: 0, model: { kind: 'additive-pp' as const, sd: 0 } } };
    const alike = predictOverhead(windowed(Array(20).fill(50)), constant, execveOnly, options);
    expect(alike.uncertainty.rateWindows).toBe(20);
    expect(alike.overhead).toEqual(alike.costOnly);
    // 40 windows of 0.1 s, execve 30, 32, ..., 108: only execve is called, so the prediction is 5000 ns x
    // the mean rate; resampled, the mean of 40 windows has sd = (population sd of the windows) / sqrt(40).
    const calls = Array.from({ length: 40 }, (_, i) => 30 + 2 * i);
    const p = predictOverhead(windowed(calls), constant, execveOnly, options);
    const mean = calls.reduce((a, b) => a + b, 0) / 40;
    const relSd = Math.sqrt(calls.reduce((a, c) => a + (c - mean) ** 2, 0) / 40) / Math.sqrt(40) / mean;
    expect(p.overhead.value).toBeCloseTo(((calls.reduce((a, b) => a + b, 0) * 5000) / 4e9) * 100, 10);
    expect(widthOf(p.overhead) / (2 * Z * relSd * p.overhead.value)).toBeGreaterThan(0.95);
    expect(widthOf(p.overhead) / (2 * Z * relSd * p.overhead.value)).toBeLessThan(1.05);
    expect(share(p, 'rates').share).toBe(1);
  });

  it('rates of a machine recording are per busy CPU-second: windows busy in proportion to their calls do not move the prediction', () => {
    const calls = Array.from({ length: 20 }, (_, i) => 10 + 5 * i);
    const resample = windowResampler(windowed(calls, (i) => calls[i]! / 1000).windows, ['execve'])!;
    const random = seededRandom(3);
    const total = calls.reduce((a, b) => a + b, 0);
    for (let k = 0; k < 20; k++) expect(resample(random).calls.execve).toBeCloseTo(total, 6);
    expect(windowResampler(undefined, ['execve'])).toBeNull();
    expect(windowResampler(windowed([5]).windows, ['execve'])).toBeNull();
  });

  it('drift: the source cells\' baseline spread, between blocks where a cell has three or more, else between rounds', () => {
    const baselines = [900, 1100, 900, 1100, 900, 1100, 900, 1100];
    const between = resultsWith([
      cell('tracepoint', 'mprotect', [500, 500, 500, 500, 500, 500, 500, 500], baselines),
      cell('tracepoint', 'null', [20, 20, 20, 20, 20, 20, 20, 20]),
    ]);
    const roundCosts = mechanismCosts(between, 'tracepoint') as MechanismCosts;
    expect(roundCosts.defaultHit.baselineSpread).toBe('between-round');
    const p = predictOverhead(RATES, roundCosts, syscallHookSet('tracepoint', ['mprotect']), OPTIONS);
    const cv = coefficientOfVariation(baselines);
    // RMS over the two source cells, the null cell's baseline never moved.
    expect(p.uncertainty.driftCv).toBeCloseTo(Math.sqrt((cv ** 2 + 0) / 2), 12);
    // Three blocks of five whose medians are 1000, 1200, 800 (the rounds inside a block vary too).
    const blocked = [990, 1000, 1010, 1000, 1000, 1190, 1200, 1210, 1200, 1200, 790, 800, 810, 800, 800];
    const blockCosts = mechanismCosts(resultsWith([cell('tracepoint', 'mprotect', Array(15).fill(500), blocked), cell('tracepoint', 'null', Array(15).fill(20))]), 'tracepoint') as MechanismCosts;
    expect(blockCosts.defaultHit.baselineSpread).toBe('between-block');
    expect(blockCosts.defaultHit.baselineCv).toBeCloseTo(coefficientOfVariation([1000, 1200, 800]), 12);
  });

  it('model error: audit\'s family is a factor, every other mechanism\'s additive; the verdict is the full interval\'s', () => {
    const constant = mechanismCosts(FIXED_COSTS, 'tracepoint') as MechanismCosts;
    const p = predictOverhead(RATES, constant, syscallHookSet('tracepoint', ['execve']), OPTIONS);
    expect(p.uncertainty.family).toBe('tracepoint-family');
    expect(p.uncertainty.model.sd).toBe(MODEL_ERROR['tracepoint-family'].sd);
    expect(p.costOnly.ciHigh).toBeLessThan(0.1);
    // 0.05 % with its 1.47 pp model error reaches past 2 %: not PASS against a 2 % budget, where the costs alone said PASS.
    expect(predictOverhead(RATES, constant, syscallHookSet('tracepoint', ['execve']), { ...OPTIONS, budget: 2 }).verdict).toBe('INCONCLUSIVE');
    expect(predictOverhead(RATES, constant, syscallHookSet('tracepoint', ['execve']), { ...OPTIONS, budget: 2, components: COSTS_ONLY }).verdict).toBe('PASS');
    const audit = profileHookSets(ELKEID_DEFAULT).find((s) => s.mechanism === 'audit')!;
    const auditCosts = mechanismCosts(resultsWith(['mprotect', 'null', 'execve'].map((w) => cell('audit', w, [9000, 9000, 9000]))), 'audit') as MechanismCosts;
    const a = predictOverhead(RATES, auditCosts, audit, OPTIONS);
    expect(a.uncertainty.family).toBe('audit');
    expect(a.overhead.ciLow / a.overhead.value).toBeCloseTo(Math.exp(-Z * MODEL_ERROR.audit.sd), 1);
  });

  it('the report names each component\'s share and the model error\'s source', () => {
    const p = predictOverhead(windowed(Array.from({ length: 20 }, (_, i) => (i % 2 ? 30 : 70))), noisyCosts, set, OPTIONS);
    const text = formatPredictReport({ rates: windowed([1, 2]), costsFrom: 'x', budget: 5, comparisons: [{ prediction: p, measured: null, errorPp: null }], skipped: [] });
    expect(text).toMatch(/cost \d+% rates \d+% drift \d+% model \d+%/);
    expect(text).toContain(`model error, tracepoint-family: sd 1.47 pp (${MODEL_ERROR['tracepoint-family'].from})`);
    expect(text).not.toMatch(/^coverage/m);
    expect(p.components.map((c) => c.component)).toEqual(['cost', 'rates', 'drift', 'model']);
  });
});

describe('predict: coverage in validation', () => {
  it('counts measured medians inside the interval (bounds included) and measured CIs overlapping it', () => {
    const c = coverage([
      { name: 'inside', interval: { ciLow: 0, ciHigh: 2 }, measured: { value: 1, ciLow: 0.5, ciHigh: 1.5 } },
      { name: 'on the bound', interval: { ciLow: 0, ciHigh: 2 }, measured: 2 },
      { name: 'outside, CI overlapping', interval: { ciLow: 0, ciHigh: 2 }, measured: { value: 3, ciLow: 1.9, ciHigh: 4 } },
      { name: 'outside', interval: { ciLow: 0, ciHigh: 2 }, measured: { value: -1, ciLow: -2, ciHigh: -0.1 } },
      { name: 'a bare value outside', interval: { ciLow: 0, ciHigh: 2 }, measured: 2.01 },
    ]);
    expect(c).toMatchObject({ total: 5, inside: 2, overlapping: 3 });
    expect(c.rows.filter((r) => r.inside).map((r) => r.name)).toEqual(['inside', 'on the bound']);
  });

  it('predict\'s comparisons: coverage of the prediction intervals and of the costs alone', () => {
    const measured = resultsWith([...NOISY.cells, cell('tracepoint', 'hids-mix', [20, 20, 20])]);
    const costs = mechanismCosts(measured, 'tracepoint') as MechanismCosts;
    const p = predictOverhead(RATES, costs, syscallHookSet('tracepoint', ['execve']), OPTIONS);
    const cov = comparisonCoverage(compareWithMeasured([p], measured, 'hids-mix'))!;
    // Measured 2 %: outside the costs' interval around 0.07 %, inside 0.07 -/+ 1.96 x 1.47 pp.
    expect(cov.costOnly).toMatchObject({ inside: 0, total: 1 });
    expect(cov.interval).toMatchObject({ inside: 1, total: 1 });
    expect(comparisonCoverage(compareWithMeasured([p], measured, 'build'))).toBeNull();
  });

  const loaded = loadValidationFixture(fileURLToPath(new URL('./fixtures/predict-validation.json', import.meta.url)));

  it('the model error figures are the fixture\'s model-error rows (not its 16 coverage rows)', () => {
    const fitted = modelErrorFromRows(loaded.fixture);
    expect(MODEL_ERROR['tracepoint-family'].sd).toBeCloseTo(fitted['tracepoint-family'], 2);
    expect(MODEL_ERROR.audit.sd).toBeCloseTo(fitted.audit, 2);
    const key = (r: { prediction: string }) => r.prediction;
    expect(loaded.fixture.rows).toHaveLength(16);
    expect(loaded.fixture.modelErrorRows.rows.map(key).every((k) => ['tracepoint', 'elkeid-default/tracepoint', 'audit', 'elkeid-default/audit'].includes(k))).toBe(true);
  });

  it('the docs\' 16 rows: the old CIs hold 5 measured medians, the prediction intervals at least 12 (as documented)', () => {
    const rows = validationIntervals(loaded, { resamples: 10_000, seed: 1 });
    const { old, new: now } = validationCoverage(rows);
    for (const r of rows) {
      console.log(
        `${`${r.prediction} x ${r.workload}`.padEnd(38)} old [${r.old.ciLow}, ${r.old.ciHigh}]  new [${r.interval.ciLow.toFixed(2)}, ${r.interval.ciHigh.toFixed(2)}]  measured ${r.measured.value}  ` +
          r.interval.components.map((c) => `${c.component} ${Math.round(c.share * 100)}%`).join(' '),
      );
    }
    console.log(`coverage: old ${old.inside}/16, new ${now.inside}/16; CIs overlapping: old ${old.overlapping}/16, new ${now.overlapping}/16`);
    expect(old.inside).toBe(5);
    expect(now.inside).toBeGreaterThanOrEqual(12);
    expect(now.overlapping).toBe(16);
    // Every new interval holds the old one.
    for (const r of rows) {
      expect(r.interval.ciLow).toBeLessThanOrEqual(r.old.ciLow);
      expect(r.interval.ciHigh).toBeGreaterThanOrEqual(r.old.ciHigh);
    }
    // The misses are the rows whose own measurement is ten or more points wide.
    for (const miss of rows.filter((_, i) => !now.rows[i]!.inside)) expect(miss.measured.ciHigh - miss.measured.ciLow).toBeGreaterThan(10);
  });
});

describe('predict: the command', () => {
  const resultsDir = join(scratch, 'results');
  mkdirSync(resultsDir);
  writeFileSync(join(resultsDir, 'results.json'), JSON.stringify(resultsWith([...FIXED_COSTS.cells, cell('audit', 'mprotect', [1, 2])])));
  const ratesFile = join(scratch, 'rates.json');
  writeFileSync(ratesFile, JSON.stringify(RATES));
  const base: RawPredictOptions = { results: resultsDir, rates: ratesFile, profile: 'elkeid-default', budget: '5', resamples: '1000', seed: '1' };

  it('predicts the profile\'s realisations that have costs and the single mechanisms on --syscalls, and names the rest', async () => {
    const report = await predictCommand({ ...base, syscalls: 'execve,openat' });
    const names = report.comparisons.map((c) => c.prediction.name);
    expect(names).toEqual(['tracepoint', 'elkeid-default/tracepoint']);
    expect(report.skipped).toContain('audit: audit: the results hold no usable null cell');
    expect(report.skipped).toContain('elkeid-default/kprobe: kprobe: the results hold no usable mprotect, open, execve and null cell');
  });

  it('prints a table through the registered command, exit code as run\'s (0: every prediction passes)', async () => {
    let code = -1;
    const program = registerPredictCommand(new Command().exitOverride(), (c) => (code = c)).parent!;
    const out: string[] = [];
    const spy = vi.spyOn(process.stdout, 'write').mockImplementation((s) => (out.push(String(s)), true));
    try {
      await program.parseAsync(['predict', '--results', resultsDir, '--rates', ratesFile, '--mechanisms', 'tracepoint'], { from: 'user' });
    } finally {
      spy.mockRestore();
    }
    expect(out.join('')).toMatch(/^elkeid-default\/tracepoint\s+\d+\s+\+0\.\d\d \[/m);
    expect(code).toBe(0);
  });

  const refused: [string, Partial<RawPredictOptions>, RegExp][] = [
    ['no source of rates', { rates: undefined }, /exactly one of --record/],
    ['two sources', { record: '10s' }, /exactly one of/],
    ['a bad duration', { rates: undefined, record: '10 minutes' }, /--record must be a duration/],
    ['an unknown workload', { rates: undefined, workload: 'nope' }, /unknown workload 'nope'/],
    ['a syscall outside the table', { syscalls: 'execve;reboot' }, /--syscalls: invalid syscall/],
    ['an unknown profile', { profile: 'elkeid-sandbox' }, /unknown profile/],
    ['a rates file that is not one', { rates: join(resultsDir, 'results.json') }, /not a hookbench rates file/],
    ['no results', { results: join(scratch, 'none') }, /no such file or directory/],
    ['a bad budget', { budget: '5%' }, /--budget must be a number/],
  ];
  it.each(refused)('refuses %s with one line (exit 2)', async (_what, change, message) => {
    const err = await predictCommand({ ...base, ...change }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect(['UsageError', 'ResultsInputError']).toContain((err as Error).constructor.name);
    expect((err as Error).message).toMatch(message);
  });

  it('parses durations and perf counting output strictly', () => {
    expect(parseDuration('10s')).toBe(10);
    expect(parseDuration('2.5')).toBe(2.5);
    expect(() => parseDuration('0s')).toThrow(UsageError);
    expect(() => parseDuration('-1s')).toThrow(UsageError);
    const csv = '# started\n\n12,,syscalls:sys_enter_execve,100,100.00,,\n<not counted>,,raw_syscalls:sys_enter,0,0,,\n';
    expect(() => parseCountingCsv(csv, ['syscalls:sys_enter_execve', 'raw_syscalls:sys_enter'])).toThrow(/not counted/);
    expect(parseCountingCsv(csv, ['syscalls:sys_enter_execve']).get('syscalls:sys_enter_execve')).toBe(12);
    expect(() => parseCountingCsv(csv, ['syscalls:sys_enter_mount'])).toThrow(/no count for syscalls:sys_enter_mount/);
    // perf stat -I: time,value,unit,event,... grouped by interval.
    const intervals = '# started\n\n     0.100200439,4,,syscalls:sys_enter_execve,9094552,100.00,,\n     0.100200439,616,,raw_syscalls:sys_enter,9094552,100.00,,\n' +
      '     0.279228200,2,,syscalls:sys_enter_execve,3728742,100.00,,\n     0.279228200,283,,raw_syscalls:sys_enter,3728742,100.00,,\n';
    const parsed = parseIntervalCsv(intervals, ['syscalls:sys_enter_execve', 'raw_syscalls:sys_enter']);
    expect(parsed.map((i) => [i.endS, i.counts.get('syscalls:sys_enter_execve'), i.counts.get('raw_syscalls:sys_enter')])).toEqual([[0.100200439, 4, 616], [0.2792282, 2, 283]]);
    expect(() => parseIntervalCsv(intervals, ['syscalls:sys_enter_mount'])).toThrow(/no intervals/);
    expect(() => parseIntervalCsv(`${intervals}     0.3,5,,syscalls:sys_enter_execve,1,100.00,,\n`, ['syscalls:sys_enter_execve', 'raw_syscalls:sys_enter'])).toThrow(/no count for raw_syscalls:sys_enter at 0.3 s/);
    // An interval perf counted nothing in (the process had exited) is dropped; one counted in part is refused.
    const exited = `${intervals}     0.3,<not counted>,,syscalls:sys_enter_execve,0,0,,\n     0.3,<not counted>,,raw_syscalls:sys_enter,0,0,,\n`;
    expect(parseIntervalCsv(exited, ['syscalls:sys_enter_execve', 'raw_syscalls:sys_enter'])).toEqual(parsed);
    const partly = `${intervals}     0.3,5,,syscalls:sys_enter_execve,1,100.00,,\n     0.3,<not counted>,,raw_syscalls:sys_enter,0,0,,\n`;
    expect(() => parseIntervalCsv(partly, ['syscalls:sys_enter_execve', 'raw_syscalls:sys_enter'])).toThrow(/no count for raw_syscalls:sys_enter at 0.3 s/);
    expect(() => parseIntervalCsv('  0.1,<not counted>,,raw_syscalls:sys_enter,0,0,,\n', ['raw_syscalls:sys_enter'])).toThrow(/no intervals/);
    expect(() => parseIntervalCsv('  0.1,<not supported>,,raw_syscalls:sys_enter,0,0,,\n', ['raw_syscalls:sys_enter'])).toThrow(/not counted/);
  });

  it('reads a recording made before windows were kept: its rates count as exact', () => {
    const old = join(scratch, 'old-rates.json');
    writeFileSync(old, JSON.stringify(RATES));
    const rates = readRates(old);
    expect(rates.windows).toBeUndefined();
    const p = predictOverhead(rates, mechanismCosts(FIXED_COSTS, 'tracepoint') as MechanismCosts, syscallHookSet('tracepoint', ['execve']), OPTIONS);
    expect(p.uncertainty.rateWindows).toBe(0);
    expect(p.components.find((c) => c.component === 'rates')!.widthPp).toBe(0);
  });
});

describe('predict: recording syscall rates for real on this machine', () => {
  it('--record: every CPU, every process, while a hids-mix runs beside it', async () => {
    const built = await buildWorkloads();
    const [bin, ...args] = workloadArgv(built, 'hids-mix', 300);
    const recording = recordMachine(1.5);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const workload = await execa(bin!, args);
    const rates = await recording;
    console.log(`--record 1.5s: ${rates.totalCalls} syscalls, ${rates.cpuS} CPU-s busy, execve ${rates.calls.execve}, connect ${rates.calls.connect}, mount ${rates.calls.mount}`);
    expect(workload.exitCode).toBe(0);
    expect(rates.durationS).toBeGreaterThanOrEqual(1.45);
    expect(rates.cpuS).toBeGreaterThan(0);
    // Busy CPU time cannot exceed every online CPU busy for the whole window.
    expect(rates.cpuS).toBeLessThanOrEqual(rates.durationS * onlineCpus().length + 0.05);
    // The part of the workload's 300 ops that fell inside the window: some, never more than all.
    expect(rates.calls.mount).toBeGreaterThan(0);
    expect(rates.calls.connect).toBeGreaterThanOrEqual(2 * rates.calls.mount! - 4);
    expect(rates.totalCalls).toBeGreaterThan(Object.values(rates.calls).reduce((a, b) => a + b, 0));
    // Windows (perf stat -I, about 15 of 0.1 s here): they add up to the totals, their CPU time is the recording's.
    expect(rates.windows!.length).toBeGreaterThanOrEqual(10);
    expect(rates.windows!.reduce((n, w) => n + w.totalCalls, 0)).toBe(rates.totalCalls);
    expect(rates.windows!.reduce((n, w) => n + w.calls.mount!, 0)).toBe(rates.calls.mount);
    expect(rates.windows!.reduce((n, w) => n + w.cpuS!, 0)).toBeCloseTo(rates.cpuS, 9);
    expect(rates.durationS).toBeLessThan(1.5 + 0.3);
  });

  it('--workload: one run\'s process tree, its mix times its ops (plus set-up)', async () => {
    const rates = await recordWorkload(await buildWorkloads(), 'hids-mix', 40);
    expect(rates.ops).toBe(40);
    const mix = hookTargetFor('hids-mix').mix!;
    for (const [s, perOp] of Object.entries(mix)) {
      expect(rates.calls[s]! - 40 * perOp!, s).toBeGreaterThanOrEqual(0);
      expect(rates.calls[s]! - 40 * perOp!, s).toBeLessThanOrEqual(3);
      expect(rates.windows!.reduce((n, w) => n + w.calls[s]!, 0), s).toBe(rates.calls[s]);
    }
    expect(rates.windows!.every((w) => w.cpuS === null && w.durationS > 0)).toBe(true);
    expect(rates.cpuS).toBeGreaterThan(0);
  });
});
