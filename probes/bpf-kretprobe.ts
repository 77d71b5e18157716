import { bpftraceMechanism } from './bpftrace.js';

export const bpfKretprobe = bpftraceMechanism({
  name: 'bpf-kretprobe',
  summary: 'bpftrace kretprobe on the operation\'s kernel function, count() into a per-CPU map (counts every process)',
  probe: (t, names) => ({ type: 'kretprobe', target: names.kernelFunction(t.kernelFunction) }),
});
