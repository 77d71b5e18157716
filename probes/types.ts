import type { HookTarget } from './hookpoints.js';
import type { Journal } from './journal.js';

export interface Support {
  supported: boolean;
  /** Why not (the kernel's own words where it gave any), or what was checked. */
  reason: string;
}

export interface AttachContext {
  journal: Journal;
  /** Unique per run and per attachment: goes into every kernel object's name (`hookbench-<pid>-<n>`). */
  tag: string;
  /**
   * BPF mechanisms: switch kernel.bpf_stats_enabled on while attached, for ProbeCount.inProgramNs
   * (default true). The stats add two clock reads to every program run, so a run that times the
   * end-to-end cost can leave them off and take the in-program cost from another (e.g. the warm-up).
   */
  bpfStats?: boolean;
}

export interface WorkloadProcess {
  pid: number;
}

/** What one probed run saw, read before detach. */
export interface ProbeCount {
  events: number;
  /** BPF mechanisms: in-program ns per event from bpf_stats (run_time_ns / run_cnt), else null. */
  inProgramNs?: number | null;
  /** Something the reader must know about this count (e.g. records the kernel dropped). */
  note?: string;
  /** Mechanisms run by a tool (bpftrace, the bare BPF loader): ms from its start until every probe was attached, outside any timed run. */
  startupMs?: number;
  /**
   * Mechanisms that attach several hooks at once (hook profiles, keyed bpftrace maps): events per hook
   * (or per map key), whose sum is `events`.
   */
  perHook?: Record<string, number>;
}

/**
 * One hook mechanism. A declarative entry like the kernel's BPF `bench` trig-* set: it names its hook
 * point per workload and knows how to attach, count and detach. Attach must journal every kernel object
 * before creating it, so `hookbench cleanup` can undo it after a SIGKILL.
 */
export interface Mechanism<H = unknown> {
  readonly name: string;
  readonly family: 'tracefs' | 'audit' | 'bpf' | 'bpftrace' | 'uprobe' | 'none';
  readonly summary: string;
  /** Human-readable hook point for this workload, e.g. `syscalls:sys_enter_mprotect`. */
  hookPoint(target: HookTarget): string;
  /** Events per workload op this mechanism must count for the cell to be valid. */
  expectedPerOp(target: HookTarget): number;
  /** Really tries the mechanism (attach + detach on the mprotect target) and says why it failed. */
  detect(ctx: AttachContext): Promise<Support>;
  attach(target: HookTarget, ctx: AttachContext): Promise<H>;
  /**
   * Called once the workload is ready and waiting, before its timed loop (HOOKBENCH_GATE, see
   * workloads/common.c): from now on count only this process and what it forks. tracefs mechanisms
   * narrow their instance's pid list to it and clear what they recorded before; bare BPF programs (given
   * the workload's comms at attach) note their counters, to count from here; bpftrace programs were given
   * the comms too, and audit counts from the workload's gate (scopeAudit).
   */
  scope(handle: H, workload: WorkloadProcess): Promise<void>;
  /**
   * Events of the workload's own process tree since scope, and no one else's: hookbench's own calls,
   * perf's, the launcher's (taskset's PATH search, perf's exec of the workload), the loader's and
   * other processes' never count, so events per op are exact (the cell is INVALID when they are not).
   */
  count(handle: H, workload: WorkloadProcess): Promise<ProbeCount>;
  detach(handle: H): Promise<void>;
}

export type AnyMechanism = Mechanism<any>;
