import { bpftraceMechanism } from './bpftrace.js';

/** Raw tracepoint raw_syscalls:sys_enter (args: regs, id): fires on every syscall, the program keeps the hooked id. */
export const bpftraceRawtracepoint = bpftraceMechanism({
  name: 'bpftrace-rawtracepoint',
  summary: 'bpftrace on the raw tracepoint sys_enter filtered in-program to the syscall id, count() of the workload\'s calls (filtered on its comm) into a per-CPU map',
  probe: (t, names) => ({ type: 'rawtracepoint', target: 'sys_enter', filter: `arg1 == ${names.syscallNumber(t.syscall)}` }),
});
