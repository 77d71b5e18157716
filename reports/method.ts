import type { RunOptions } from '../bench/results.js';

/**
 * How the figures were obtained, in words, from the run's own options: what a careful reader needs
 * to judge them. Describes bench/statistics.ts; keep the two in step.
 */
export function methodParagraphs(options: RunOptions): string[] {
  const confidence = Math.round(options.confidence * 100);
  return [
    `Each cell ran paired rounds: a baseline run and a probed run (hook attached before, detached after; attach and detach times are not in the timing), their order drawn at random per round, after one discarded warm-up run per arm. Each run lasted about ${options.runMs} ms.`,
    `Overhead of a round = probed ns/op ÷ mean ns/op of the baseline runs just before and after it in time − 1. The headline figure is the median over rounds; its ${confidence} % CI is a percentile bootstrap of that median with ${options.bootstrapResamples.toLocaleString('en-US')} resamples (seed ${options.seed}). Added ns per hooked event is the median of each round's added ns/op ÷ events/op, with its own bootstrap CI.`,
    `Stopping: at least ${options.minRounds} rounds, then until the CI half-width of the median overhead was at most ${options.precision} percentage points (or the verdict was already clear), or ${options.maxRounds} rounds, or ${options.maxTimeS} s per cell. Each cell's precision reached and stop reason are in the table.`,
    `Verdict against the ${options.budget} % budget: PASS when the whole CI lies below it, FAIL when the whole CI lies above it, INCONCLUSIVE otherwise. INVALID when the probe counted fewer than 0.99 of the expected events per op (or more than 0.01 where none are expected): such a cell shows no overhead. Rounds whose overhead has a modified z-score above 3.5 are flagged as outliers and kept.`,
  ];
}
