import type { HookTarget } from './hookpoints.js';
import { detectByAttaching } from './detect.js';
import { syscallNumber } from './symbols.js';
import { attachInstance, countInstance, scopeInstance, detachInstance, type InstanceHandle } from './tracefsProbe.js';
import type { Mechanism } from './types.js';

const filter = (t: HookTarget) => `id == ${syscallNumber(t.syscall)}`;

/**
 * raw_syscalls:sys_enter + sys_exit, the syscall-wide hook: it runs on every syscall of every process
 * and the filter drops all but the hooked one, so what the `null` workload shows is the cost of a
 * hook that fires and is filtered out. Filters are set before enabling: no unfiltered event is recorded.
 */
export const rawSyscalls: Mechanism<InstanceHandle> = {
  name: 'raw-syscalls',
  family: 'tracefs',
  summary: 'raw_syscalls:sys_enter + sys_exit via tracefs, filtered to the syscall id, events into a private ring buffer (recording scoped to the workload\'s process tree once it is ready)',
  hookPoint: (t) => `raw_syscalls:sys_enter,sys_exit (${filter(t)})`,
  // One record at entry and one at exit per hooked call.
  expectedPerOp: (t) => 2 * t.expectedPerOp,
  detect: (ctx) => detectByAttaching(rawSyscalls, ctx),
  attach: async (t, ctx) =>
    attachInstance(ctx.journal, ctx.tag, [
      ['events/raw_syscalls/sys_enter/filter', filter(t)],
      ['events/raw_syscalls/sys_exit/filter', filter(t)],
      ['events/raw_syscalls/sys_enter/enable', '1'],
      ['events/raw_syscalls/sys_exit/enable', '1'],
    ]),
  scope: async (h, workload) => scopeInstance(h, workload.pid),
  count: async (h) => countInstance(h),
  detach: async (h) => detachInstance(h),
};
