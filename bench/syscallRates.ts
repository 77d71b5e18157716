import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { execa } from 'execa';
import { z } from 'zod';
import { SYSCALL_NUMBERS_X86_64, type SyscallName } from '../probes/hookpoints.js';
import { kernelHasSyscall } from '../probes/profileRealisations.js';
import { workloadArgv, type BuiltWorkloads } from '../workloads/build.js';
import { UsageError } from './errors.js';
import { parseWorkloadLine } from './perfstat.js';

/**
 * A machine's (or one workload's) real syscall rates, what `hookbench predict` multiplies hook costs
 * by. Counted by the kernel's syscall tracepoints through `perf stat`, which attaches counting events
 * only (no ring buffer, no records): `syscalls:sys_enter_<name>` for every syscall hookbench can hook,
 * and `raw_syscalls:sys_enter` for all syscalls. Recording enables those tracepoints, so the machine
 * runs slightly slower while it is recorded; the counts are exact.
 *
 * The denominator of an overhead: with `--record` (all CPUs, `perf stat -a`), the CPUs' busy time from
 * /proc/stat over the counted windows (the share of the machine's work the hooks add; perf's own
 * start-up and tear-down, when nothing is counted, are left out); for one workload run,
 * the time the added work stretches that run by: its run time, or its CPU time where it keeps more than
 * one CPU busy (predictModel.ts).
 */

export const RATES_FORMAT = 'hookbench-syscall-rates/1';

/** One window of a recording: its wall length, its busy CPU time (machine recordings; null for a workload run), its counts. */
const WindowSchema = z.strictObject({
  durationS: z.number().nonnegative(),
  cpuS: z.number().nonnegative().nullable(),
  totalCalls: z.number().int().nonnegative(),
  calls: z.record(z.string(), z.number().int().nonnegative()),
});
export type RatesWindow = z.infer<typeof WindowSchema>;

/** A saved recording (`predict --save-rates`, read back by `--rates`). */
export const SyscallRatesSchema = z.strictObject({
  format: z.literal(RATES_FORMAT),
  /** What was recorded: the machine for a time, or one run of a workload. */
  source: z.string(),
  recordedAt: z.string(),
  host: z.string(),
  /** Wall seconds: the window, or the recorded workload run's own timed loop. */
  durationS: z.number().positive(),
  /** CPU time spent (not idle) in the window, all CPUs: the overhead's denominator. */
  cpuS: z.number().positive(),
  /** Ops of a recorded workload run; null for a machine recording. */
  ops: z.number().int().positive().nullable(),
  /** Every syscall entered in the window (raw_syscalls:sys_enter). */
  totalCalls: z.number().int().nonnegative(),
  /** Calls of each syscall hookbench can hook, by x86-64 name. */
  calls: z.record(z.string(), z.number().int().nonnegative()),
  /**
   * The same counts split into consecutive windows (`perf stat -I`), so the model can estimate how
   * much the rates would move had the recording been another sample of the same activity (it resamples
   * windows). Absent from recordings made before windows were kept: then rates count as exact.
   */
  windows: z.array(WindowSchema).optional(),
});

export type SyscallRates = z.infer<typeof SyscallRatesSchema>;

const TOTAL_EVENT = 'raw_syscalls:sys_enter';

/** Every syscall of hookbench's table this kernel implements (perf refuses a tracepoint that does not exist). */
async function recordableSyscalls(): Promise<SyscallName[]> {
  const all = Object.keys(SYSCALL_NUMBERS_X86_64) as SyscallName[];
  const present: SyscallName[] = [];
  for (const s of all) if (await kernelHasSyscall(s)) present.push(s);
  return present;
}

/** `perf stat -x,` lines (value,unit,event,...) for the events asked; a value perf could not count is refused. */
export function parseCountingCsv(text: string, events: readonly string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const [value, , event] = line.split(',');
    if (event === undefined || !events.includes(event)) continue;
    if (!/^\d+(\.\d+)?$/.test(value ?? '')) throw new Error(`perf stat: ${event} not counted ('${value}')`);
    counts.set(event, Number(value));
  }
  const missing = events.filter((e) => !counts.has(e));
  if (missing.length > 0) throw new Error(`perf stat: no count for ${missing.join(', ')}`);
  return counts;
}

/**
 * Runs `perf stat -x, <perfArgs> -e <events> -- <command>` and returns its output file's text and the
 * command's stdout; `onOutput` sees the command's output as it comes.
 */
async function perfStat(perfArgs: readonly string[], events: readonly string[], command: readonly string[], onOutput?: (chunk: string) => void): Promise<{ csv: string; stdout: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'hookbench-rates-'));
  const output = join(dir, 'perf.csv');
  try {
    const child = execa('perf', ['stat', '-x,', ...perfArgs, '-e', events.join(','), '-o', output, '--', ...command], { reject: false, env: { LC_ALL: 'C' } });
    if (onOutput) child.stdout?.on('data', (chunk: Buffer) => onOutput(chunk.toString()));
    const r = await child;
    if (r.exitCode !== 0) throw new Error(`perf stat ${command.join(' ')} failed (exit ${r.exitCode ?? r.signal}): ${r.stderr.trim()}`);
    return { csv: await readFile(output, 'utf8'), stdout: r.stdout };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Runs `perf stat` and returns its counts. */
async function perfCount(perfArgs: readonly string[], events: readonly string[], command: readonly string[]): Promise<{ counts: Map<string, number>; stdout: string }> {
  const { csv, stdout } = await perfStat(perfArgs, events, command);
  return { counts: parseCountingCsv(csv, events), stdout };
}

/** One `perf stat -I` interval: where it ends (s since counting began) and its counts. */
export interface PerfInterval {
  endS: number;
  counts: Map<string, number>;
}

/**
 * `perf stat -x, -I MS` lines (time,value,unit,event,...), grouped by interval; every interval must
 * hold every event asked. An interval in which perf counted none of them (`<not counted>`: the counted
 * process had already exited, or had not started) is no window and is dropped; one counted in part
 * is refused.
 */
export function parseIntervalCsv(text: string, events: readonly string[]): PerfInterval[] {
  const byTime = new Map<string, Map<string, number | null>>();
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const [time, value, , event] = line.split(',');
    if (event === undefined || !events.includes(event) || time === undefined) continue;
    const counted = /^\d+(\.\d+)?$/.test(value ?? '');
    if (!counted && value !== '<not counted>') throw new Error(`perf stat: ${event} not counted ('${value}') at ${time} s`);
    if (!byTime.has(time)) byTime.set(time, new Map());
    byTime.get(time)!.set(event, counted ? Number(value) : null);
  }
  const intervals = [...byTime]
    .filter(([, counts]) => [...counts.values()].some((n) => n !== null))
    .map(([time, counts]) => ({ endS: Number(time), counts }))
    .sort((a, b) => a.endS - b.endS);
  if (intervals.length === 0) throw new Error('perf stat: no intervals');
  for (const { endS, counts } of intervals) {
    const missing = events.filter((e) => counts.get(e) === undefined || counts.get(e) === null);
    if (missing.length > 0) throw new Error(`perf stat: no count for ${missing.join(', ')} at ${endS} s`);
  }
  return intervals.map(({ endS, counts }) => ({ endS, counts: counts as Map<string, number> }));
}

/** Totals and windows of a recording from its perf intervals; `cpuOf(start, end)` gives a window's busy CPU-s (machine recordings). */
function windowsFrom(intervals: readonly PerfInterval[], syscalls: readonly SyscallName[], cpuOf: ((startS: number, endS: number) => number) | null): { counts: Map<string, number>; windows: RatesWindow[] } {
  const counts = new Map<string, number>();
  const windows = intervals.map(({ endS, counts: c }, i) => {
    const startS = i === 0 ? 0 : intervals[i - 1]!.endS;
    for (const [event, n] of c) counts.set(event, (counts.get(event) ?? 0) + n);
    return {
      durationS: endS - startS,
      cpuS: cpuOf ? cpuOf(startS, endS) : null,
      totalCalls: c.get(TOTAL_EVENT)!,
      calls: Object.fromEntries(syscalls.map((s) => [s, c.get(`syscalls:sys_enter_${s}`)!])),
    };
  });
  return { counts, windows };
}

function ratesFrom(counts: Map<string, number>, syscalls: readonly SyscallName[], rest: Omit<SyscallRates, 'format' | 'recordedAt' | 'host' | 'totalCalls' | 'calls'>): SyscallRates {
  return {
    format: RATES_FORMAT,
    recordedAt: new Date().toISOString(),
    host: hostname(),
    ...rest,
    totalCalls: counts.get(TOTAL_EVENT)!,
    calls: Object.fromEntries(syscalls.map((s) => [s, counts.get(`syscalls:sys_enter_${s}`)!])),
  };
}

/** Busy and total CPU time of all CPUs so far, in clock ticks (/proc/stat's first line). */
function cpuTicks(): { busy: number; total: number } {
  const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal guest guest_nice; guest time is already in user.
  const total = fields.slice(0, 8).reduce((a, b) => a + b, 0);
  return { busy: total - fields[3]! - fields[4]!, total };
}

/** /proc/stat counts in USER_HZ ticks: 100 a second on every Linux ABI. */
const USER_HZ = 100;

/** Linear interpolation of busy ticks at time `t` (ms) in a sampled series. */
function busyAt(samples: readonly { t: number; busy: number }[], t: number): number {
  if (t <= samples[0]!.t) return samples[0]!.busy;
  for (let i = 1; i < samples.length; i++) {
    const a = samples[i - 1]!;
    const b = samples[i]!;
    if (t <= b.t) return b.t === a.t ? b.busy : a.busy + ((b.busy - a.busy) * (t - a.t)) / (b.t - a.t);
  }
  return samples[samples.length - 1]!.busy;
}

/**
 * A machine recording's windows: about 20 over the recording, 0.1 s to 1 s each (perf stat -I; below
 * 0.1 s perf's own cost grows, and /proc/stat's 10 ms ticks make a short window's CPU time coarse).
 */
export function machineWindowMs(durationS: number): number {
  return Math.round(Math.min(1000, Math.max(100, (durationS * 1000) / 20)));
}

/** What the recorded command prints when it starts: counting has begun. */
const COUNTING_MARK = 'hookbench-counting';

/** A workload run's windows: 0.1 s (a hids-mix run of a second gives ~10, a build ~100). */
const WORKLOAD_WINDOW_MS = 100;

/** Records every process on every CPU for `durationS` seconds. */
export async function recordMachine(durationS: number): Promise<SyscallRates> {
  const syscalls = await recordableSyscalls();
  const events = [...syscalls.map((s) => `syscalls:sys_enter_${s}`), TOTAL_EVENT];
  // Busy ticks sampled through the recording, so each perf window gets its CPU time.
  const samples = [{ t: performance.now(), busy: cpuTicks().busy }];
  const poll = setInterval(() => samples.push({ t: performance.now(), busy: cpuTicks().busy }), 20);
  // perf's intervals start when it enables the counters and starts the command, after its own start-up
  // (and end before its tear-down): on a few dozen tracepoints both take ~1.8 s of wall time here, while
  // the machine's other work goes on uncounted. The command says when it starts: the windows' origin.
  let origin: number | null = null;
  let csv: string;
  try {
    const command = ['sh', '-c', `echo ${COUNTING_MARK}; exec sleep ${durationS}`];
    ({ csv } = await perfStat(['-a', '-I', String(machineWindowMs(durationS))], events, command, (chunk) => {
      if (origin === null && chunk.includes(COUNTING_MARK)) origin = performance.now();
    }));
  } finally {
    clearInterval(poll);
  }
  samples.push({ t: performance.now(), busy: cpuTicks().busy });
  if (origin === null) throw new Error('perf stat: the recording never started');
  const intervals = parseIntervalCsv(csv, events);
  const start: number = origin;
  const cpuOf = (a: number, b: number) => Math.max(0, busyAt(samples, start + b * 1000) - busyAt(samples, start + a * 1000)) / USER_HZ;
  const { counts, windows } = windowsFrom(intervals, syscalls, cpuOf);
  // The denominator: the CPU time of the counted windows, not of perf's start-up around them.
  const cpuS = windows.reduce((sum, w) => sum + w.cpuS!, 0);
  if (!(cpuS > 0)) throw new Error('no CPU time was spent while recording (/proc/stat did not move)');
  const countedS = intervals[intervals.length - 1]!.endS;
  return { ...ratesFrom(counts, syscalls, { source: `machine, all CPUs, ${durationS} s (perf stat -a)`, durationS: countedS, cpuS, ops: null }), windows };
}

/**
 * Records a hookbench workload: its process tree only (perf stat follows children). Counting events
 * inherited by every fork makes each fork and exit dearer (a build forks ~800 times), so the calls come
 * from one run (in 0.1 s windows) and the CPU time from a second, identical run counted by task-clock
 * alone, as the runner's baselines are.
 */
export async function recordWorkload(built: BuiltWorkloads, workload: string, iterations: number): Promise<SyscallRates> {
  const syscalls = await recordableSyscalls();
  const argv = workloadArgv(built, workload, iterations);
  const events = [...syscalls.map((s) => `syscalls:sys_enter_${s}`), TOTAL_EVENT];
  const { csv, stdout } = await perfStat(['-I', String(WORKLOAD_WINDOW_MS)], events, argv);
  const { counts, windows } = windowsFrom(parseIntervalCsv(csv, events), syscalls, null);
  const timed = await perfCount([], ['task-clock'], argv);
  const line = parseWorkloadLine(timed.stdout);
  const source = `workload ${workload}, ${parseWorkloadLine(stdout).ops} ops (calls from one run, time from another)`;
  return { ...ratesFrom(counts, syscalls, { source, durationS: line.ns / 1e9, cpuS: timed.counts.get('task-clock')! / 1000, ops: line.ops }), windows };
}

/** `--record 10s`, `--record 10`, `--record 2.5s`: seconds, from 0.1 to an hour. */
export function parseDuration(text: string): number {
  const m = /^(\d+(?:\.\d+)?)s?$/.exec(text);
  const seconds = m ? Number(m[1]) : NaN;
  if (!(seconds >= 0.1 && seconds <= 3600)) throw new UsageError(`--record must be a duration from 0.1s to 3600s (e.g. 10s), got '${text}'`);
  return seconds;
}

export function readRates(path: string): SyscallRates {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new UsageError(`--rates ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  const parsed = SyscallRatesSchema.safeParse(json);
  if (!parsed.success) throw new UsageError(`--rates ${path}: not a hookbench rates file: ${z.prettifyError(parsed.error).replace(/\s*\n\s*/g, ' ')}`);
  return parsed.data;
}
