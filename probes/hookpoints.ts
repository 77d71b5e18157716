/**
 * The one table of what each workload's hooked operation is, at every layer a mechanism can hook.
 * Mechanisms derive their hook point from it, so adding a workload is one row here.
 */
export interface HookTarget {
  /** Workload this target belongs to. */
  workload: string;
  /** Syscall the workload's operation makes (x86-64 name, as auditctl and tracepoints spell it). */
  syscall: SyscallName;
  /** Kernel function that implements the operation (kprobe, ftrace, fentry), arch independent. */
  kernelFunction: string;
  /** LSM hook on the operation's path (BPF LSM). */
  lsmHook: string;
  /** A non-syscall tracepoint on the operation's path, where the kernel has a natural one. */
  pathTracepoint: string | null;
  /** Hooked events per workload op for a mechanism that sees each hooked call once. */
  expectedPerOp: number;
}

/** Syscalls hookbench may name to tracefs, auditctl or bpftrace: a fixed table, never user text. */
export const SYSCALL_NUMBERS_X86_64 = {
  mprotect: 10,
  getppid: 110,
  execve: 59,
  openat: 257,
  // No workload makes it: the target of rules that must not match (audit-other).
  sethostname: 170,
} as const;
export type SyscallName = keyof typeof SYSCALL_NUMBERS_X86_64;

const mprotectTarget = {
  syscall: 'mprotect',
  kernelFunction: 'do_mprotect_pkey',
  lsmHook: 'file_mprotect',
  pathTracepoint: null,
} as const;

export const HOOK_TARGETS: Readonly<Record<string, HookTarget>> = {
  mprotect: { workload: 'mprotect', ...mprotectTarget, expectedPerOp: 1 },
  // null hooks the same point as mprotect but never reaches it: what is measured is collateral cost.
  null: { workload: 'null', ...mprotectTarget, expectedPerOp: 0 },
  execve: {
    workload: 'execve',
    syscall: 'execve',
    kernelFunction: 'bprm_execve',
    lsmHook: 'bprm_check_security',
    pathTracepoint: 'sched:sched_process_exec',
    expectedPerOp: 1,
  },
  open: {
    workload: 'open',
    syscall: 'openat',
    kernelFunction: 'do_sys_openat2',
    lsmHook: 'file_open',
    pathTracepoint: null,
    expectedPerOp: 1,
  },
};

export function hookTargetFor(workload: string): HookTarget {
  const target = HOOK_TARGETS[workload];
  if (!target) throw new Error(`no hook target for workload '${workload}'`);
  return target;
}
