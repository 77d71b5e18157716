import type { Placement, RunOptions } from '../bench/results.js';
import { COUNT_TOLERANCE, MIN_BLOCKS, MIN_BLOCKS_PER_CPU, ROUNDS_PER_BLOCK, sequentialPlan } from '../bench/statistics.js';

/**
 * How the figures were obtained, in words, from the run's own options and placement: what a careful
 * reader needs to judge them. Describes bench/statistics.ts (blocks, blockCi, sequentialPlan,
 * shouldStop) and bench/placement.ts; keep them in step.
 */

/** "99.0 %", "99.17 %": enough digits that the per-look confidence is not rounded to the run's. */
export function confidenceText(confidence: number): string {
  const percent = confidence * 100;
  const oneDecimal = Math.abs(percent * 10 - Math.round(percent * 10)) < 1e-9;
  return `${percent.toFixed(oneDecimal ? 1 : 2)} %`;
}

function list(values: readonly number[]): string {
  return values.length <= 1 ? values.join('') : `${values.slice(0, -1).join(', ')} and ${values[values.length - 1]}`;
}

export function methodParagraphs(options: RunOptions, placement?: Placement): string[] {
  const confidence = `${Math.round(options.confidence * 1000) / 10} %`;
  const plan = sequentialPlan(options);
  const lookConfidence = confidenceText(plan.lookConfidence);
  const tolerance = `${COUNT_TOLERANCE * 100} %`;
  return [
    `Each cell ran paired rounds: a baseline run and a probed run (hook attached before, detached after; attach and detach times are not in the timing), their order drawn at random per round, after one discarded warm-up run per arm. Each run lasted about ${options.runMs} ms. Rounds come in blocks of ${ROUNDS_PER_BLOCK}, and the blocks of the different cells are interleaved, so a cell's blocks are spread over the whole run rather than measured in one stretch.`,
    `Overhead of a round = probed ns/op ÷ mean ns/op of the baseline runs just before and after it in time, within its block, − 1. Each block gives one figure, the median of its rounds' overheads; the headline overhead is the mean of the block medians, and its CI is a Student-t interval over the blocks (blocks − 1 degrees of freedom), so it carries how much the overhead moved between blocks during the run and not only the scatter between neighbouring rounds. Once each of two or more measurement CPUs has ${MIN_BLOCKS_PER_CPU} blocks, the overhead is the average of the CPUs' block means, each CPU weighted equally, and the CI comes from the blocks' spread within each CPU (pooled, blocks − CPUs degrees of freedom): a hook that costs more on one CPU than another is a fixed part of the design that the rotation balances, not noise to widen the CI with. The between-block standard deviation (pp) is shown beside every CI. Added ns per op and ns per hooked event (each round's added ns/op ÷ its events/op, rounds that counted none left out) are summarised the same way.`,
    `Stopping follows a sequential plan fixed before measuring: the stopping rule is looked at only after ${list(plan.looks)} blocks (${plan.looks.length} look${plan.looks.length > 1 ? 's' : ''}; at least ${Math.max(MIN_BLOCKS, Math.ceil(options.minRounds / ROUNDS_PER_BLOCK))} blocks and ${options.minRounds} rounds). At a look a cell stops when the CI half-width is at most ${options.precision} pp (percentage points), or when its verdict is already clear and the half-width is at most 10 % of the overhead; ${options.maxRounds} rounds and ${options.maxTimeS} s per cell are hard limits, checked after every block. The run's ${confidence} is split over the looks, Bonferroni-style: every stored CI is built at ${lookConfidence} (1 − ${Math.round((1 - options.confidence) * 1000) / 1000} ÷ ${plan.looks.length}), so the CI at whichever look a cell stopped covers the true overhead with at least ${confidence} confidence, whatever the stopping rule decided. Each cell's blocks, between-block spread, CI half-width and stop reason are in the table.`,
    `CPU placement: both arms of a round run pinned to the same CPU, and a cell's blocks rotate over the measurement CPUs, so every cell sees each of them and a difference between CPUs is balanced within the cell rather than biasing it. While a block runs, hookbench's own processes (node, perf, bpftrace, auditd, readers) are kept off its CPU. ${placementSentence(placement)} A run that did not stay on one CPU (the workload saw two CPUs, or perf counted a migration) is flagged and kept; the table counts them.`,
    `Verdict against the ${options.budget} % budget: PASS when the whole CI lies below it, FAIL when the whole CI lies above it, INCONCLUSIVE otherwise or with fewer than ${options.minRounds} rounds. INVALID when the probe's median events per op strayed more than ${tolerance} from the expected count, either way (too few: the hook did not fire on every op; too many: events outside the workload were counted; where none are expected, more than ${COUNT_TOLERANCE} per op): such a cell shows no overhead. Rounds whose overhead has a modified z-score above 3.5 are flagged as outliers and kept.`,
  ];
}

/** The run's placement in one sentence, saying plainly when nothing could be isolated. */
export function placementSentence(placement: Placement | undefined): string {
  if (!placement) return '';
  return `This run: measurement CPU${placement.measurementCpus.length > 1 ? 's' : ''} ${placement.measurementCpus.join(', ')}; ${placementIsolation(placement)} (${placement.policy}).`;
}

export function placementIsolation(placement: Placement): string {
  return placement.harnessIsolated ? "hookbench's own processes kept off the measuring CPU" : "NOT isolated: hookbench's own processes shared the workload's CPU";
}
