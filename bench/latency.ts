import { Bench, type Task } from 'tinybench';
import { hookTargetFor } from '../probes/hookpoints.js';
import { Journal } from '../probes/journal.js';
import type { AnyMechanism, AttachContext, Mechanism } from '../probes/types.js';
import { undoAllAndClose } from '../probes/undo.js';
import { InterruptedError } from './errors.js';
import type { Latency, LatencyStats, MechanismLatency } from './results.js';

/**
 * Attach and detach latency per mechanism: what an agent pays each time it starts at boot or reloads
 * its hooks. It differs by orders of magnitude between mechanisms (enabling an event in a tracefs
 * instance takes about a millisecond, starting bpftrace about a second), so every mechanism gets at
 * least `minCycles` timed cycles, and a fast one as many more as `timeMs` of timed work allows.
 */

/**
 * Timed cycles per operation at least, by default (`hookbench run --latency-cycles`, `doctor
 * --latency`): with 10 samples the t interval's critical value (2.26) is within 15 % of the normal
 * one, and a bpftrace mechanism (up to ~1 s per attach, paid in both operations' cycles) costs up to
 * ~20 s, a third of one cell's default --max-time.
 */
export const DEFAULT_LATENCY_CYCLES = 10;

/**
 * Timed ms per operation at least, by default: a mechanism that attaches in ~1 ms (tracefs) keeps
 * cycling for hundreds of samples, so its p99 rests on more than its few largest, in a few seconds.
 */
export const DEFAULT_LATENCY_TIME_MS = 500;

/** A margin of error needs a standard deviation: two samples at least. */
export const MIN_LATENCY_CYCLES = 2;

export interface LatencyOptions {
  /** Timed cycles per operation at least (MIN_LATENCY_CYCLES or more). */
  minCycles: number;
  /** Timed ms per operation at least (tinybench's `time`): only fast mechanisms reach it before `minCycles`. */
  timeMs: number;
  /** On abort (Ctrl-C) the cycle in progress finishes, everything is undone, and InterruptedError is thrown. */
  signal?: AbortSignal;
  /** The journal's directory; default /run/hookbench, where `hookbench cleanup` looks after a SIGKILL. */
  journalDir?: string;
}

/** The one hook point every mechanism is timed on: the mprotect workload's, which `detect()` tries too. */
const TARGET = hookTargetFor('mprotect');

let attachments = 0;

/** Each attachment gets its own tag (every kernel object's name carries it); `l` keeps them apart from a run's. */
function attachContext(journal: Journal): AttachContext {
  // BPF run-time stats off: an agent does not switch them on, and a run's timed rounds leave them off too.
  return { journal, tag: `hookbench-${process.pid}-l${++attachments}`, bpfStats: false };
}

function throwIfInterrupted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new InterruptedError(signal.reason as NodeJS.Signals);
}

function latencyStats(task: Task): LatencyStats {
  const result = task.result;
  if (result.state !== 'completed') throw new Error(`tinybench task '${task.name}' ended ${result.state}`);
  const { mean, p99, rme, samples, samplesCount } = result.latency;
  return { meanMs: mean, p99Ms: p99, rme, samples: samplesCount, samplesMs: [...(samples ?? [])] };
}

/**
 * Two tinybench tasks on one mechanism: "attach" times attach and detaches in its afterEach, "detach"
 * attaches in its beforeEach and times detach. tinybench times the task function alone, never its
 * hooks, so each operation is timed without the other. No warm-up cycles: detect() has just attached
 * and detached once on this journal, paying the cold costs (creating the tracefs instance that later
 * attachments reuse, starting auditd), and a warm-up cycle would cost a bpftrace mechanism seconds.
 */
async function timeCycles<H>(mechanism: Mechanism<H>, journal: Journal, options: LatencyOptions): Promise<{ attach: LatencyStats; detach: LatencyStats }> {
  let held: { handle: H } | null = null;
  const attach = async () => {
    held = { handle: await mechanism.attach(TARGET, attachContext(journal)) };
  };
  // Also the attach task's afterEach, which finds nothing held when attach failed.
  const detach = async () => {
    if (!held) return;
    const { handle } = held;
    held = null;
    await mechanism.detach(handle);
  };
  // A signal of its own that follows the caller's: tinybench never removes its abort listeners, and
  // one long-lived signal would collect three per mechanism.
  const signal = options.signal && AbortSignal.any([options.signal]);
  const bench = new Bench({ iterations: options.minCycles, time: options.timeMs, warmup: false, retainSamples: true, throws: true, signal });
  bench.add('attach', attach, { afterEach: detach }).add('detach', detach, { beforeEach: attach });
  await bench.run();
  throwIfInterrupted(options.signal);
  return { attach: latencyStats(bench.getTask('attach')!), detach: latencyStats(bench.getTask('detach')!) };
}

/**
 * One mechanism: detect() (a real attach and detach), then the timed cycles. An unsupported mechanism
 * is listed with detect()'s reason and not timed; one whose cycles fail says why. Everything attached,
 * whatever happened, is undone before this returns or throws, from a journal of its own.
 */
export async function mechanismLatency(mechanism: AnyMechanism, options: LatencyOptions): Promise<MechanismLatency> {
  if (!Number.isInteger(options.minCycles) || options.minCycles < MIN_LATENCY_CYCLES) {
    throw new Error(`latency needs ${MIN_LATENCY_CYCLES} cycles at least, got ${options.minCycles}`);
  }
  throwIfInterrupted(options.signal);
  const subject = { mechanism: mechanism.name, hookPoint: mechanism.hookPoint(TARGET) };
  const journal = new Journal(options.journalDir);
  try {
    const support = await mechanism.detect(attachContext(journal));
    throwIfInterrupted(options.signal);
    if (!support.supported) return { ...subject, status: 'unsupported', reason: support.reason };
    return { ...subject, status: 'measured', ...(await timeCycles(mechanism, journal, options)) };
  } catch (err) {
    // A signal reaches bpftrace and auditctl too: their failure is then the interruption, not the mechanism's.
    throwIfInterrupted(options.signal);
    return { ...subject, status: 'error', reason: (err as Error).message.split('\n')[0]! };
  } finally {
    await undoAllAndClose(journal);
  }
}

/**
 * Every mechanism in turn, the audit family last as in a run. Audit's cycles are real: each enables
 * audit on the host (its detach restores the enabled flag, as in a run), and every task created while
 * it was on keeps an audit context until reboot, bpftrace's starts among them.
 */
export async function measureLatency(mechanisms: readonly AnyMechanism[], options: LatencyOptions, onMeasured: (latency: MechanismLatency) => void = () => {}): Promise<Latency> {
  const ordered = [...mechanisms.filter((m) => m.family !== 'audit'), ...mechanisms.filter((m) => m.family === 'audit')];
  const measured: MechanismLatency[] = [];
  for (const mechanism of ordered) {
    const latency = await mechanismLatency(mechanism, options);
    measured.push(latency);
    onMeasured(latency);
  }
  return { minCycles: options.minCycles, timeMs: options.timeMs, mechanisms: measured };
}
