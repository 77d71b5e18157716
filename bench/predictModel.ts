import { hookTargetFor, HOOK_TARGETS, type SyscallName } from '../probes/hookpoints.js';
import { HOOKS, realisationsOf, type Profile } from '../probes/profiles.js';
import type { Cell, Estimate, Results, Verdict } from './results.js';
import { addedNsPerRound, median, seededRandom, verdictAgainstBudget } from './statistics.js';
import type { SyscallRates } from './syscallRates.js';

/**
 * The overhead model of `hookbench predict`: a hook set adds
 *   sum over hooked syscalls s of  calls(s) x hits(s) x c_hit(s)   +   unhooked calls x c_miss
 * ns of CPU time, divided by the time it is spread over: for a machine recording, the CPU time spent
 * (the share of the machine's work); for one workload run, the run's wall time, or its CPU time where
 * it keeps more than one CPU busy: added work on a sequential run stretches it one for one, on a run
 * that fills n CPUs it is shared out among them. c_hit(s) is the ns one hooked call adds, measured by
 * the mechanism's microbenchmark cell of that syscall (mprotect, execve, openat; any other syscall
 * gets the mprotect cell's cost, or open's where that one is unusable); c_miss the ns an unhooked syscall pays, the mechanism's `null` cell
 * (one getppid per op). hits(s) is how many hooks one call of s reaches (a function-layer set: execve
 * reaches bprm_execve and commit_creds). The CI comes from a bootstrap through the measurements: each
 * source cell's per-round added ns are resampled, each resample's median is a cost, percentiles of
 * the predictions are the interval. The recorded rates are taken as exact.
 *
 * What it does not model: per-event costs that depend on the syscall beyond the three measured (an
 * audit record of a rename carries two PATH records); costs that grow with the number of hooks
 * attached (audit walks every rule on every syscall exit; a raw-syscalls filter compares every id);
 * cache and scheduling effects of a real workload; the microbenchmark ops' own few extra syscalls.
 */

/** Per-round ns of one source cell, per hooked call (hit) or per unhooked syscall (collateral). */
export interface CostSource {
  cell: string;
  perRound: number[];
}

export interface MechanismCosts {
  mechanism: string;
  hit: Map<SyscallName, CostSource>;
  /** For hooked syscalls without a cell of their own: the first usable of DEFAULT_HIT_WORKLOADS. */
  defaultHit: CostSource;
  collateral: CostSource;
}

/** A cell that measured something: stats present and not disqualified. */
function usable(cell: Cell): boolean {
  return cell.stats !== null && cell.rounds.length > 0 && !['INVALID', 'ERROR', 'UNSUPPORTED'].includes(cell.verdict);
}

function source(cell: Cell, perOp: number): CostSource {
  return { cell: `${cell.mechanism} x ${cell.workload}`, perRound: addedNsPerRound(cell.rounds).map((ns) => ns / perOp) };
}

/** The microbenchmark workloads: one hooked syscall, no mix. */
const MICRO_WORKLOADS = Object.values(HOOK_TARGETS).filter((t) => !t.mix && t.expectedPerOp > 0);

/**
 * Whose per-call cost a hooked syscall without a cell of its own gets: the first usable of these
 * (mprotect's, the plainest call; an audit mprotect cell can be INVALID when the kernel drops records).
 */
const DEFAULT_HIT_WORKLOADS = ['mprotect', 'open', 'execve'];

/** The mechanism's costs from a results document, or why they cannot be had. */
export function mechanismCosts(results: Results, mechanism: string): MechanismCosts | { missing: string } {
  const cells = results.cells.filter((c) => c.mechanism === mechanism && usable(c));
  const hit = new Map<SyscallName, CostSource>();
  for (const target of MICRO_WORKLOADS) {
    const cell = cells.find((c) => c.workload === target.workload);
    if (cell) hit.set(target.syscall, source(cell, target.expectedPerOp));
  }
  const defaultHit = DEFAULT_HIT_WORKLOADS.map((w) => hit.get(hookTargetFor(w).syscall)).find(Boolean);
  const nullCell = cells.find((c) => c.workload === 'null');
  if (!defaultHit || !nullCell) {
    const lacking = [!defaultHit && DEFAULT_HIT_WORKLOADS.join(', '), !nullCell && 'null'].filter(Boolean).join(' and ');
    return { missing: `${mechanism}: the results hold no usable ${lacking} cell` };
  }
  return { mechanism, hit, defaultHit, collateral: source(nullCell, 1) };
}

/** What a prediction is for: a mechanism hooking some syscalls, with how many hooks each call reaches. */
export interface HookSet {
  /** The cell it predicts: `tracepoint` (single mechanism) or `elkeid-default/tracepoint`. */
  name: string;
  /** The mechanism whose costs apply. */
  mechanism: string;
  /** Hooks reached per call of each hooked syscall. */
  hits: Map<SyscallName, number>;
}

/** One hook set per realisation of the profile; the realisation's costs are its namesake mechanism's. */
export function profileHookSets(profile: Profile): HookSet[] {
  return realisationsOf(profile).map((r) => {
    const hits = new Map<SyscallName, number>();
    for (const name of profile.hooks) {
      const hook = HOOKS[name];
      for (const s of r.layer === 'syscall' ? hook.syscalls : hook.reachedBy) hits.set(s, (hits.get(s) ?? 0) + 1);
    }
    return { name: `${profile.name}/${r.name}`, mechanism: r.name, hits };
  });
}

/** A single mechanism hooking `syscalls` (as the runner's cells do: one hook on the workload's syscall). */
export function syscallHookSet(mechanism: string, syscalls: readonly SyscallName[]): HookSet {
  return { name: mechanism, mechanism, hits: new Map(syscalls.map((s) => [s, 1])) };
}

export interface Prediction {
  name: string;
  mechanism: string;
  /** Predicted overhead, % of CPU time, with its bootstrap CI. */
  overhead: Estimate;
  verdict: Extract<Verdict, 'PASS' | 'FAIL' | 'INCONCLUSIVE'>;
  /** Hooked calls and other calls per CPU-second of the recording. */
  hookedPerCpuS: number;
  otherPerCpuS: number;
  /** The cells the costs came from. */
  sources: string[];
}

export interface PredictOptions {
  budget: number;
  resamples: number;
  confidence: number;
  seed: number;
}

/** Seconds the added CPU time is spread over (see the module comment). */
export function spreadOverS(rates: SyscallRates): number {
  return rates.ops === null ? rates.cpuS : Math.max(rates.cpuS, rates.durationS);
}

/** Added CPU ns as a % of the time it is spread over, for given costs. */
function overheadPct(rates: SyscallRates, set: HookSet, hitCost: (s: SyscallName) => number, collateral: number): number {
  let hooked = 0;
  let hookedCalls = 0;
  for (const [s, hits] of set.hits) {
    const calls = rates.calls[s] ?? 0;
    hooked += calls * hits * hitCost(s);
    hookedCalls += calls;
  }
  const other = Math.max(0, rates.totalCalls - hookedCalls) * collateral;
  return ((hooked + other) / (spreadOverS(rates) * 1e9)) * 100;
}

function resampledMedian(xs: readonly number[], random: () => number): number {
  return median(Array.from({ length: xs.length }, () => xs[Math.floor(random() * xs.length)]!));
}

export function predictOverhead(rates: SyscallRates, costs: MechanismCosts, set: HookSet, options: PredictOptions): Prediction {
  const sourceOf = (s: SyscallName) => costs.hit.get(s) ?? costs.defaultHit;
  const used = [...new Set([...[...set.hits.keys()].map(sourceOf), costs.collateral])];
  const evaluate = (cost: (src: CostSource) => number) => overheadPct(rates, set, (s) => cost(sourceOf(s)), cost(costs.collateral));
  const value = evaluate((src) => median(src.perRound));
  const random = seededRandom(options.seed);
  const draws: number[] = [];
  for (let b = 0; b < options.resamples; b++) {
    const drawn = new Map(used.map((src) => [src, resampledMedian(src.perRound, random)]));
    draws.push(evaluate((src) => drawn.get(src)!));
  }
  draws.sort((a, b) => a - b);
  const tail = (1 - options.confidence) / 2;
  const at = (q: number) => draws[Math.min(draws.length - 1, Math.max(0, Math.floor(q * draws.length)))]!;
  const overhead = { value, ciLow: at(tail), ciHigh: at(1 - tail) };
  const hookedCalls = [...set.hits.keys()].reduce((n, s) => n + (rates.calls[s] ?? 0), 0);
  return {
    name: set.name,
    mechanism: set.mechanism,
    overhead,
    verdict: verdictAgainstBudget(overhead, options.budget),
    hookedPerCpuS: hookedCalls / rates.cpuS,
    otherPerCpuS: Math.max(0, rates.totalCalls - hookedCalls) / rates.cpuS,
    sources: used.map((s) => s.cell),
  };
}

export interface Comparison {
  prediction: Prediction;
  /** The measured cell's median overhead, where the results hold it for the recorded workload. */
  measured: Estimate | null;
  /** prediction - measured, percentage points. */
  errorPp: number | null;
}

/** Each prediction beside the measured overhead of the same cell on `workload`, where measured. */
export function compareWithMeasured(predictions: readonly Prediction[], results: Results, workload: string): Comparison[] {
  return predictions.map((prediction) => {
    const cell = results.cells.find((c) => c.mechanism === prediction.name && c.workload === workload && usable(c));
    const measured = cell?.stats?.overheadMedian ?? null;
    return { prediction, measured, errorPp: measured ? prediction.overhead.value - measured.value : null };
  });
}
