import { detectByAttaching } from './detect.js';
import { kernelFunction } from './symbols.js';
import { attachDynamicEvent, countInstance, scopeInstance, detachDynamicEvent, type DynamicEventHandle } from './tracefsProbe.js';
import type { Mechanism } from './types.js';

/** kretprobe (`r:`) on the same kernel function as kprobe: the return trampoline's extra cost. */
export const kretprobe: Mechanism<DynamicEventHandle> = {
  name: 'kretprobe',
  family: 'tracefs',
  summary: 'tracefs kretprobe (r:) on the operation\'s kernel function, events into a private ring buffer (recording scoped to the workload\'s process tree once it is ready)',
  hookPoint: (t) => `r:${t.kernelFunction}`,
  expectedPerOp: (t) => t.expectedPerOp,
  detect: (ctx) => detectByAttaching(kretprobe, ctx),
  attach: async (t, ctx) => {
    const fn = kernelFunction(t.kernelFunction);
    return attachDynamicEvent(ctx.journal, ctx.tag, { file: 'kprobe_events', type: 'r', event: `r_${fn}`, location: fn });
  },
  scope: async (h, workload) => scopeInstance(h, workload.pid),
  count: async (h) => countInstance(h),
  detach: (h) => detachDynamicEvent(h),
};
