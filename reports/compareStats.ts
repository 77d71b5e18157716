import { errorFunction } from 'simple-statistics';
import type { Estimate } from '../bench/results.js';
import { median, seededRandom } from '../bench/statistics.js';

/**
 * Two-sample statistics for `hookbench compare`: a bootstrap CI of the difference of medians and a
 * Mann-Whitney rank test. General, so they belong beside bench/statistics.ts's one-sample bootstrap.
 */

export interface DifferenceOptions {
  resamples?: number;
  confidence?: number;
  seed: number;
}

function resampleInto(target: Float64Array, source: readonly number[], random: () => number): Float64Array {
  for (let i = 0; i < target.length; i++) target[i] = source[Math.floor(random() * source.length)];
  return target;
}

/** Linear-interpolation quantile (R type 7) of an ascending sample. */
function quantileOfSorted(sorted: Float64Array, p: number): number {
  const position = (sorted.length - 1) * p;
  const below = Math.floor(position);
  const above = Math.min(below + 1, sorted.length - 1);
  return sorted[below] + (sorted[above] - sorted[below]) * (position - below);
}

/**
 * median(next) - median(base) with a percentile-bootstrap CI: each side resampled with replacement,
 * independently (the two runs are independent samples), from one seeded generator.
 */
export function medianDifferenceCi(base: readonly number[], next: readonly number[], options: DifferenceOptions): Estimate {
  const { resamples = 10_000, confidence = 0.95, seed } = options;
  if (base.length === 0 || next.length === 0) throw new Error('difference of medians needs two non-empty samples');
  const random = seededRandom(seed);
  const baseResample = new Float64Array(base.length);
  const nextResample = new Float64Array(next.length);
  const replicates = new Float64Array(resamples);
  for (let r = 0; r < resamples; r++) {
    replicates[r] = median(resampleInto(nextResample, next, random)) - median(resampleInto(baseResample, base, random));
  }
  replicates.sort();
  const tail = (1 - confidence) / 2;
  return { value: median(next) - median(base), ciLow: quantileOfSorted(replicates, tail), ciHigh: quantileOfSorted(replicates, 1 - tail) };
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

/** Up to this many values in all, without ties, the p-value is exact; beyond, a normal approximation. */
const EXACT_LIMIT = 40;

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
  if (method === 'normal' || ties || m + n > EXACT_LIMIT) return { u, p: normalTwoSided(u, m, n, tieSizes), method: 'normal' };
  const distribution = exactUDistribution(m, n);
  const below = distribution.slice(0, Math.floor(u) + 1).reduce((s, x) => s + x, 0);
  const above = distribution.slice(Math.ceil(u)).reduce((s, x) => s + x, 0);
  return { u, p: Math.min(1, 2 * Math.min(below, above)), method: 'exact' };
}
