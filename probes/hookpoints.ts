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
  /**
   * The kernel's security_* function that calls that hook: a function BPF may change the return of
   * (fmod_ret) on every kernel, where the syscall entries are only with CONFIG_FUNCTION_ERROR_INJECTION.
   */
  securityFunction: string;
  /** A non-syscall tracepoint on the operation's path, where the kernel has a natural one. */
  pathTracepoint: string | null;
  /** Hooked events per workload op for a mechanism that sees each hooked call once. */
  expectedPerOp: number;
  /**
   * Every hooked syscall one op makes, per op, where the workload makes more than `syscall`: what a
   * hook set (probes/profiles.ts) must see. hids-mix prints its own (the "mix" of its line) and a test
   * holds this row to it. Absent: the op makes `expectedPerOp` calls of `syscall` and nothing else hooked.
   */
  mix?: Readonly<Partial<Record<SyscallName, number>>>;
  /**
   * True where `expectedPerOp` and `mix` are lower bounds, not exact counts: a build's calls depend on
   * the toolchain (how many programs the compiler driver runs), so its row holds only what make and the
   * driver must at least do. Validation (events >= 0.99 x expected) is the same either way.
   */
  lowerBound?: boolean;
}

/** Syscalls hookbench may name to tracefs, auditctl or bpftrace: a fixed table, never user text. */
export const SYSCALL_NUMBERS_X86_64 = {
  mprotect: 10,
  getppid: 110,
  execve: 59,
  openat: 257,
  // The syscalls behind Elkeid's default hooks (probes/profiles.ts), with their *at and newer variants.
  connect: 42,
  accept: 43,
  sendto: 44,
  recvfrom: 45,
  sendmsg: 46,
  bind: 49,
  rename: 82,
  creat: 85,
  link: 86,
  chmod: 90,
  fchmod: 91,
  ptrace: 101,
  setsid: 112,
  prctl: 157,
  mount: 165,
  init_module: 175,
  renameat: 264,
  linkat: 265,
  fchmodat: 268,
  sendmmsg: 307,
  finit_module: 313,
  renameat2: 316,
  memfd_create: 319,
  execveat: 322,
  fchmodat2: 452,
  // No workload makes it: the target of rules that must not match (audit-other).
  sethostname: 170,
} as const;
export type SyscallName = keyof typeof SYSCALL_NUMBERS_X86_64;

const mprotectTarget = {
  syscall: 'mprotect',
  kernelFunction: 'do_mprotect_pkey',
  lsmHook: 'file_mprotect',
  securityFunction: 'security_file_mprotect',
  pathTracepoint: null,
} as const;

const execveTarget = {
  syscall: 'execve',
  kernelFunction: 'bprm_execve',
  lsmHook: 'bprm_check_security',
  securityFunction: 'security_bprm_check',
  pathTracepoint: 'sched:sched_process_exec',
} as const;

/** Sources of the build workload's generated project: its modules and main.c (workloads/build-project.c). */
export const BUILD_SOURCES = 201;

export const HOOK_TARGETS: Readonly<Record<string, HookTarget>> = {
  mprotect: { workload: 'mprotect', ...mprotectTarget, expectedPerOp: 1 },
  // null hooks the same point as mprotect but never reaches it: what is measured is collateral cost.
  null: { workload: 'null', ...mprotectTarget, expectedPerOp: 0 },
  execve: { workload: 'execve', ...execveTarget, expectedPerOp: 1 },
  open: {
    workload: 'open',
    syscall: 'openat',
    kernelFunction: 'do_sys_openat2',
    lsmHook: 'file_open',
    securityFunction: 'security_file_open',
    pathTracepoint: null,
    expectedPerOp: 1,
  },
  // A single-syscall mechanism hooks each cycle's one execve; profiles see the whole mix.
  'hids-mix': {
    workload: 'hids-mix',
    ...execveTarget,
    expectedPerOp: 1,
    mix: {
      openat: 4,
      chmod: 2,
      rename: 2,
      link: 1,
      bind: 1,
      connect: 2,
      accept: 2,
      sendto: 4,
      recvfrom: 4,
      execve: 1,
      setsid: 1,
      prctl: 1,
      ptrace: 2,
      memfd_create: 1,
      mount: 1,
    },
  },
  // One op is one build of BUILD_SOURCES sources: at least make's own execve and one compiler driver
  // per source and for the link; at least one openat reading each source and one creating each object
  // and the program. (gcc 12 here: 607 execve and ~57,000 openat per build.)
  build: {
    workload: 'build',
    ...execveTarget,
    expectedPerOp: BUILD_SOURCES + 2,
    mix: { execve: BUILD_SOURCES + 2, openat: 2 * BUILD_SOURCES + 1 },
    lowerBound: true,
  },
};

/** What a hook set must see per op of `target`'s workload: its mix, or its one hooked syscall. */
export function mixOf(target: HookTarget): Readonly<Partial<Record<SyscallName, number>>> {
  return target.mix ?? { [target.syscall]: target.expectedPerOp };
}

export function hookTargetFor(workload: string): HookTarget {
  const target = HOOK_TARGETS[workload];
  if (!target) throw new Error(`no hook target for workload '${workload}'`);
  return target;
}
