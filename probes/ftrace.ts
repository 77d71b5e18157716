import { detectByAttaching } from './detect.js';
import { kernelFunction } from './symbols.js';
import { attachInstance, countInstance, detachInstance, scopeInstance, type InstanceHandle } from './tracefsProbe.js';
import type { Mechanism } from './types.js';

/**
 * The function tracer in the private instance, filtered to the kernel function kprobe hooks. The
 * filter is written before the tracer is switched on, so it never traces every function, not even
 * for a moment. The top-level tracer is never touched.
 */
export const ftrace: Mechanism<InstanceHandle> = {
  name: 'ftrace',
  family: 'tracefs',
  summary: 'function tracer in a private tracefs instance with set_ftrace_filter = the operation\'s kernel function (recording scoped to the workload\'s process tree once it is ready)',
  hookPoint: (t) => `function:${t.kernelFunction}`,
  expectedPerOp: (t) => t.expectedPerOp,
  detect: (ctx) => detectByAttaching(ftrace, ctx),
  attach: async (t, ctx) => {
    const fn = kernelFunction(t.kernelFunction);
    try {
      return await attachInstance(ctx.journal, ctx.tag, [
        ['set_ftrace_filter', fn],
        // The function tracer has its own pid scope (set_event_pid covers trace events only).
        ['options/function-fork', '1'],
        ['set_ftrace_pid', String(process.pid)],
        ['current_tracer', 'function'],
      ]);
    } catch (err) {
      throw new Error(`function tracer: ${(err as Error).message}`);
    }
  },
  // The function tracer has its own pid list, narrowed to the workload's threads with the events'.
  scope: async (h, workload) => scopeInstance(h, workload.pid, ['set_ftrace_pid']),
  count: async (h) => countInstance(h),
  detach: async (h) => detachInstance(h),
};
