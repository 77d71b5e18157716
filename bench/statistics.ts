import { sampleStandardDeviation } from 'simple-statistics';
import type { CellStats, Estimate, Round, RunOptions, RunSample, StopReason, Verdict } from './results.js';

/**
 * Every statistic hookbench reports, in one place. A cell is a list of rounds, each holding one
 * baseline and one probed run in random order; from those we estimate the overhead, decide the
 * verdict against the budget and decide when to stop measuring.
 *
 * Split of work with the runner: `cellStats` returns everything in CellStats except `stopReason`
 * (a `CellMeasures`); the runner asks `shouldStop` after each round and, once it gets a reason,
 * stores `{ ...measures, stopReason }`. `decideVerdict` turns measures into the cell's verdict.
 */

/** Everything about a cell's rounds except why measuring stopped: that is the runner's to record. */
export type CellMeasures = Omit<CellStats, 'stopReason'>;

/** All knobs of one cell's statistics; build with `cellOptionsFrom`. */
export interface CellOptions {
  /** Events per op the probe must count; 0 for collateral-cost cells. */
  expectedPerOp: number;
  /** Overhead budget, %. */
  budget: number;
  /** Target CI half-width, percentage points. */
  precision: number;
  confidence: number;
  resamples: number;
  seed: number;
  minRounds: number;
  maxRounds: number;
  maxTimeS: number;
}

export function cellOptionsFrom(run: RunOptions, expectedPerOp: number): CellOptions {
  return {
    expectedPerOp,
    budget: run.budget,
    precision: run.precision,
    confidence: run.confidence,
    resamples: run.bootstrapResamples,
    seed: run.seed,
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
 * immediately after its probed run in time (one of them at either end). Bracketing the probed run
 * cancels the slow drift a noisy VM shows, which comparing with the same round's baseline would not.
 */
export function neighbouringBaselineNsPerOp(rounds: readonly Round[]): number[] {
  const timeline = chronological(rounds);
  const neighbourMean = new Map<number, number>();
  timeline.forEach((run, position) => {
    if (run.arm !== 'probed') return;
    const neighbours = [nearestBaseline(timeline, position, -1), nearestBaseline(timeline, position, +1)].flatMap((r) => (r ? [r.nsPerOp] : []));
    neighbourMean.set(run.round, mean(neighbours));
  });
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

// ---------------------------------------------------------------------------------------------
// Cell statistics, verdict, stopping

/**
 * All statistics of a cell's rounds (at least one). The verdict statistic is the median overhead;
 * added ns and ns per event are medians too, each with a percentile-bootstrap CI drawn from the same
 * seed (common resamples, so they are reproducible and mutually consistent).
 * nsPerEvent uses each round's measured events per op and leaves out rounds that counted none.
 */
export function cellStats(
  rounds: readonly Round[],
  options: Pick<CellOptions, 'expectedPerOp' | 'precision' | 'confidence' | 'resamples' | 'seed'>,
): CellMeasures {
  if (rounds.length === 0) throw new Error('cellStats needs at least one round');
  const ordered = byIndex(rounds);
  const bootstrap = { resamples: options.resamples, confidence: options.confidence, seed: options.seed };
  const overhead = overheadPerRound(ordered);
  const added = addedNsPerRound(ordered);
  const perOpEvents = ordered.map((r) => eventsPerOp(r.probed));
  const perEvent = added.flatMap((ns, i) => (perOpEvents[i] > 0 ? [ns / perOpEvents[i]] : []));
  const inProgram = nonNull(ordered.map((r) => r.probed.inProgramNs));
  const overheadMedian = bootstrapCi(overhead, median, bootstrap);
  const ciHalfWidth = (overheadMedian.ciHigh - overheadMedian.ciLow) / 2;
  return {
    rounds: ordered.length,
    overheadPerRound: overhead,
    overheadMedian,
    overheadMean: bootstrapCi(overhead, mean, bootstrap),
    addedNsPerOp: bootstrapCi(added, median, bootstrap),
    nsPerEvent: options.expectedPerOp > 0 && perEvent.length > 0 ? bootstrapCi(perEvent, median, bootstrap) : null,
    eventsPerOp: { median: median(perOpEvents), min: Math.min(...perOpEvents), max: Math.max(...perOpEvents) },
    baselineNsPerOp: centreAndSpread(ordered.map((r) => r.baseline.nsPerOp)),
    probedNsPerOp: centreAndSpread(ordered.map((r) => r.probed.nsPerOp)),
    outlierRounds: outlierIndices(overhead).map((i) => ordered[i].index),
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

/** Why the probe's count disqualifies the cell, or null when it fired as expected. */
export function invalidReason(eventsPerOpMedian: number, expectedPerOp: number): string | null {
  const fired = expectedPerOp > 0 ? eventsPerOpMedian >= 0.99 * expectedPerOp : eventsPerOpMedian <= 0.01;
  if (fired) return null;
  const role = expectedPerOp > 0 ? '' : ' (the hook must not fire in this cell)';
  return `probe counted ${eventsPerOpMedian.toFixed(3)} events/op, expected ${expectedPerOp}${role}`;
}

/**
 * PASS when the whole CI of the median overhead lies below the budget, FAIL when it lies above,
 * INCONCLUSIVE when it contains the budget or fewer than minRounds rounds were run. INVALID (no
 * overhead to report) when the probe did not count the events the cell is about.
 */
export function decideVerdict(stats: CellMeasures, options: Pick<CellOptions, 'budget' | 'expectedPerOp' | 'minRounds'>): VerdictDecision {
  const invalid = invalidReason(stats.eventsPerOp.median, options.expectedPerOp);
  if (invalid) return { verdict: 'INVALID', reason: invalid };
  if (stats.rounds < options.minRounds) {
    return { verdict: 'INCONCLUSIVE', reason: `only ${stats.rounds} rounds, fewer than the minimum ${options.minRounds}` };
  }
  const { ciLow, ciHigh } = stats.overheadMedian;
  const verdict = verdictAgainstBudget(stats.overheadMedian, options.budget);
  if (verdict !== 'INCONCLUSIVE') return { verdict, reason: null };
  return {
    verdict,
    reason: `CI of the median overhead [${ciLow.toFixed(2)}, ${ciHigh.toFixed(2)}] % contains the ${options.budget} % budget`,
  };
}

/** The budget rule (measured cells and predictions alike): PASS when the CI lies below it, FAIL above. */
export function verdictAgainstBudget(overhead: Pick<Estimate, 'ciLow' | 'ciHigh'>, budget: number): 'PASS' | 'FAIL' | 'INCONCLUSIVE' {
  if (overhead.ciHigh < budget) return 'PASS';
  if (overhead.ciLow > budget) return 'FAIL';
  return 'INCONCLUSIVE';
}

/** Share of |median overhead| the CI half-width may be for a clear PASS/FAIL to stop early. */
const DECIDED_RELATIVE_HALF_WIDTH = 0.1;

/**
 * Why to stop measuring this cell now, or null to run another round. The precision target is in
 * percentage points, which a cell far from the budget never needs: a +1000 % audit cell on a noisy
 * VM may take hundreds of rounds to pin to +-1 pp, yet it failed a 5 % budget after five. So a cell
 * whose verdict is already PASS or FAIL stops once its median is known to 10 % of itself.
 * The user's max-rounds and max-time are hard limits, even before minRounds (decideVerdict then
 * says INCONCLUSIVE).
 */
export function shouldStop(
  stats: CellMeasures,
  roundsDone: number,
  elapsedS: number,
  options: Pick<CellOptions, 'budget' | 'expectedPerOp' | 'precision' | 'minRounds' | 'maxRounds' | 'maxTimeS'>,
): StopReason | null {
  if (roundsDone >= options.minRounds) {
    const { verdict } = decideVerdict(stats, options);
    if (verdict === 'INVALID') return 'invalid';
    if (stats.ciHalfWidth <= options.precision) return 'precision';
    const decided = verdict === 'PASS' || verdict === 'FAIL';
    if (decided && stats.ciHalfWidth <= DECIDED_RELATIVE_HALF_WIDTH * Math.abs(stats.overheadMedian.value)) return 'decided';
  }
  if (roundsDone >= options.maxRounds) return 'max-rounds';
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
