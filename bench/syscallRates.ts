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
 * /proc/stat over the window (the share of the machine's work the hooks add); for one workload run,
 * the time the added work stretches that run by: its run time, or its CPU time where it keeps more than
 * one CPU busy (predictModel.ts).
 */

export const RATES_FORMAT = 'hookbench-syscall-rates/1';

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

/** Runs `perf stat -x, <perfArgs> -e <events> -- <command>` and returns its counts. */
async function perfCount(perfArgs: readonly string[], events: readonly string[], command: readonly string[]): Promise<{ counts: Map<string, number>; stdout: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'hookbench-rates-'));
  const output = join(dir, 'perf.csv');
  try {
    const r = await execa('perf', ['stat', '-x,', ...perfArgs, '-e', events.join(','), '-o', output, '--', ...command], { reject: false, env: { LC_ALL: 'C' } });
    if (r.exitCode !== 0) throw new Error(`perf stat ${command.join(' ')} failed (exit ${r.exitCode ?? r.signal}): ${r.stderr.trim()}`);
    return { counts: parseCountingCsv(await readFile(output, 'utf8'), events), stdout: r.stdout };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
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

/** Records every process on every CPU for `durationS` seconds. */
export async function recordMachine(durationS: number): Promise<SyscallRates> {
  const syscalls = await recordableSyscalls();
  const events = [...syscalls.map((s) => `syscalls:sys_enter_${s}`), TOTAL_EVENT];
  const before = cpuTicks();
  const started = performance.now();
  const { counts } = await perfCount(['-a'], events, ['sleep', String(durationS)]);
  const wallS = (performance.now() - started) / 1000;
  const after = cpuTicks();
  const cpuS = (after.busy - before.busy) / USER_HZ;
  if (!(cpuS > 0)) throw new Error('no CPU time was spent while recording (/proc/stat did not move)');
  return ratesFrom(counts, syscalls, { source: `machine, all CPUs, ${durationS} s (perf stat -a)`, durationS: wallS, cpuS, ops: null });
}

/**
 * Records a hookbench workload: its process tree only (perf stat follows children). Counting events
 * inherited by every fork makes each fork and exit dearer (a build forks ~800 times), so the calls come
 * from one run and the CPU time from a second, identical run counted by task-clock alone, as the
 * runner's baselines are.
 */
export async function recordWorkload(built: BuiltWorkloads, workload: string, iterations: number): Promise<SyscallRates> {
  const syscalls = await recordableSyscalls();
  const argv = workloadArgv(built, workload, iterations);
  const { counts, stdout } = await perfCount([], [...syscalls.map((s) => `syscalls:sys_enter_${s}`), TOTAL_EVENT], argv);
  const timed = await perfCount([], ['task-clock'], argv);
  const line = parseWorkloadLine(timed.stdout);
  const source = `workload ${workload}, ${parseWorkloadLine(stdout).ops} ops (calls from one run, time from another)`;
  return ratesFrom(counts, syscalls, { source, durationS: line.ns / 1e9, cpuS: timed.counts.get('task-clock')! / 1000, ops: line.ops });
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
