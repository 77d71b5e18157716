import { describe, expect, it } from 'vitest';
import { CellStatsSchema, type Round, type RunSample } from '../bench/results.js';
import { studentTQuantile } from '../bench/studentT.js';
import {
  addedNsPerRound,
  blockCi,
  bootstrapCi,
  cellStats,
  cpuDifference,
  decideVerdict,
  exitCodeFor,
  invalidReason,
  mean,
  median,
  outlierIndices,
  overheadPerRound,
  seededRandom,
  sequentialPlan,
  shouldStop,
  type CellMeasures,
  type CellOptions,
} from '../bench/statistics.js';

const OPS = 1000;

function run(arm: RunSample['arm'], startedAt: number, nsPerOp: number, extra: Partial<RunSample> = {}): RunSample {
  return { arm, startedAt, ops: OPS, ns: nsPerOp * OPS, nsPerOp, perf: {}, cpuStart: 1, cpuEnd: 1, ...extra };
}

/** A round whose runs start at `t` and `t + 1` in the given order; blocks of five unless `block` says otherwise. */
function round(index: number, t: number, order: Round['order'], baselineNs: number, probedNs: number, probedExtra: Partial<RunSample> = {}, block = Math.floor(index / 5)): Round {
  const startOf = (arm: RunSample['arm']) => t + order.indexOf(arm);
  return {
    index,
    block,
    cpu: 1,
    order,
    baseline: run('baseline', startOf('baseline'), baselineNs),
    probed: run('probed', startOf('probed'), probedNs, { events: OPS, ...probedExtra }),
  };
}

/** Box-Muller normal deviates from the seeded generator. */
function normalSampler(seed: number, mu: number, sigma: number): () => number {
  const random = seededRandom(seed);
  return () => mu + sigma * Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
}

const OPTIONS: CellOptions = {
  expectedPerOp: 1,
  expectedIsLowerBound: false,
  budget: 5,
  precision: 1,
  lookConfidence: 0.95,
  looks: [4, 6, 9],
  minRounds: 20,
  maxRounds: 45,
  maxTimeS: 600,
};

/** Hand-made measures: only the fields verdict and stopping read matter. */
function measures(overhead: { value: number; ciLow: number; ciHigh: number }, eventsPerOpMedian = 1, rounds = 20): CellMeasures {
  const estimate = { value: 0, ciLow: 0, ciHigh: 0 };
  const ciHalfWidth = (overhead.ciHigh - overhead.ciLow) / 2;
  return {
    rounds,
    blocks: Math.ceil(rounds / 5),
    overheadPerRound: [],
    overheadMedian: overhead,
    overheadMean: estimate,
    blockOverheads: [],
    betweenBlockSd: 0,
    overheadByCpu: [],
    lookConfidence: 0.95,
    migratedRuns: 0,
    addedNsPerOp: estimate,
    nsPerEvent: estimate,
    eventsPerOp: { median: eventsPerOpMedian, min: eventsPerOpMedian, max: eventsPerOpMedian },
    baselineNsPerOp: { median: 100, cv: 0 },
    probedNsPerOp: { median: 100, cv: 0 },
    outlierRounds: [],
    perfDeltaPerOp: {},
    inProgramNs: null,
    ciHalfWidth,
    precisionReached: ciHalfWidth <= OPTIONS.precision,
  };
}

describe('seeded bootstrap', () => {
  const sample = Array.from({ length: 30 }, normalSampler(1, 10, 2));

  it('reports the statistic of the full sample as the value', () => {
    expect(bootstrapCi(sample, median, { seed: 7, resamples: 500 }).value).toBe(median(sample));
    expect(bootstrapCi(sample, mean, { seed: 7, resamples: 500 }).value).toBeCloseTo(mean(sample), 12);
  });

  it('is reproducible from its seed, and as wide as normal theory says for a mean', () => {
    const a = bootstrapCi(sample, mean, { seed: 7 });
    expect(bootstrapCi(sample, mean, { seed: 7 })).toEqual(a);
    expect(bootstrapCi(sample, mean, { seed: 8 }).ciLow).not.toBe(a.ciLow);
    // Percentile bootstrap of a mean of 30 draws: ±1.96 · s/√n (s with divisor n), to Monte Carlo error.
    const s = Math.sqrt(sample.reduce((acc, x) => acc + (x - mean(sample)) ** 2, 0) / sample.length);
    const theory = 2 * 1.96 * (s / Math.sqrt(sample.length));
    expect((a.ciHigh - a.ciLow) / theory).toBeGreaterThan(0.85);
    expect((a.ciHigh - a.ciLow) / theory).toBeLessThan(1.15);
    expect(a.ciLow).toBeLessThan(a.value);
    expect(a.ciHigh).toBeGreaterThan(a.value);
  });

  function coverage(confidence: number): number {
    const draw = normalSampler(2024, 10, 2);
    const trials = 500;
    let covered = 0;
    for (let t = 0; t < trials; t++) {
      const data = Array.from({ length: 41 }, draw);
      const ci = bootstrapCi(data, median, { seed: t, resamples: 1000, confidence });
      if (ci.ciLow <= 10 && 10 <= ci.ciHigh) covered++;
    }
    return covered / trials;
  }

  it('covers the true median of normal data about 95 % of the time', () => {
    const rate = coverage(0.95);
    expect(rate).toBeGreaterThanOrEqual(0.9);
    expect(rate).toBeLessThanOrEqual(0.99);
  });

  it('covers it far less often at 50 % confidence (the coverage check can tell)', () => {
    const rate = coverage(0.5);
    expect(rate).toBeGreaterThan(0.35);
    expect(rate).toBeLessThan(0.65);
  });
});

describe('neighbouring-baseline overhead', () => {
  it('brackets each probed run with the baselines just before and after it in time', () => {
    // Timeline: b0 p0 | p1 b1 | b2 p2
    const rounds = [
      round(0, 0, ['baseline', 'probed'], 100, 120),
      round(1, 2, ['probed', 'baseline'], 110, 130),
      round(2, 4, ['baseline', 'probed'], 90, 99),
    ];
    const overhead = overheadPerRound(rounds);
    expect(overhead[0]).toBeCloseTo((120 / 105 - 1) * 100, 10);
    expect(overhead[1]).toBeCloseTo((130 / 105 - 1) * 100, 10);
    expect(overhead[2]).toBeCloseTo(10, 10); // last probed run: only the baseline before it
    expect(addedNsPerRound(rounds)).toEqual([15, 25, 9]);
  });

  it('uses only the following baseline when the first run of all is probed, whatever the array order', () => {
    // Timeline: p0 b0 | p1 b1 ; given out of order
    const rounds = [round(1, 2, ['probed', 'baseline'], 200, 230), round(0, 0, ['probed', 'baseline'], 100, 150)];
    expect(overheadPerRound(rounds)).toEqual([50, (230 / 150 - 1) * 100]);
    expect(addedNsPerRound(rounds)).toEqual([50, 80]);
  });
});

describe('blocks', () => {
  it('keeps neighbouring baselines inside a block', () => {
    // Block 0: b0 p0 ; block 1 (later): p1 b1. p0 must not borrow b1, nor p1 borrow b0.
    const rounds = [round(0, 0, ['baseline', 'probed'], 100, 120, {}, 0), round(1, 2, ['probed', 'baseline'], 200, 260, {}, 1)];
    expect(overheadPerRound(rounds)).toEqual([(120 / 100 - 1) * 100, (260 / 200 - 1) * 100]);
  });

  it('puts a Student-t interval on the block values', () => {
    // Blocks' medians 1, 2, 3: mean 2, sd 1, t(0.975, 2) = 4.3027.
    const est = blockCi([0, 1, 9, 2, 2, -5, 3, 3, 8], [0, 0, 0, 1, 1, 1, 2, 2, 2], median, 0.95);
    expect(est.blockValues).toEqual([1, 2, 3]);
    expect(est.value).toBe(2);
    expect(est.betweenBlockSd).toBeCloseTo(1, 12);
    expect(est.ciHigh - est.value).toBeCloseTo(4.3027 / Math.sqrt(3), 3);
  });

  it('takes a design split between CPUs out of the interval once each CPU has 3 blocks, weighting the CPUs equally', () => {
    // One value per block; CPU 0 near 80, CPU 1 near 40: 4 blocks on CPU 0, 3 on CPU 1.
    const values = [79, 41, 81, 39, 80, 40, 82];
    const blocks = values.map((_, i) => i);
    const cpus = values.map((_, i) => i % 2);
    const est = blockCi(values, blocks, mean, 0.95, cpus);
    expect(est.value).toBeCloseTo((80.5 + 40) / 2, 12); // not the block mean, 63.1
    // Pooled within-CPU variance (5 + 2) / 5 = 1.4; se = sqrt(1.4 / 4 * (1/4 + 1/3)); t(0.975, 5) = 2.5706.
    expect(est.ciHigh - est.value).toBeCloseTo(2.5706 * Math.sqrt((1.4 / 4) * (1 / 4 + 1 / 3)), 3);
    expect(est.betweenBlockSd).toBeGreaterThan(20);
    const plain = blockCi(values, blocks, mean, 0.95);
    expect(plain.ciHigh - plain.value).toBeGreaterThan(10 * (est.ciHigh - est.value));
    // With 2 blocks on a CPU the interval is the plain one over blocks.
    expect(blockCi(values.slice(0, 5), blocks.slice(0, 5), mean, 0.95, cpus.slice(0, 5))).toEqual(blockCi(values.slice(0, 5), blocks.slice(0, 5), mean, 0.95));
  });

  it('knows the t quantiles (tables: 12.706, 2.228, 1.962; 99.9 %: 4.587 at 10 df)', () => {
    expect(studentTQuantile(0.975, 1)).toBeCloseTo(12.706, 2);
    expect(studentTQuantile(0.975, 10)).toBeCloseTo(2.228, 3);
    expect(studentTQuantile(0.975, 1000)).toBeCloseTo(1.962, 3);
    expect(studentTQuantile(0.9995, 10)).toBeCloseTo(4.587, 2);
    expect(studentTQuantile(0.025, 10)).toBeCloseTo(-2.228, 3);
  });

  it('checks at geometrically spaced block counts and splits the confidence over them', () => {
    const plan = sequentialPlan({ minRounds: 20, maxRounds: 200, confidence: 0.95 });
    expect(plan.looks).toEqual([4, 6, 9, 14, 21, 32, 40]);
    expect(plan.lookConfidence).toBeCloseTo(1 - 0.05 / 7, 12);
    expect(sequentialPlan({ minRounds: 15, maxRounds: 15, confidence: 0.95 }).looks).toEqual([3]);
  });
});

describe('outliers', () => {
  it('finds one planted outlier and keeps the rest', () => {
    expect(outlierIndices([10, 11, 9, 10.5, 9.5, 10.2, 50, 9.8])).toEqual([6]);
  });

  it('copes with a zero MAD', () => {
    expect(outlierIndices([5, 5, 5, 5, 5, 5, 100])).toEqual([6]);
    expect(outlierIndices([5, 5, 5, 5])).toEqual([]);
  });
});

describe('cellStats', () => {
  /** 30 rounds, baseline ~N(2000, 60) ns with a slow drift, probed = baseline * 1.2, alternating order. */
  function simulatedRounds(count: number, eventsPerOp = 1): Round[] {
    const noise = normalSampler(99, 0, 60);
    return Array.from({ length: count }, (_, i) => {
      const drift = 1 + i * 0.005;
      const order: Round['order'] = i % 2 === 0 ? ['baseline', 'probed'] : ['probed', 'baseline'];
      return round(i, i * 10, order, 2000 * drift + noise(), 2400 * drift + noise(), {
        events: Math.round(eventsPerOp * OPS),
        inProgramNs: 40 + i,
        perf: { 'page-faults': 2 * OPS, cycles: null },
      });
    }).map((r) => ({ ...r, baseline: { ...r.baseline, perf: { 'page-faults': OPS, cycles: null } } }));
  }

  it('estimates a known 20 % overhead and the per-event cost', () => {
    const stats = cellStats(simulatedRounds(30), OPTIONS);
    expect(CellStatsSchema.omit({ stopReason: true }).parse(stats)).toEqual(stats);
    expect(stats.rounds).toBe(30);
    expect(stats.overheadPerRound).toHaveLength(30);
    expect(stats.overheadMedian.ciLow).toBeLessThan(20);
    expect(stats.overheadMedian.ciHigh).toBeGreaterThan(20);
    expect(stats.overheadMedian.ciLow).toBeGreaterThan(15);
    expect(stats.ciHalfWidth).toBeCloseTo((stats.overheadMedian.ciHigh - stats.overheadMedian.ciLow) / 2, 12);
    expect(stats.addedNsPerOp.value).toBeGreaterThan(300);
    expect(stats.addedNsPerOp.value).toBeLessThan(550);
    expect(stats.nsPerEvent?.value).toBeCloseTo(stats.addedNsPerOp.value, 10); // 1 event per op
    expect(stats.eventsPerOp).toEqual({ median: 1, min: 1, max: 1 });
    expect(stats.baselineNsPerOp.cv).toBeGreaterThan(0);
    expect(stats.perfDeltaPerOp).toEqual({ 'page-faults': 1, cycles: null });
    expect(stats.inProgramNs).toBe(median(Array.from({ length: 30 }, (_, i) => 40 + i)));
    expect(decideVerdict(stats, OPTIONS).verdict).toBe('FAIL');
  });

  it('halves ns per event when the probe fires twice per op, and drops it for collateral cells', () => {
    const twice = cellStats(simulatedRounds(10, 2), { ...OPTIONS, expectedPerOp: 2 });
    expect(twice.nsPerEvent?.value).toBeCloseTo(twice.addedNsPerOp.value / 2, 10);
    expect(cellStats(simulatedRounds(10, 0), { ...OPTIONS, expectedPerOp: 0 }).nsPerEvent).toBeNull();
  });

  it('flags an outlier round by its round index', () => {
    const rounds = simulatedRounds(20);
    rounds[7] = { ...rounds[7], probed: { ...rounds[7].probed, nsPerOp: 20_000 } };
    expect(cellStats(rounds, OPTIONS).outlierRounds).toEqual([7]);
  });

  it('carries the between-block spread: a block-level shift widens the CI', () => {
    const steady = simulatedRounds(30);
    const shifted = steady.map((r) => (r.block % 2 === 0 ? r : { ...r, probed: { ...r.probed, nsPerOp: r.probed.nsPerOp * 1.05 } }));
    const a = cellStats(steady, OPTIONS);
    const b = cellStats(shifted, OPTIONS);
    expect(b.blocks).toBe(6);
    expect(b.betweenBlockSd).toBeGreaterThan(a.betweenBlockSd + 1);
    expect(b.ciHalfWidth).toBeGreaterThan(a.ciHalfWidth);
  });

  it('says when the overhead differs between CPUs beyond the blocks\' noise, and not otherwise', () => {
    const perCpu = (shift: number) =>
      simulatedRounds(40).map((r) => ({ ...r, cpu: r.block % 2, probed: { ...r.probed, nsPerOp: r.probed.nsPerOp * (r.block % 2 ? 1 + shift : 1) } }));
    const differing = cellStats(perCpu(0.3), OPTIONS);
    expect(differing.overheadByCpu.map((c) => c.blockOverheads.length)).toEqual([4, 4]);
    expect(cpuDifference(differing)).toMatch(/^the overhead differs between CPUs \(CPU 0 \+\d+\.\d % \(4 blocks\), CPU 1 \+\d+\.\d % \(4 blocks\)/);
    expect(cpuDifference(cellStats(perCpu(0), OPTIONS))).toBeNull();
  });

  it('counts runs that left their CPU', () => {
    const rounds = simulatedRounds(10);
    rounds[3] = { ...rounds[3], baseline: { ...rounds[3].baseline, cpuEnd: 0 } };
    rounds[4] = { ...rounds[4], probed: { ...rounds[4].probed, perf: { 'cpu-migrations': 2 } } };
    expect(cellStats(rounds, OPTIONS).migratedRuns).toBe(2);
  });
});

describe('verdict', () => {
  const at = (ciLow: number, ciHigh: number) => decideVerdict(measures({ value: (ciLow + ciHigh) / 2, ciLow, ciHigh }), OPTIONS);

  it('passes only when the upper bound is below the budget', () => {
    expect(at(1, 4.999).verdict).toBe('PASS');
    expect(at(1, 4.999).reason).toBeNull();
    expect(at(1, 5).verdict).toBe('INCONCLUSIVE');
    expect(at(1, 5.001).verdict).toBe('INCONCLUSIVE');
    expect(at(1, 5.001).reason).toMatch(/contains the 5 % budget/);
  });

  it('fails only when the lower bound is above the budget', () => {
    expect(at(5.001, 9).verdict).toBe('FAIL');
    expect(at(5, 9).verdict).toBe('INCONCLUSIVE');
  });

  it('is INCONCLUSIVE before minRounds', () => {
    expect(decideVerdict(measures({ value: 50, ciLow: 49, ciHigh: 51 }, 1, 15), OPTIONS).verdict).toBe('INCONCLUSIVE');
  });

  /** Five identical rounds whose probe counted `events` per 1000 ops. */
  function countedRounds(events: number): Round[] {
    return Array.from({ length: 20 }, (_, i) => round(i, i * 2, ['baseline', 'probed'], 100, 200 + (i % 3), { events }));
  }
  const verdictFor = (events: number, expectedPerOp: number) =>
    decideVerdict(cellStats(countedRounds(events), { ...OPTIONS, expectedPerOp }), { ...OPTIONS, expectedPerOp });

  it('is INVALID more than 1 % below the expected events per op', () => {
    expect(verdictFor(989, 1)).toEqual({ verdict: 'INVALID', reason: 'probe counted 0.989 events/op, more than 1 % below the expected 1 (the hook did not fire on every op)' });
    expect(verdictFor(990, 1).verdict).toBe('FAIL');
    expect(verdictFor(0, 1).verdict).toBe('INVALID');
  });

  it('is INVALID more than 1 % above it: something besides the workload was counted', () => {
    expect(verdictFor(1011, 1).reason).toBe('probe counted 1.011 events/op, more than 1 % above the expected 1 (events outside the workload were counted)');
    expect(verdictFor(1130, 1).verdict).toBe('INVALID');
    expect(verdictFor(1010, 1).verdict).toBe('FAIL');
    expect(verdictFor(2021, 2).verdict).toBe('INVALID');
    expect(verdictFor(2019, 2).verdict).toBe('FAIL');
  });

  it('checks only the floor where the expected count is a lower bound (build)', () => {
    expect(invalidReason(1.5, 1, true)).toBeNull();
    expect(invalidReason(0.98, 1, true)).toMatch(/below/);
  });

  it('is INVALID above 0.01 events per op where none are expected', () => {
    expect(verdictFor(11, 0).verdict).toBe('INVALID');
    expect(verdictFor(11, 0).reason).toMatch(/^probe counted 0\.011 events\/op, expected 0/);
    expect(verdictFor(10, 0).verdict).toBe('FAIL');
    expect(invalidReason(0, 0)).toBeNull();
  });
});

describe('stopping rule', () => {
  /** Measures after `rounds` rounds in blocks of five. */
  const stop = (m: CellMeasures, rounds: number, elapsedS = 10) => shouldStop({ ...m, rounds, blocks: Math.ceil(rounds / 5) }, elapsedS, OPTIONS);
  const tight = { value: 1, ciLow: 0.5, ciHigh: 1.5 };

  it('never stops on precision, a decision or invalidity before minRounds', () => {
    expect(stop(measures(tight), 15)).toBeNull();
    expect(stop(measures(tight, 0), 15)).toBeNull();
  });

  it("acts only at the plan's looks: between them a tight CI runs on", () => {
    expect(stop(measures(tight), 20)).toBe('precision');
    expect(stop(measures(tight), 25)).toBeNull();
    expect(stop(measures(tight), 30)).toBe('precision');
    expect(stop(measures(tight), 40)).toBeNull();
  });

  it('stops an invalid cell at the first look', () => {
    expect(stop(measures({ value: 1, ciLow: -50, ciHigh: 50 }, 0), 20)).toBe('invalid');
  });

  it('stops at the precision target', () => {
    expect(stop(measures({ value: 4, ciLow: 3.1, ciHigh: 5 }), 20)).toBe('precision');
    expect(stop(measures({ value: 4, ciLow: 3, ciHigh: 5.2 }), 20)).toBeNull();
  });

  it('stops a clear FAIL once the half-width is within 10 % of the overhead', () => {
    expect(stop(measures({ value: 1000, ciLow: 900, ciHigh: 1100 }), 20)).toBe('decided');
    expect(stop(measures({ value: 1000, ciLow: 850, ciHigh: 1150 }), 20)).toBeNull();
    // INCONCLUSIVE never stops early, however tight relative to its value
    expect(stop(measures({ value: 40, ciLow: 3, ciHigh: 6 }), 20)).toBeNull();
  });

  it('honours max-rounds and max-time after any block', () => {
    const wide = measures({ value: 5, ciLow: 0, ciHigh: 10 });
    expect(stop(wide, 45)).toBe('max-rounds');
    expect(stop(wide, 35, 600)).toBe('max-time');
    expect(stop(wide, 5, 600)).toBe('max-time');
  });
});

describe('exit code', () => {
  it('is 0 when every cell passes', () => expect(exitCodeFor(['PASS', 'PASS'])).toBe(0));
  it('is 1 when any cell fails', () => expect(exitCodeFor(['PASS', 'INCONCLUSIVE', 'FAIL', 'ERROR'])).toBe(1));
  it('is 3 when none failed but some did not pass', () => {
    for (const other of ['INCONCLUSIVE', 'INVALID', 'UNSUPPORTED', 'ERROR'] as const) expect(exitCodeFor(['PASS', other])).toBe(3);
    expect(exitCodeFor([])).toBe(3);
  });
});
