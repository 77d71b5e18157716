import { bpftraceMechanism } from './bpftrace.js';

/** fentry through a BPF trampoline; bpftrace 0.17 spells it `kfunc`. */
export const bpftraceKfunc = bpftraceMechanism({
  name: 'bpftrace-kfunc',
  summary: 'bpftrace kfunc (fentry, BPF trampoline) on the operation\'s kernel function, count() of the workload\'s calls (filtered on its comm) into a per-CPU map',
  probe: (t, names) => ({ type: 'kfunc', target: names.kernelFunction(t.kernelFunction) }),
});
