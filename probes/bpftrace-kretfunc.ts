import { bpftraceMechanism } from './bpftrace.js';

/** fexit through a BPF trampoline; bpftrace 0.17 spells it `kretfunc`. */
export const bpftraceKretfunc = bpftraceMechanism({
  name: 'bpftrace-kretfunc',
  summary: 'bpftrace kretfunc (fexit, BPF trampoline) on the operation\'s kernel function, count() of the workload\'s calls (filtered on its comm) into a per-CPU map',
  probe: (t, names) => ({ type: 'kretfunc', target: names.kernelFunction(t.kernelFunction) }),
});
