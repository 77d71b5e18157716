import { detectByAttaching } from './detect.js';
import { kernelFunction } from './symbols.js';
import { attachDynamicEvent, countInstance, scopeInstance, detachDynamicEvent, type DynamicEventHandle } from './tracefsProbe.js';
import type { Mechanism } from './types.js';

/**
 * kprobe (`p:`) on the hook table's kernel function (e.g. do_mprotect_pkey): every function-level
 * mechanism (kprobe, kretprobe, ftrace, bpftrace-kprobe, fentry, fexit) hooks that same function, so they
 * compare like for like; the syscall layer is the tracepoints' and audit's.
 */
export const kprobe: Mechanism<DynamicEventHandle> = {
  name: 'kprobe',
  family: 'tracefs',
  summary: 'tracefs kprobe (p:) on the operation\'s kernel function, events into a private ring buffer (recording scoped to the workload\'s process tree once it is ready)',
  hookPoint: (t) => `p:${t.kernelFunction}`,
  expectedPerOp: (t) => t.expectedPerOp,
  detect: (ctx) => detectByAttaching(kprobe, ctx),
  attach: async (t, ctx) => {
    const fn = kernelFunction(t.kernelFunction);
    return attachDynamicEvent(ctx.journal, ctx.tag, { file: 'kprobe_events', type: 'p', event: `p_${fn}`, location: fn });
  },
  scope: async (h, workload) => scopeInstance(h, workload.pid),
  count: async (h) => countInstance(h),
  detach: (h) => detachDynamicEvent(h),
};
