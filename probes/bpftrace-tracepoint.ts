import { bpftraceMechanism } from './bpftrace.js';

export const bpftraceTracepoint = bpftraceMechanism({
  name: 'bpftrace-tracepoint',
  // bcc (which bpftrace 0.17 attaches through) opens the perf event on CPU 0 with sample_period 1 and
  // bpftrace's tracepoint programs return 1, so on CPU 0 each event also takes perf's sample path: the
  // README's "bpftrace's CPU 0" measures it.
  summary: 'bpftrace on the syscall tracepoint sys_enter_<syscall> (perf-event attached BPF), count() of the workload\'s calls (filtered on its comm) into a per-CPU map; events on CPU 0 also take perf\'s sample path (bpftrace returns 1, its perf event samples on CPU 0)',
  probe: (t, names) => ({ type: 'tracepoint', target: `syscalls:sys_enter_${names.syscall(t.syscall)}` }),
});
