import { mkdtempSync, readdirSync, readFileSync, rmdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { execa } from 'execa';
import { runUnderPerfStat } from '../bench/perfstat.js';
import { expect, type TestContext } from 'vitest';
import { buildWorkloads, workloadArgv, type BuiltWorkloads } from '../workloads/build.js';
import { BPF_STATS_SYSCTL } from '../probes/bpfStats.js';
import { hookTargetFor } from '../probes/hookpoints.js';
import { Journal } from '../probes/journal.js';
import { hookbenchDynamicEvents, hookbenchInstances, TRACEFS } from '../probes/tracefs.js';
import { releaseIdleInstances } from '../probes/tracefsProbe.js';
import type { AnyMechanism, AttachContext, ProbeCount, Support } from '../probes/types.js';

/** Shared by the mechanism test files: real workloads, a private journal, and the leftover check. */

let tagCounter = 0;
export function newContext(): AttachContext {
  const dir = mkdtempSync(join(tmpdir(), 'hookbench-journal-'));
  return { journal: new Journal(dir, process.pid), tag: `hookbench-${process.pid}-${++tagCounter}` };
}

/** Iterations per workload: ~0.1-0.3 s each here. */
export const ITERATIONS: Record<string, number> = { mprotect: 100_000, null: 1_000_000, open: 50_000, execve: 300 };

let built: BuiltWorkloads | null = null;
/** One run of a workload; with `onReady`, gated as the runner runs it (a probe scopes itself to the pid it is given). */
export async function runWorkload(name: string, iterations: number, onReady?: (pid: number) => Promise<void>): Promise<{ ops: number; ns: number; pid: number }> {
  built ??= await buildWorkloads();
  const argv = workloadArgv(built, name, iterations);
  const stdout = onReady ? (await runUnderPerfStat(argv, { onReady })).stdout : (await execa(argv[0]!, argv.slice(1))).stdout;
  return JSON.parse(stdout) as { ops: number; ns: number; pid: number };
}

/** What this test process left in the kernel: must be nothing after every detach. */
export function leftovers(): { instances: string[]; dynamicEvents: string[]; tools: number[] } {
  const ours = [`hookbench-${process.pid}-`, `hookbench_${process.pid}_`];
  const mine = (s: string) => ours.some((o) => s.includes(o));
  return {
    instances: hookbenchInstances().filter(mine),
    dynamicEvents: hookbenchDynamicEvents().filter(mine),
    tools: toolChildren(),
  };
}

/** The processes that hold BPF programs for a mechanism: bpftrace, and the bare family's loader. */
const TOOL_COMMS = new Set(['bpftrace', 'hb-bpf-loader']);

/** Processes whose parent is `parent` and whose comm is one of `comms`. */
export function childrenOf(parent: number, comms: ReadonlySet<string>): number[] {
  return readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .filter((pid) => {
      try {
        const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
        const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        return Number(fields[1]) === parent && comms.has(readFileSync(`/proc/${pid}/comm`, 'utf8').trim());
      } catch {
        return false;
      }
    })
    .map(Number);
}

/** bpftrace and loader processes whose parent is this test process. */
export const toolChildren = (): number[] => childrenOf(process.pid, TOOL_COMMS);

/** A SIGKILLed process takes a moment to die and be reaped: wait for that, up to `ms`. */
export async function toolChildrenGone(ms: number): Promise<void> {
  for (const start = Date.now(); toolChildren().length > 0 && Date.now() - start < ms; ) await new Promise((r) => setTimeout(r, 20));
}

export const bpfStatsValue = (): string => readFileSync(BPF_STATS_SYSCTL, 'utf8').trim();

/**
 * Detach leaves a run's tracefs instances idle for reuse: every event off and no tracer. Then the
 * run's end (here: releaseIdleInstances) removes them, and nothing at all is left.
 */
export function expectNothingLeft(ctx: AttachContext, statsBefore: string): void {
  for (const name of leftovers().instances) {
    const dir = join(TRACEFS, 'instances', name);
    expect(readFileSync(join(dir, 'events/enable'), 'utf8').trim(), `${name} idle`).toBe('0');
    expect(readFileSync(join(dir, 'current_tracer'), 'utf8').trim(), `${name} idle`).toBe('nop');
  }
  releaseIdleInstances(ctx.journal);
  expect(leftovers()).toEqual({ instances: [], dynamicEvents: [], tools: [] });
  expect(ctx.journal.pendingWithIds).toEqual([]);
  expect(bpfStatsValue()).toBe(statsBefore);
  ctx.journal.close();
  rmdirSync(dirname(ctx.journal.path));
}

export interface ProbedRun {
  count: ProbeCount;
  ops: number;
  perOp: number;
  attachMs: number;
  detachMs: number;
}

/** attach → one workload run → count → detach, timing attach and detach (outside the run, as the runner does). */
export async function probedRun(mechanism: AnyMechanism, workload: string, iterations: number, ctx: AttachContext): Promise<ProbedRun> {
  const t0 = performance.now();
  const handle = await mechanism.attach(hookTargetFor(workload), ctx);
  const attachMs = performance.now() - t0;
  let seen: { count: ProbeCount; ops: number } | undefined;
  let detachMs: number;
  try {
    const run = await runWorkload(workload, iterations, (pid) => mechanism.scope(handle, { pid }));
    seen = { count: await mechanism.count(handle, { pid: run.pid }), ops: run.ops };
  } finally {
    const t1 = performance.now();
    await mechanism.detach(handle);
    detachMs = performance.now() - t1;
  }
  return { ...seen, perOp: seen.count.events / seen.ops, attachMs, detachMs };
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/**
 * Attach + detach on the mprotect target, `cycles` times with nothing running in between: the set-up
 * and tear-down cost a cell pays per round, outside its timed runs. Medians in ms.
 */
export async function attachDetachTimes(mechanism: AnyMechanism, cycles: number): Promise<{ attachMs: number; detachMs: number; startupMs: number | null }> {
  const attach: number[] = [];
  const detach: number[] = [];
  const startup: number[] = [];
  for (let i = 0; i < cycles; i++) {
    const ctx = newContext();
    const stats = bpfStatsValue();
    const t0 = performance.now();
    const handle = await mechanism.attach(hookTargetFor('mprotect'), ctx);
    const t1 = performance.now();
    await mechanism.scope(handle, { pid: process.pid });
    const count = await mechanism.count(handle, { pid: process.pid });
    const t2 = performance.now();
    await mechanism.detach(handle);
    detach.push(performance.now() - t2);
    attach.push(t1 - t0);
    if (count.startupMs !== undefined) startup.push(count.startupMs);
    expectNothingLeft(ctx, stats);
  }
  return { attachMs: median(attach), detachMs: median(detach), startupMs: startup.length ? median(startup) : null };
}

/** detect() once per mechanism per file: it really attaches, so its answer is the host's. */
const supportCache = new Map<string, Support>();
export async function support(mechanism: AnyMechanism): Promise<Support> {
  const cached = supportCache.get(mechanism.name);
  if (cached) return cached;
  const ctx = newContext();
  const statsBefore = bpfStatsValue();
  const s = await mechanism.detect(ctx);
  expectNothingLeft(ctx, statsBefore);
  supportCache.set(mechanism.name, s);
  return s;
}

/** Everything one could smuggle through a hook target: each must be refused before reaching the kernel. */
export const INJECTIONS = [
  'do_mprotect_pkey;reboot',
  'do_mprotect_pkey"',
  "do_mprotect_pkey'",
  'do_mprotect_pkey\nr:evil do_mprotect_pkey',
  '../../../etc/passwd',
  'x } kprobe:vfs_read { system("id")',
];

/**
 * Skips the test where this kernel cannot run `name`, visibly: the skip carries detect()'s reason,
 * and the run's skip list (test/skipReporter.ts) prints it.
 */
export function needsSupport(ctx: TestContext, name: string, support: Support | undefined): void {
  if (!support?.supported) ctx.skip(`${name} is unsupported on this kernel: ${support?.reason ?? 'detect() was not run'}`);
}

/** The converse, for tests of the refusal itself: skipped where the kernel supports `name`. */
export function needsUnsupported(ctx: TestContext, name: string, support: Support | undefined): void {
  if (support?.supported) ctx.skip(`${name} is supported on this kernel: there is no refusal to check`);
}
