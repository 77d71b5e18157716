import { bpftraceMechanism } from './bpftrace.js';

export const bpftraceTracepoint = bpftraceMechanism({
  name: 'bpftrace-tracepoint',
  summary: 'bpftrace on the syscall tracepoint sys_enter_<syscall> (perf-event attached BPF), count() of the workload\'s calls (filtered on its comm) into a per-CPU map',
  probe: (t, names) => ({ type: 'tracepoint', target: `syscalls:sys_enter_${names.syscall(t.syscall)}` }),
});
