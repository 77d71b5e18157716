import { sampleStandardDeviation } from 'simple-statistics';
import type { CellStats, Estimate, Round, RunOptions, RunSample, StopReason, Verdict } from './results.js';
import { studentTQuantile } from './studentT.js';

/**
 * Every statistic hookbench reports, in one place. A cell is a list of rounds in blocks, each round
 * holding one baseline and one probed run in random order; from those we estimate the overhead,
 * decide the verdict against the budget and decide when to stop measuring.
 *
 * Split of work with the runner: `cellStats` returns everything in CellStats except `stopReason`
 * (a `CellMeasures`); the runner asks `shouldStop` after each block and, once it gets a reason,
 * stores `{ ...measures, stopReason }`. `decideVerdict` turns measures into the cell's verdict.
 */

/** Everything about a cell's rounds except why measuring stopped: that is the runner's to record. */
export type CellMeasures = Omit<CellStats, 'stopReason'>;

/** All knobs of one cell's statistics; build with `cellOptionsFrom`. */
export interface CellOptions {
  /** Events per op the probe must count; 0 for collateral-cost cells. */
  expectedPerOp: number;
  /** expectedPerOp is a floor, not an exact count (the build workload: it depends on the toolchain). */
  expectedIsLowerBound: boolean;
  /** Overhead budget, %. */
  budget: number;
  /** Target CI half-width, percentage points. */
  precision: number;
  /** Confidence of the stored CI at whichever look the cell stops (the run's confidence split over the looks). */
  lookConfidence: number;
  /** Block counts at which the stopping rule is checked. */
  looks: readonly number[];
  minRounds: number;
  maxRounds: number;
  maxTimeS: number;
}

export function cellOptionsFrom(run: RunOptions, expectedPerOp: number, expectedIsLowerBound = false): CellOptions {
  const plan = sequentialPlan(run);
  return {
    expectedPerOp,
    expectedIsLowerBound,
    budget: run.budget,
    precision: run.precision,
    lookConfidence: plan.lookConfidence,
    looks: plan.looks,
    minRounds: run.minRounds,
    maxRounds: run.maxRounds,
    maxTimeS: run.maxTimeS,
  };
}

// ---------------------------------------------------------------------------------------------
// Basic statistics

/** mulberry32: a tiny, fast 32-bit PRNG, good enough for resampling and fully determined by its seed. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export type Statistic = (xs: ArrayLike<number>) => number;

/** Hoare's quickselect: puts the k-th smallest value at `values[k]`, smaller ones before it, in O(n). */
function selectInPlace(values: Float64Array, k: number): number {
  let low = 0;
  let high = values.length - 1;
  while (low < high) {
    const pivot = values[(low + high) >> 1];
    let i = low;
    let j = high;
    while (i <= j) {
      while (values[i] < pivot) i++;
      while (values[j] > pivot) j--;
      if (i <= j) {
        [values[i], values[j]] = [values[j], values[i]];
        i++;
        j--;
      }
    }
    if (k <= j) high = j;
    else if (k >= i) low = i;
    else break;
  }
  return values[k];
}

/** Median by selection rather than sorting: the bootstrap takes tens of thousands of them per round. */
export const median: Statistic = (xs) => {
  if (xs.length === 0) throw new Error('median of an empty sample');
  const values = Float64Array.from(xs);
  const mid = values.length >> 1;
  const upper = selectInPlace(values, mid);
  if (values.length % 2 === 1) return upper;
  let lower = values[0];
  for (let i = 1; i < mid; i++) lower = Math.max(lower, values[i]);
  return (lower + upper) / 2;
};

export const mean: Statistic = (xs) => {
  if (xs.length === 0) throw new Error('mean of an empty sample');
  let sum = 0;
  for (let i = 0; i < xs.length; i++) sum += xs[i];
  return sum / xs.length;
};

/** Coefficient of variation as a fraction (sd / mean); 0 for fewer than two values. */
export function coefficientOfVariation(xs: readonly number[]): number {
  return xs.length < 2 ? 0 : sampleStandardDeviation([...xs]) / mean(xs);
}

/** Linear-interpolation quantile (R type 7) of an ascending sample. */
function quantileOfSorted(sorted: Float64Array, p: number): number {
  const position = (sorted.length - 1) * p;
  const below = Math.floor(position);
  const above = Math.min(below + 1, sorted.length - 1);
  return sorted[below] + (sorted[above] - sorted[below]) * (position - below);
}

export interface BootstrapOptions {
  resamples?: number;
  confidence?: number;
  seed: number;
}

/**
 * Percentile bootstrap: `value` is the statistic on the full sample, the CI the central
 * `confidence` share of the statistic over `resamples` resamples drawn with replacement.
 * The same seed always gives the same interval.
 */
export function bootstrapCi(samples: readonly number[], statistic: Statistic, options: BootstrapOptions): Estimate {
  const { resamples = 10_000, confidence = 0.95, seed } = options;
  if (samples.length === 0) throw new Error('bootstrap of an empty sample');
  const random = seededRandom(seed);
  const n = samples.length;
  const resample = new Float64Array(n);
  const replicates = new Float64Array(resamples);
  for (let r = 0; r < resamples; r++) {
    for (let i = 0; i < n; i++) resample[i] = samples[Math.floor(random() * n)];
    replicates[r] = statistic(resample);
  }
  replicates.sort();
  const tail = (1 - confidence) / 2;
  return { value: statistic(samples), ciLow: quantileOfSorted(replicates, tail), ciHigh: quantileOfSorted(replicates, 1 - tail) };
}

// ---------------------------------------------------------------------------------------------
// Outliers

const MODIFIED_Z_THRESHOLD = 3.5;

/**
 * Iglewicz & Hoaglin modified z-scores, 0.6745 (x - median) / MAD. When more than half the values
 * are equal the MAD is 0; then, as IBM's SPSS does, the mean absolute deviation stands in
 * ((x - median) / (1.253314 MeanAD)), and if that is 0 too every value is the median: all scores 0.
 */
export function modifiedZScores(xs: readonly number[]): number[] {
  if (xs.length === 0) return [];
  const centre = median(xs);
  const deviations = xs.map((x) => Math.abs(x - centre));
  const mad = median(deviations);
  if (mad > 0) return xs.map((x) => (0.6745 * (x - centre)) / mad);
  const meanAd = mean(deviations);
  if (meanAd > 0) return xs.map((x) => (x - centre) / (1.253314 * meanAd));
  return xs.map(() => 0);
}

/** Indices of values with |modified z| > 3.5. Callers flag these; nothing is ever dropped. */
export function outlierIndices(xs: readonly number[]): number[] {
  return modifiedZScores(xs).flatMap((z, i) => (Math.abs(z) > MODIFIED_Z_THRESHOLD ? [i] : []));
}

// ---------------------------------------------------------------------------------------------
// Blocks and the sequential plan

/**
 * A cell's rounds are measured in blocks of this many, spread over the whole run (block 1 of every
 * cell, then block 2 of every cell, ...), so that every cell samples the machine's slow changes. Each
 * block is summarised by its median per-round figure; blocks, not rounds, are the independent units
 * the CI is computed from (rounds in a block share baselines and the machine's state of the moment).
 */
export const ROUNDS_PER_BLOCK = 5;
/** A t interval over block medians with two degrees of freedom is the least that is of any use. */
export const MIN_BLOCKS = 3;
/** What the method needs before its first look: `--min-rounds` below this is refused. */
export const METHOD_MIN_ROUNDS = ROUNDS_PER_BLOCK * MIN_BLOCKS;
/** Each look comes after at least this many times as many blocks as the one before. */
const LOOK_GROWTH = 1.5;

export interface SequentialPlan {
  /** Block counts at which the stopping rule is checked, from the first that holds minRounds to the last that maxRounds allows. */
  looks: number[];
  /** Confidence of the interval at each look: 1 - (1 - confidence) / looks (Bonferroni). */
  lookConfidence: number;
}

/**
 * Checking a CI after every round and stopping the first time it is narrow enough makes a 95 % CI
 * miss far more often than 5 % (the check picks a moment when the spread looks small by chance). Here
 * the rule is checked only at a few block counts fixed in advance, geometrically spaced, and each
 * look's interval is built at confidence 1 - alpha/K for K looks: the chance that the interval at
 * *any* look misses is then at most alpha (Bonferroni), so the interval at whichever look the cell
 * stops - for precision, a clear verdict, max-rounds or max-time (a stop between looks takes the
 * place of the next look) - covers with at least the stated confidence, whatever the stopping rule.
 */
export function sequentialPlan(options: Pick<RunOptions, 'minRounds' | 'maxRounds' | 'confidence'>): SequentialPlan {
  const first = Math.max(MIN_BLOCKS, Math.ceil(options.minRounds / ROUNDS_PER_BLOCK));
  const last = Math.max(first, Math.ceil(options.maxRounds / ROUNDS_PER_BLOCK));
  const looks: number[] = [];
  for (let b = first; b < last; b = Math.max(b + 1, Math.ceil(b * LOOK_GROWTH))) looks.push(b);
  looks.push(last);
  return { looks, lookConfidence: 1 - (1 - options.confidence) / looks.length };
}

/** Per-block values of `perRound` (round i in block blockOf[i]) and the t interval over them. */
export interface BlockEstimate extends Estimate {
  /** The statistic of each block, in block order. */
  blockValues: number[];
  /** Sample standard deviation of blockValues: the between-block spread. */
  betweenBlockSd: number;
}

/** Blocks each CPU needs before a cell's interval is taken within CPUs (see blockCi). */
export const MIN_BLOCKS_PER_CPU = 3;

/**
 * Mean over blocks of each block's `statistic`, with a Student-t interval on the block values, so
 * the CI carries the variation between blocks - the machine's slow changes within the run - and not
 * just between neighbouring rounds. With a single block the rounds stand in for blocks (a narrower,
 * optimistic interval: such a cell is INCONCLUSIVE by minRounds).
 *
 * Blocks rotate over the measurement CPUs by design, and a hook can cost a fixed amount more on one
 * CPU than on another (bpftrace's tracepoint programs: +80 % on CPU 0, +48 % on CPU 1, every run). The
 * cell's overhead is then the average over its CPUs, each weighted equally (the block counts differ
 * by one where a cell stops), and its interval comes from the spread within each CPU (pooled, B - C
 * degrees of freedom): the split between CPUs is part of the design, not noise, so it must neither
 * widen the CI nor move the value with the block count. This applies once every CPU has
 * MIN_BLOCKS_PER_CPU blocks - a rule fixed by the block count alone, so each look's interval keeps
 * its confidence; before that (and on one CPU) it is the plain interval over blocks (B - 1 df).
 */
export function blockCi(perRound: readonly number[], blockOf: readonly number[], statistic: Statistic, confidence: number, cpuOf?: readonly number[]): BlockEstimate {
  if (perRound.length === 0) throw new Error('blockCi of an empty sample');
  const groups = new Map<number, { cpu: number; values: number[] }>();
  perRound.forEach((v, i) => {
    const group = groups.get(blockOf[i]!) ?? { cpu: cpuOf?.[i] ?? 0, values: [] };
    group.values.push(v);
    groups.set(blockOf[i]!, group);
  });
  const blocks = [...groups.entries()].sort((a, b) => a[0] - b[0]).map(([, g]) => ({ cpu: g.cpu, value: statistic(g.values) }));
  const blockValues = blocks.map((b) => b.value);
  const betweenBlockSd = blockValues.length >= 2 ? sampleStandardDeviation(blockValues) : 0;
  const interval = blockValues.length >= 2 ? blocksInterval(blocks) : plainInterval([...perRound], statistic(perRound));
  if (interval.df === 0) return { value: interval.value, ciLow: interval.value, ciHigh: interval.value, blockValues, betweenBlockSd };
  const half = studentTQuantile(1 - (1 - confidence) / 2, interval.df) * interval.se;
  return { value: interval.value, ciLow: interval.value - half, ciHigh: interval.value + half, blockValues, betweenBlockSd };
}

/** A block's value and the CPU it ran on. */
interface CpuBlock {
  cpu: number;
  value: number;
}

/** Mean and standard error of block values: within CPUs once each of 2+ CPUs has MIN_BLOCKS_PER_CPU blocks, else over all blocks. */
function blocksInterval(blocks: readonly CpuBlock[]): CentredInterval {
  const byCpu = new Map<number, number[]>();
  for (const b of blocks) byCpu.set(b.cpu, [...(byCpu.get(b.cpu) ?? []), b.value]);
  const cpus = [...byCpu.values()];
  return takenWithinCpus(cpus.map((values) => values.length)) ? withinCpuInterval(cpus) : plainInterval(blocks.map((b) => b.value));
}

/** Whether blocks spread over CPUs with these block counts are taken within CPUs (blockCi). */
function takenWithinCpus(blocksPerCpu: readonly number[]): boolean {
  return blocksPerCpu.length >= 2 && blocksPerCpu.every((n) => n >= MIN_BLOCKS_PER_CPU);
}

interface CentredInterval {
  value: number;
  /** Standard error of value. */
  se: number;
  /** Degrees of freedom of se; 0 when it cannot be estimated (one unit). */
  df: number;
}

/** The mean of `units` (or `value`, where the rounds stand in for a single block) and its standard error. */
function plainInterval(units: readonly number[], value = mean(units)): CentredInterval {
  if (units.length < 2) return { value, se: 0, df: 0 };
  return { value, se: sampleStandardDeviation([...units]) / Math.sqrt(units.length), df: units.length - 1 };
}

/** The equally weighted mean of each CPU's block mean, its standard error from the pooled within-CPU variance. */
function withinCpuInterval(cpus: readonly (readonly number[])[]): CentredInterval {
  const means = cpus.map((values) => mean(values));
  const df = cpus.reduce((sum, values) => sum + values.length - 1, 0);
  const squares = cpus.reduce((sum, values, c) => sum + values.reduce((s, v) => s + (v - means[c]!) ** 2, 0), 0);
  const pooledVariance = squares / df;
  const k = cpus.length;
  const se = Math.sqrt((pooledVariance / k ** 2) * cpus.reduce((sum, values) => sum + 1 / values.length, 0));
  return { value: mean(means), se, df };
}

// ---------------------------------------------------------------------------------------------
// Per-round figures

interface TimedRun {
  round: number;
  arm: RunSample['arm'];
  startedAt: number;
  nsPerOp: number;
}

function chronological(rounds: readonly Round[]): TimedRun[] {
  const runs = rounds.flatMap((round) =>
    round.order.map((arm, position) => ({ run: { round: round.index, arm, startedAt: round[arm].startedAt, nsPerOp: round[arm].nsPerOp }, position })),
  );
  runs.sort((a, b) => a.run.startedAt - b.run.startedAt || a.run.round - b.run.round || a.position - b.position);
  return runs.map(({ run }) => run);
}

function byIndex(rounds: readonly Round[]): Round[] {
  return [...rounds].sort((a, b) => a.index - b.index);
}

function nearestBaseline(timeline: readonly TimedRun[], from: number, step: -1 | 1): TimedRun | undefined {
  for (let i = from + step; i >= 0 && i < timeline.length; i += step) if (timeline[i].arm === 'baseline') return timeline[i];
  return undefined;
}

/**
 * For each round (in index order): mean nsPerOp of the baseline runs immediately before and
 * immediately after its probed run in time within the same block (one of them at a block's ends).
 * Bracketing the probed run cancels the slow drift a noisy VM shows; staying inside the block keeps
 * blocks independent (the previous block of a cell ran minutes earlier, maybe on another CPU).
 */
export function neighbouringBaselineNsPerOp(rounds: readonly Round[]): number[] {
  const neighbourMean = new Map<number, number>();
  for (const block of new Set(rounds.map((r) => r.block))) {
    const timeline = chronological(rounds.filter((r) => r.block === block));
    timeline.forEach((run, position) => {
      if (run.arm !== 'probed') return;
      const neighbours = [nearestBaseline(timeline, position, -1), nearestBaseline(timeline, position, +1)].flatMap((r) => (r ? [r.nsPerOp] : []));
      neighbourMean.set(run.round, mean(neighbours));
    });
  }
  return byIndex(rounds).map((round) => neighbourMean.get(round.index) as number);
}

/** Overhead per round, %: probed nsPerOp / mean of neighbouring baselines - 1, in round order. */
export function overheadPerRound(rounds: readonly Round[]): number[] {
  const baselines = neighbouringBaselineNsPerOp(rounds);
  return byIndex(rounds).map((round, i) => (round.probed.nsPerOp / baselines[i] - 1) * 100);
}

/** Added ns per op per round: probed nsPerOp - mean of neighbouring baselines, in round order. */
export function addedNsPerRound(rounds: readonly Round[]): number[] {
  const baselines = neighbouringBaselineNsPerOp(rounds);
  return byIndex(rounds).map((round, i) => round.probed.nsPerOp - baselines[i]);
}

/** A probed run that reported no count counted nothing. */
function eventsPerOp(run: RunSample): number {
  return (run.events ?? 0) / run.ops;
}

/** A run that did not stay on one CPU: the workload saw two CPUs, or perf counted a migration. */
export function migrated(run: RunSample): boolean {
  return run.cpuStart !== run.cpuEnd || (run.perf['cpu-migrations'] ?? 0) > 0;
}

function nonNull(values: readonly (number | null | undefined)[]): number[] {
  return values.filter((v): v is number => typeof v === 'number');
}

/** Median over rounds of (probed - same-round baseline) per op, per perf counter; null where never counted on both. */
function perfDeltaPerOp(rounds: readonly Round[]): Record<string, number | null> {
  const counters = new Set(rounds.flatMap((r) => [...Object.keys(r.baseline.perf), ...Object.keys(r.probed.perf)]));
  const deltas: Record<string, number | null> = {};
  for (const counter of counters) {
    const perRound = nonNull(
      rounds.map(({ baseline, probed }) => {
        const b = baseline.perf[counter];
        const p = probed.perf[counter];
        return typeof b === 'number' && typeof p === 'number' ? p / probed.ops - b / baseline.ops : null;
      }),
    );
    deltas[counter] = perRound.length > 0 ? median(perRound) : null;
  }
  return deltas;
}

function centreAndSpread(xs: readonly number[]): { median: number; cv: number } {
  return { median: median(xs), cv: coefficientOfVariation(xs) };
}

const estimateOf = ({ value, ciLow, ciHigh }: Estimate): Estimate => ({ value, ciLow, ciHigh });

/** Each measurement CPU's block overheads (blockValues in block order), CPUs ascending. */
function overheadByCpu(rounds: readonly Round[], blockValues: readonly number[]): { cpu: number; blockOverheads: number[] }[] {
  const blocks = [...new Set(rounds.map((r) => r.block))].sort((a, b) => a - b);
  const byCpu = new Map<number, number[]>();
  blocks.forEach((block, i) => {
    const cpu = rounds.find((r) => r.block === block)!.cpu;
    byCpu.set(cpu, [...(byCpu.get(cpu) ?? []), blockValues[i] ?? NaN]);
  });
  return [...byCpu.entries()].sort((a, b) => a[0] - b[0]).map(([cpu, values]) => ({ cpu, blockOverheads: values.filter(Number.isFinite) }));
}

/**
 * Where the overhead differs between measurement CPUs beyond the blocks' noise (a Welch t interval of
 * the difference, at the stored CIs' confidence, that excludes 0), the sentence that says so: a
 * mechanism can cost twice as much on one vCPU as on another, and a run pinned to one would not show it.
 */
export function cpuDifference(stats: Pick<CellStats, 'overheadByCpu' | 'lookConfidence'>): string | null {
  const cpus = stats.overheadByCpu.filter((c) => c.blockOverheads.length >= 2);
  if (cpus.length < 2) return null;
  const sorted = [...cpus].sort((a, b) => mean(a.blockOverheads) - mean(b.blockOverheads));
  const difference = blockDifferenceCi(sorted[0]!.blockOverheads, sorted.at(-1)!.blockOverheads, stats.lookConfidence);
  if (difference.ciLow <= 0) return null;
  const each = cpus.map((c) => `CPU ${c.cpu} ${mean(c.blockOverheads) >= 0 ? '+' : ''}${mean(c.blockOverheads).toFixed(1)} % (${c.blockOverheads.length} blocks)`);
  const how = takenWithinCpus(stats.overheadByCpu.map((c) => c.blockOverheads.length)) ? 'their average, its CI from the spread within each CPU' : 'the mean of its blocks, its CI from the spread between them';
  return `the overhead differs between CPUs (${each.join(', ')}; difference [${difference.ciLow.toFixed(1)}, ${difference.ciHigh.toFixed(1)}] pp): the cell's overhead is ${how}`;
}

// ---------------------------------------------------------------------------------------------
// Cell statistics, verdict, stopping

/**
 * All statistics of a cell's rounds (at least one). The verdict statistic is the overhead's block
 * median averaged over blocks (robust to the outliers that are kept, and a mean over independent
 * blocks, so a t interval describes it); added ns and ns per event are summarised the same way. Every
 * CI is at `lookConfidence`: the same computation decides stopping and is stored, so the stored CI is
 * the one the stop was decided on. nsPerEvent uses each round's measured events per op and leaves out
 * rounds that counted none.
 */
export function cellStats(rounds: readonly Round[], options: Pick<CellOptions, 'expectedPerOp' | 'precision' | 'lookConfidence'>): CellMeasures {
  if (rounds.length === 0) throw new Error('cellStats needs at least one round');
  const ordered = byIndex(rounds);
  const blockOf = ordered.map((r) => r.block);
  const cpuOf = ordered.map((r) => r.cpu);
  const ci = (perRound: readonly number[], rounds: readonly number[], statistic: Statistic) =>
    blockCi(perRound, rounds.map((i) => blockOf[i]!), statistic, options.lookConfidence, rounds.map((i) => cpuOf[i]!));
  const all = ordered.map((_, i) => i);
  const overhead = overheadPerRound(ordered);
  const added = addedNsPerRound(ordered);
  const perOpEvents = ordered.map((r) => eventsPerOp(r.probed));
  const counted = ordered.flatMap((_, i) => (perOpEvents[i] > 0 ? [i] : []));
  const inProgram = nonNull(ordered.map((r) => r.probed.inProgramNs));
  const overheadBlocks = ci(overhead, all, median);
  const ciHalfWidth = (overheadBlocks.ciHigh - overheadBlocks.ciLow) / 2;
  return {
    rounds: ordered.length,
    blocks: overheadBlocks.blockValues.length,
    overheadPerRound: overhead,
    overheadMedian: estimateOf(overheadBlocks),
    overheadMean: estimateOf(ci(overhead, all, mean)),
    blockOverheads: overheadBlocks.blockValues,
    betweenBlockSd: overheadBlocks.betweenBlockSd,
    overheadByCpu: overheadByCpu(ordered, overheadBlocks.blockValues),
    lookConfidence: options.lookConfidence,
    addedNsPerOp: estimateOf(ci(added, all, median)),
    nsPerEvent:
      options.expectedPerOp > 0 && counted.length > 0
        ? estimateOf(ci(counted.map((i) => added[i] / perOpEvents[i]), counted, median))
        : null,
    eventsPerOp: { median: median(perOpEvents), min: Math.min(...perOpEvents), max: Math.max(...perOpEvents) },
    baselineNsPerOp: centreAndSpread(ordered.map((r) => r.baseline.nsPerOp)),
    probedNsPerOp: centreAndSpread(ordered.map((r) => r.probed.nsPerOp)),
    outlierRounds: outlierIndices(overhead).map((i) => ordered[i].index),
    migratedRuns: ordered.flatMap((r) => [r.baseline, r.probed]).filter(migrated).length,
    perfDeltaPerOp: perfDeltaPerOp(ordered),
    inProgramNs: inProgram.length > 0 ? median(inProgram) : null,
    ciHalfWidth,
    precisionReached: ciHalfWidth <= options.precision,
  };
}

export interface VerdictDecision {
  verdict: Verdict;
  /** Why the cell is INVALID or INCONCLUSIVE; null for PASS and FAIL. */
  reason: string | null;
}

/** How far the counted events per op may stray from the expected count, either way. */
export const COUNT_TOLERANCE = 0.01;

/**
 * Why the probe's count disqualifies the cell, or null when it counted what the cell is about: within
 * 1 % of the expected events per op, both ways (only the floor where the expected count is a lower
 * bound). Too few means the hook did not fire on every op; too many means something else was counted,
 * and ns per event would be divided by the wrong count.
 */
export function invalidReason(eventsPerOpMedian: number, expectedPerOp: number, expectedIsLowerBound = false): string | null {
  const counted = `probe counted ${eventsPerOpMedian.toFixed(3)} events/op`;
  if (expectedPerOp === 0) return eventsPerOpMedian <= COUNT_TOLERANCE ? null : `${counted}, expected 0 (the hook must not fire in this cell)`;
  const ratio = eventsPerOpMedian / expectedPerOp;
  if (ratio < 1 - COUNT_TOLERANCE) return `${counted}, more than 1 % below the expected ${expectedPerOp} (the hook did not fire on every op)`;
  if (ratio > 1 + COUNT_TOLERANCE && !expectedIsLowerBound) return `${counted}, more than 1 % above the expected ${expectedPerOp} (events outside the workload were counted)`;
  return null;
}

/**
 * PASS when the whole CI of the overhead lies below the budget, FAIL when it lies above,
 * INCONCLUSIVE when it contains the budget or fewer than minRounds rounds were run. INVALID (no
 * overhead to report) when the probe did not count the events the cell is about.
 */
export function decideVerdict(
  stats: CellMeasures,
  options: Pick<CellOptions, 'budget' | 'expectedPerOp' | 'minRounds'> & Partial<Pick<CellOptions, 'expectedIsLowerBound'>>,
): VerdictDecision {
  const invalid = invalidReason(stats.eventsPerOp.median, options.expectedPerOp, options.expectedIsLowerBound);
  if (invalid) return { verdict: 'INVALID', reason: invalid };
  if (stats.rounds < options.minRounds) {
    return { verdict: 'INCONCLUSIVE', reason: `only ${stats.rounds} rounds, fewer than the minimum ${options.minRounds}` };
  }
  const { ciLow, ciHigh } = stats.overheadMedian;
  const verdict = verdictAgainstBudget(stats.overheadMedian, options.budget);
  if (verdict !== 'INCONCLUSIVE') return { verdict, reason: null };
  return {
    verdict,
    reason: `CI of the overhead [${ciLow.toFixed(2)}, ${ciHigh.toFixed(2)}] % contains the ${options.budget} % budget`,
  };
}

/** The budget rule (measured cells and predictions alike): PASS when the CI lies below it, FAIL above. */
export function verdictAgainstBudget(overhead: Pick<Estimate, 'ciLow' | 'ciHigh'>, budget: number): 'PASS' | 'FAIL' | 'INCONCLUSIVE' {
  if (overhead.ciHigh < budget) return 'PASS';
  if (overhead.ciLow > budget) return 'FAIL';
  return 'INCONCLUSIVE';
}

/** Share of |overhead| the CI half-width may be for a clear PASS/FAIL to stop early. */
const DECIDED_RELATIVE_HALF_WIDTH = 0.1;

/**
 * Why to stop measuring this cell now, or null to run another block; asked after every whole block.
 * Precision, a clear verdict and invalidity are only acted on at the plan's looks (see sequentialPlan):
 * the precision target is in percentage points, which a cell far from the budget never needs (a
 * +1000 % audit cell has failed a 5 % budget long before it is pinned to +-1 pp), so a cell whose
 * verdict is already PASS or FAIL also stops once its overhead is known to 10 % of itself. The user's
 * max-rounds and max-time are hard limits, checked after every block, even before minRounds
 * (decideVerdict then says INCONCLUSIVE).
 */
export function shouldStop(
  stats: CellMeasures,
  elapsedS: number,
  options: Pick<CellOptions, 'budget' | 'expectedPerOp' | 'precision' | 'minRounds' | 'maxRounds' | 'maxTimeS' | 'looks'>,
): StopReason | null {
  if (stats.rounds >= options.minRounds && options.looks.includes(stats.blocks)) {
    const { verdict } = decideVerdict(stats, options);
    if (verdict === 'INVALID') return 'invalid';
    if (stats.ciHalfWidth <= options.precision) return 'precision';
    const decided = verdict === 'PASS' || verdict === 'FAIL';
    if (decided && stats.ciHalfWidth <= DECIDED_RELATIVE_HALF_WIDTH * Math.abs(stats.overheadMedian.value)) return 'decided';
  }
  if (stats.rounds >= options.maxRounds) return 'max-rounds';
  if (elapsedS >= options.maxTimeS) return 'max-time';
  return null;
}

/**
 * Process exit code for a run: 1 when any cell FAILs its budget; otherwise 0 when every cell
 * PASSes, and 3 when some cell is INCONCLUSIVE, INVALID, UNSUPPORTED or ERROR (or there are no
 * cells at all: nothing measured proves nothing is within budget). The caller leaves out cells the
 * user did not ask for explicitly.
 */
export function exitCodeFor(verdicts: readonly Verdict[]): 0 | 1 | 3 {
  if (verdicts.includes('FAIL')) return 1;
  return verdicts.length > 0 && verdicts.every((v) => v === 'PASS') ? 0 : 3;
}

// ---------------------------------------------------------------------------------------------
// Two runs compared (hookbench compare)

// Only the rank test below needs it (imports are hoisted, so placing it here changes nothing).
import { errorFunction } from 'simple-statistics';

/**
 * next.value - base.value with a Welch t interval at `confidence`: standard error
 * sqrt(se_base^2 + se_next^2), degrees of freedom by Welch–Satterthwaite, so the two sides' spreads
 * need not be equal. When neither side varies at all the interval is the point.
 */
function differenceCi(base: CentredInterval, next: CentredInterval, confidence: number): Estimate {
  const value = next.value - base.value;
  const variance = base.se ** 2 + next.se ** 2;
  if (variance === 0) return { value, ciLow: value, ciHigh: value };
  const df = variance ** 2 / (base.se ** 4 / base.df + next.se ** 4 / next.df);
  const half = studentTQuantile(1 - (1 - confidence) / 2, df) * Math.sqrt(variance);
  return { value, ciLow: value - half, ciHigh: value + half };
}

function assertTwoASide(base: number, next: number): void {
  if (base < 2 || next < 2) throw new Error(`a difference of block means needs at least 2 values a side (got ${base} and ${next})`);
}

/** Difference of two sets of block values' means (blocks are the independent units), at least 2 a side. */
export function blockDifferenceCi(base: readonly number[], next: readonly number[], confidence: number): Estimate {
  assertTwoASide(base.length, next.length);
  return differenceCi(plainInterval(base), plainInterval(next), confidence);
}

/**
 * The change of a cell's overhead between two runs (hookbench compare): each side's value and standard
 * error as its own CI took them (blocksInterval: within CPUs where each CPU has enough blocks), so a
 * fixed difference between CPUs widens neither side. At least 2 blocks a side.
 */
export function overheadChangeCi(base: CellStats['overheadByCpu'], next: CellStats['overheadByCpu'], confidence: number): Estimate {
  const blocksOf = (byCpu: CellStats['overheadByCpu']) => byCpu.flatMap((c) => c.blockOverheads.map((value) => ({ cpu: c.cpu, value })));
  const [before, after] = [blocksOf(base), blocksOf(next)];
  assertTwoASide(before.length, after.length);
  return differenceCi(blocksInterval(before), blocksInterval(after), confidence);
}

export interface RankTest {
  /** U of the first sample: pairs (a, b) with a > b, ties counting one half. */
  u: number;
  /** Two-sided p-value. */
  p: number;
  method: 'exact' | 'normal';
}

/** 1-based ranks of the pooled sample, ties given their average rank; also the tie group sizes. */
function pooledRanks(pooled: readonly number[]): { ranks: number[]; tieSizes: number[] } {
  const order = pooled.map((value, index) => ({ value, index })).sort((x, y) => x.value - y.value);
  const ranks = new Array<number>(pooled.length);
  const tieSizes: number[] = [];
  for (let start = 0; start < order.length; ) {
    let end = start;
    while (end + 1 < order.length && order[end + 1].value === order[start].value) end++;
    const rank = (start + end) / 2 + 1;
    for (let k = start; k <= end; k++) ranks[order[k].index] = rank;
    tieSizes.push(end - start + 1);
    start = end + 1;
  }
  return { ranks, tieSizes };
}

/** Exact null distribution of U for samples of m and n without ties: counts[u] / C(m+n, m). */
function exactUDistribution(m: number, n: number): number[] {
  // counts[j][u] for a first sample of i values against j values, built up over i.
  let previous = Array.from({ length: n + 1 }, () => [1]);
  for (let i = 1; i <= m; i++) {
    const current: number[][] = [[1]];
    for (let j = 1; j <= n; j++) {
      const size = i * j + 1;
      const counts = new Array<number>(size).fill(0);
      // The largest value belongs to the first sample (beats all j) or to the second.
      previous[j].forEach((c, u) => (counts[u + j] += c));
      current[j - 1].forEach((c, u) => (counts[u] += c));
      current.push(counts);
    }
    previous = current;
  }
  const counts = previous[n];
  const total = counts.reduce((a, b) => a + b, 0);
  return counts.map((c) => c / total);
}

/** Up to this many values in all, without ties, the rank test's p-value is exact; beyond, a normal approximation. */
export const EXACT_RANK_TEST_LIMIT = 40;

function normalTwoSided(u: number, m: number, n: number, tieSizes: readonly number[]): number {
  const total = m + n;
  const tieTerm = tieSizes.reduce((sum, t) => sum + t ** 3 - t, 0) / (total * (total - 1));
  const variance = ((m * n) / 12) * (total + 1 - tieTerm);
  if (variance <= 0) return 1;
  const z = Math.max(0, Math.abs(u - (m * n) / 2) - 0.5) / Math.sqrt(variance);
  return Math.min(1, 1 - errorFunction(z / Math.SQRT2));
}

/**
 * Two-sided Mann-Whitney U test (Wilcoxon rank-sum) of a against b, as scipy's mannwhitneyu:
 * 'auto' is exact for small samples without ties, else the normal approximation with tie and
 * continuity corrections.
 */
export function mannWhitney(a: readonly number[], b: readonly number[], method: 'auto' | 'normal' = 'auto'): RankTest {
  const m = a.length;
  const n = b.length;
  if (m === 0 || n === 0) throw new Error('rank test needs two non-empty samples');
  const { ranks, tieSizes } = pooledRanks([...a, ...b]);
  const rankSum = ranks.slice(0, m).reduce((s, r) => s + r, 0);
  const u = rankSum - (m * (m + 1)) / 2;
  const ties = tieSizes.some((t) => t > 1);
  if (method === 'normal' || ties || m + n > EXACT_RANK_TEST_LIMIT) return { u, p: normalTwoSided(u, m, n, tieSizes), method: 'normal' };
  const distribution = exactUDistribution(m, n);
  const below = distribution.slice(0, Math.floor(u) + 1).reduce((s, x) => s + x, 0);
  const above = distribution.slice(Math.ceil(u)).reduce((s, x) => s + x, 0);
  return { u, p: Math.min(1, 2 * Math.min(below, above)), method: 'exact' };
}
