import { bpftraceMechanism } from './bpftrace.js';

export const bpftraceKretprobe = bpftraceMechanism({
  name: 'bpftrace-kretprobe',
  summary: 'bpftrace kretprobe on the operation\'s kernel function, count() of the workload\'s calls (filtered on its comm) into a per-CPU map',
  probe: (t, names) => ({ type: 'kretprobe', target: names.kernelFunction(t.kernelFunction) }),
});
