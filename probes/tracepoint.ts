import { hookTargetFor, type HookTarget } from './hookpoints.js';
import { attachInstance, countInstance, scopeInstance, detachInstance, tryInstance, type InstanceHandle } from './tracefsProbe.js';
import type { Mechanism } from './types.js';

const enableFile = (t: HookTarget) => `events/syscalls/sys_enter_${t.syscall}/enable`;

/** Per-syscall tracepoint `syscalls:sys_enter_<syscall>`, recorded into a private ftrace ring buffer. */
export const tracepoint: Mechanism<InstanceHandle> = {
  name: 'tracepoint',
  family: 'tracefs',
  summary: 'syscall tracepoint sys_enter_<syscall> via tracefs, events into a private ring buffer (recording scoped to the workload\'s process tree once it is ready)',
  hookPoint: (t) => `syscalls:sys_enter_${t.syscall}`,
  expectedPerOp: (t) => t.expectedPerOp,
  detect: (ctx) => tryInstance(ctx.journal, ctx.tag, [[enableFile(hookTargetFor('mprotect')), '1']]),
  attach: (t, ctx) => attachInstance(ctx.journal, ctx.tag, [[enableFile(t), '1']]),
  scope: async (h, workload) => scopeInstance(h, workload.pid),
  count: async (h) => countInstance(h),
  detach: async (h) => detachInstance(h),
};
