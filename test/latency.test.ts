import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, type TestContext } from 'vitest';
import { InterruptedError } from '../bench/errors.js';
import { mechanismLatency, measureLatency, type LatencyOptions } from '../bench/latency.js';
import { ResultsSchema, type Latency, type LatencyStats, type MechanismLatency, type Results } from '../bench/results.js';
import { buildCharts } from '../reports/charts/index.js';
import { writeReports } from '../reports/index.js';
import { latencySection } from '../reports/latency.js';
import { hookTargetFor } from '../probes/hookpoints.js';
import { none } from '../probes/none.js';
import { MECHANISMS } from '../probes/registry.js';
import type { AnyMechanism } from '../probes/types.js';
import { renderScene } from './fixtures/reports-scene.js';
import { syntheticResults } from './fixtures/reports-synthetic.js';
import { bpfStatsValue, leftovers, support } from './mechanisms-harness.js';

/**
 * Attach/detach latency (bench/latency.ts) on this kernel's real mechanisms, and its place in the
 * reports. Audit is never timed here: enabling it is sticky until reboot and would tax every later test.
 */

const MIN_CYCLES = 10;
const mean = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const sum = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0);

/** A private journal directory per measurement: it must be empty again afterwards. */
function journalDir(): string {
  return mkdtempSync(join(tmpdir(), 'hookbench-latency-'));
}

/** Nothing of this process left in the kernel, the journal gone, BPF stats as they were. */
function expectNothingLeft(dir: string, statsBefore: string): void {
  expect(leftovers()).toEqual({ instances: [], dynamicEvents: [], tools: [] });
  expect(readdirSync(dir)).toEqual([]);
  expect(bpfStatsValue()).toBe(statsBefore);
  rmSync(dir, { recursive: true });
}

function expectTimed(stats: LatencyStats, what: string): void {
  expect(stats.samples, what).toBeGreaterThanOrEqual(MIN_CYCLES);
  expect(stats.samplesMs, what).toHaveLength(stats.samples);
  expect(stats.samplesMs, `${what}: ascending, as tinybench keeps them`).toEqual([...stats.samplesMs].sort((a, b) => a - b));
  // The statistics are the samples' own: the raw samples are what was measured, nothing dropped.
  expect(stats.meanMs, what).toBeCloseTo(mean(stats.samplesMs), 9);
  expect(stats.samplesMs[0]!, what).toBeGreaterThan(0);
  expect(stats.samplesMs[0]!, what).toBeLessThanOrEqual(stats.meanMs);
  expect(stats.meanMs, what).toBeLessThanOrEqual(stats.p99Ms);
  expect(stats.p99Ms, what).toBeLessThanOrEqual(stats.samplesMs.at(-1)!);
  expect(Number.isFinite(stats.rme) && stats.rme >= 0, `${what}: rme ${stats.rme}`).toBe(true);
}

/** Non-audit mechanisms, what detect() says of each (detect of audit would enable it: never here). */
const candidates = MECHANISMS.filter((m) => m.family !== 'audit' && m.name !== 'none');
const detected = new Map<string, Awaited<ReturnType<typeof support>>>();
async function detection(m: AnyMechanism) {
  if (!detected.has(m.name)) detected.set(m.name, await support(m));
  return detected.get(m.name)!;
}

/** The first tracefs mechanism this kernel supports (they attach in milliseconds); skipped visibly if none. */
async function supportedTracefs(ctx: TestContext): Promise<AnyMechanism> {
  const reasons: string[] = [];
  for (const m of candidates.filter((c) => c.family === 'tracefs')) {
    const s = await detection(m);
    if (s.supported) return m;
    reasons.push(`${m.name}: ${s.reason}`);
  }
  return ctx.skip(`no tracefs mechanism is supported on this kernel (${reasons.join('; ')})`);
}

/** `mechanism`, whose `n`-th attach in the timed cycles (detect() attaches on its own) does `then` once it has really attached. */
function onNthAttach(mechanism: AnyMechanism, n: number, then: () => void): AnyMechanism {
  let attaches = 0;
  return {
    ...mechanism,
    attach: async (target, ctx) => {
      const handle = await mechanism.attach(target, ctx);
      if (++attaches === n) then();
      return handle;
    },
  };
}

describe('attach and detach latency on this kernel', () => {
  it(`a supported mechanism: at least ${MIN_CYCLES} timed cycles per operation, consistent statistics, nothing left`, async (ctx) => {
    const mechanism = await supportedTracefs(ctx);
    const dir = journalDir();
    const stats = bpfStatsValue();
    // No time budget: exactly MIN_CYCLES cycles, few enough that the mean cannot exceed p99 (tinybench's
    // interpolated p99 of n <= 100 samples is at least the mean); the budget has its own test below.
    const latency = await mechanismLatency(mechanism, { minCycles: MIN_CYCLES, timeMs: 0, journalDir: dir });
    expect(latency).toMatchObject({ mechanism: mechanism.name, status: 'measured', hookPoint: mechanism.hookPoint(hookTargetFor('mprotect')) });
    const measured = latency as Extract<MechanismLatency, { status: 'measured' }>;
    console.log(`${mechanism.name}: attach ${measured.attach.meanMs.toFixed(3)} ms (p99 ${measured.attach.p99Ms.toFixed(3)}), detach ${measured.detach.meanMs.toFixed(3)} ms (p99 ${measured.detach.p99Ms.toFixed(3)})`);
    expectTimed(measured.attach, 'attach');
    expectTimed(measured.detach, 'detach');
    expectNothingLeft(dir, stats);
  });

  it('the time budget keeps a fast mechanism cycling past the minimum (none: only the journal)', async () => {
    const dir = journalDir();
    const stats = bpfStatsValue();
    const timeMs = 50;
    const latency = await mechanismLatency(none, { minCycles: MIN_CYCLES, timeMs, journalDir: dir });
    if (latency.status !== 'measured') throw new Error(`none not measured: ${latency.status}`);
    for (const op of [latency.attach, latency.detach]) {
      expect(op.samples).toBeGreaterThanOrEqual(MIN_CYCLES);
      expect(sum(op.samplesMs)).toBeGreaterThanOrEqual(timeMs);
    }
    expectNothingLeft(dir, stats);
  });

  it('an attach that fails mid-way: the mechanism is reported with the error, and what it attached is undone', async (ctx) => {
    const real = await supportedTracefs(ctx);
    const dir = journalDir();
    const stats = bpfStatsValue();
    // The 3rd attach really attaches, then fails: its handle never reaches the cycle, only the journal knows it.
    const failing = onNthAttach(real, 3, () => {
      throw new Error('synthetic attach failure');
    });
    const latency = await mechanismLatency(failing, { minCycles: MIN_CYCLES, timeMs: 0, journalDir: dir });
    expect(latency).toEqual({ mechanism: real.name, hookPoint: real.hookPoint(hookTargetFor('mprotect')), status: 'error', reason: 'synthetic attach failure' });
    expectNothingLeft(dir, stats);
  });

  it('a signal mid-way: InterruptedError after the cycle in progress is undone, nothing left', async (ctx) => {
    const real = await supportedTracefs(ctx);
    const dir = journalDir();
    const stats = bpfStatsValue();
    const controller = new AbortController();
    const interrupted = onNthAttach(real, 4, () => controller.abort('SIGINT'));
    const options: LatencyOptions = { minCycles: MIN_CYCLES, timeMs: 0, journalDir: dir, signal: controller.signal };
    const error = await mechanismLatency(interrupted, options).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(InterruptedError);
    expect((error as InterruptedError).exitCode).toBe(130);
    expectNothingLeft(dir, stats);
  });

  it('an unsupported mechanism is listed with its reason and not timed', async (ctx) => {
    let unsupported: AnyMechanism | undefined;
    for (const m of candidates) {
      if (!(await detection(m)).supported) {
        unsupported = m;
        break;
      }
    }
    if (!unsupported) return ctx.skip(`every non-audit mechanism is supported on this kernel (${candidates.map((m) => m.name).join(', ')})`);
    const dir = journalDir();
    const stats = bpfStatsValue();
    const latency = await mechanismLatency(unsupported, { minCycles: MIN_CYCLES, timeMs: 0, journalDir: dir });
    expect(latency).toMatchObject({ mechanism: unsupported.name, status: 'unsupported' });
    expect(latency).not.toHaveProperty('attach');
    expect(latency).not.toHaveProperty('detach');
    expect((latency as { reason: string }).reason.length).toBeGreaterThan(0);
    expectNothingLeft(dir, stats);
  });

  it('measureLatency times the audit family last, as a run does (stand-ins: nothing in the kernel)', async () => {
    const dir = journalDir();
    const auditLike: AnyMechanism = { ...none, name: 'audit-stand-in', family: 'audit' };
    const order: string[] = [];
    const latency = await measureLatency([auditLike, none], { minCycles: 2, timeMs: 0, journalDir: dir }, (m) => order.push(m.mechanism));
    expect(order).toEqual(['none', 'audit-stand-in']);
    expect(latency.mechanisms.map((m) => m.mechanism)).toEqual(order);
    expect(latency).toMatchObject({ minCycles: 2, timeMs: 0 });
    expect(readdirSync(dir)).toEqual([]);
    rmSync(dir, { recursive: true });
  });

  it('refuses fewer than 2 cycles: a margin of error needs two samples', async () => {
    await expect(mechanismLatency(none, { minCycles: 1, timeMs: 0 })).rejects.toThrow(/2 cycles at least/);
  });
});

/** SYNTHETIC latency, shaped like a run's, for rendering only: never a measurement. */
function syntheticStats(meanMs: number, p99Ms: number, samples: number): LatencyStats {
  return { meanMs, p99Ms, rme: 4.2, samples, samplesMs: Array.from({ length: samples }, (_, i) => meanMs * (0.9 + (0.2 * i) / samples)) };
}

const SYNTHETIC_LATENCY: Latency = {
  minCycles: 10,
  timeMs: 500,
  mechanisms: [
    { mechanism: 'tracepoint', hookPoint: 'syscalls:sys_enter_mprotect', status: 'measured', attach: syntheticStats(17.4, 96.8, 15), detach: syntheticStats(23.6, 44.2, 10) },
    { mechanism: 'bpftrace', hookPoint: 'tracepoint:syscalls:sys_enter_mprotect', status: 'measured', attach: syntheticStats(1050, 1210, 10), detach: syntheticStats(41.5, 60.1, 10) },
    { mechanism: 'audit', hookPoint: 'syscall mprotect', status: 'measured', attach: syntheticStats(0.412, 0.9, 1200), detach: syntheticStats(0.25, 0.61, 1900) },
    { mechanism: 'kprobe', hookPoint: 'p:do_mprotect_pkey', status: 'unsupported', reason: 'CONFIG_KPROBES is not set (synthetic)' },
  ],
};

const withLatency = (results: Results): Results => ({ ...results, latency: SYNTHETIC_LATENCY });

describe('the run report shows the latency (SYNTHETIC results)', () => {
  const single = withLatency(syntheticResults());
  let out: string;

  beforeAll(async () => {
    out = mkdtempSync(join(tmpdir(), 'hookbench-latency-report-'));
    await writeReports([single], out);
  });
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it('the schema takes a document with latency, and one without (older files)', () => {
    expect(ResultsSchema.parse(single).latency).toEqual(SYNTHETIC_LATENCY);
    expect(ResultsSchema.parse(syntheticResults()).latency).toBeUndefined();
    const { attach: _attach, ...attachless } = SYNTHETIC_LATENCY.mechanisms[0] as Extract<MechanismLatency, { status: 'measured' }>;
    expect(ResultsSchema.safeParse({ ...single, latency: { ...SYNTHETIC_LATENCY, mechanisms: [attachless] } }).success).toBe(false);
  });

  it('summary.md: a table with mean, p99, ±rme and n of each operation, and why a mechanism was not timed', () => {
    const md = readFileSync(join(out, 'summary.md'), 'utf8');
    expect(md).toContain('## Attach and detach latency');
    expect(md).toContain('| mechanism | attach mean | attach p99 | attach ±rme | attach n | detach mean | detach p99 | detach ±rme | detach n | note |');
    expect(md).toContain('| tracepoint | 17.4 ms | 96.8 ms | ±4.20 % | 15 | 23.6 ms | 44.2 ms | ±4.20 % | 10 |  |');
    expect(md).toContain('| bpftrace | 1,050 ms | 1,210 ms | ±4.20 % | 10 | 41.5 ms | 60.1 ms | ±4.20 % | 10 |  |');
    expect(md).toContain('| audit | 0.412 ms | 0.900 ms | ±4.20 % | 1,200 | 0.250 ms | 0.610 ms | ±4.20 % | 1,900 |  |');
    expect(md).toContain('| kprobe | — | — | — | — | — | — | — | — | unsupported: CONFIG_KPROBES is not set (synthetic) |');
    expect(md).toContain('at least 10 cycles and 500 ms of timed work');
  });

  it('report.html: the same table, and the chart files', () => {
    const html = readFileSync(join(out, 'report.html'), 'utf8');
    expect(html).toContain('<h2 id="latency">Attach and detach latency</h2>');
    expect(html).toContain('<span class="num">1,050 ms</span>');
    expect(html).toContain('<span class="note">unsupported: CONFIG_KPROBES is not set (synthetic)</span>');
    for (const ext of ['vl.json', 'svg', 'png']) expect(existsSync(join(out, 'charts', `latency.${ext}`)), ext).toBe(true);
    expect(html).toContain('charts/latency.svg');
  });

  it('the chart: mean and p99 of each operation of each timed mechanism on a log ms axis, the untimed named', async () => {
    const chart = buildCharts([single]).find((c) => c.name === 'latency');
    if (!chart) throw new Error('no latency chart');
    const scene = await renderScene(chart.spec);
    expect(scene.warnings).toEqual([]);
    expect((scene.view.scale('x') as unknown as { type: string }).type).toBe('log');
    const means = scene.marks('symbol');
    const p99s = scene.marks('rect');
    const timed = SYNTHETIC_LATENCY.mechanisms.filter((m): m is Extract<MechanismLatency, { status: 'measured' }> => m.status === 'measured');
    const expected = timed.flatMap((m) => (['attach', 'detach'] as const).map((op) => ({ series: m.mechanism, operation: op, meanMs: m[op].meanMs, p99Ms: m[op].p99Ms })));
    const key = (d: Record<string, unknown>) => `${String(d.series)} ${String(d.operation)}`;
    expect(means.map((p) => key(p.datum)).sort()).toEqual(expected.map((e) => key(e)).sort());
    expect(p99s.map((p) => key(p.datum)).sort()).toEqual(expected.map((e) => key(e)).sort());
    for (const e of expected) {
      const dot = means.find((p) => key(p.datum) === key(e))!;
      const tick = p99s.find((p) => key(p.datum) === key(e))!;
      expect(dot.datum.meanMs).toBe(e.meanMs);
      expect(tick.datum.p99Ms).toBe(e.p99Ms);
      // p99 above the mean: its tick to the right of the dot.
      expect(tick.x! + 1, key(e)).toBeGreaterThan(dot.x!);
    }
    // A log axis: one decade is as wide wherever it is.
    const x = scene.view.scale('x') as unknown as (v: number) => number;
    expect(x(10) - x(1)).toBeCloseTo(x(1000) - x(100), 6);
    expect(JSON.stringify((chart.spec as { title: unknown }).title)).toContain('kprobe (unsupported)');
  });

  it('a kernel matrix gets a host/kernel series; results without latency get no table and no chart', () => {
    const other = withLatency(syntheticResults({ kernelRelease: '6.1.0-56-amd64', seed: 2 }));
    const charts = buildCharts([single, other]);
    expect(charts.map((c) => c.name)).toContain('latency');
    const points = (charts.find((c) => c.name === 'latency')!.spec as { data: { values: { series: string }[] } }).data.values;
    expect(points.some((p) => p.series === 'tracepoint @ synthetic-host 6.1.0-56-amd64')).toBe(true);
    expect(buildCharts([syntheticResults()]).map((c) => c.name)).not.toContain('latency');
  });

  it('doctor --latency prints the same figures as an aligned table', () => {
    const text = latencySection(SYNTHETIC_LATENCY);
    const lines = text.split('\n');
    const header = lines.find((l) => l.includes('attach mean'))!;
    expect(header).toMatch(/mechanism\s+attach mean\s+attach p99\s+attach ±rme\s+attach n\s+detach mean\s+detach p99\s+detach ±rme\s+detach n\s+note/);
    const tracepoint = lines.find((l) => l.trimStart().startsWith('tracepoint'))!;
    expect(tracepoint.trim().split(/\s{2,}/)).toEqual(['tracepoint', '17.4 ms', '96.8 ms', '±4.20 %', '15', '23.6 ms', '44.2 ms', '±4.20 %', '10']);
    expect(lines.find((l) => l.trimStart().startsWith('kprobe'))).toContain('unsupported: CONFIG_KPROBES is not set (synthetic)');
  });
});
