import { bpftraceMechanism } from './bpftrace.js';

/** Same kernel function as the tracefs kprobe (the hook table's kernelFunction). */
export const bpfKprobe = bpftraceMechanism({
  name: 'bpf-kprobe',
  summary: 'bpftrace kprobe on the operation\'s kernel function, count() into a per-CPU map (counts every process)',
  probe: (t, names) => ({ type: 'kprobe', target: names.kernelFunction(t.kernelFunction) }),
});
