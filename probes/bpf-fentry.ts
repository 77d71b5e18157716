import { bpftraceMechanism } from './bpftrace.js';

/** fentry through a BPF trampoline; bpftrace 0.17 spells it `kfunc`. */
export const bpfFentry = bpftraceMechanism({
  name: 'bpf-fentry',
  summary: 'bpftrace kfunc (fentry, BPF trampoline) on the operation\'s kernel function, count() into a per-CPU map (counts every process)',
  probe: (t, names) => ({ type: 'kfunc', target: names.kernelFunction(t.kernelFunction) }),
});
