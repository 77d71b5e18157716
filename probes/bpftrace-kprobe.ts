import { bpftraceMechanism } from './bpftrace.js';

/** Same kernel function as the tracefs kprobe (the hook table's kernelFunction). */
export const bpftraceKprobe = bpftraceMechanism({
  name: 'bpftrace-kprobe',
  summary: 'bpftrace kprobe on the operation\'s kernel function, count() of the workload\'s calls (filtered on its comm) into a per-CPU map',
  probe: (t, names) => ({ type: 'kprobe', target: names.kernelFunction(t.kernelFunction) }),
});
