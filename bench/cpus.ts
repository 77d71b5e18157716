import { readFileSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { execa } from 'execa';
import { buildWorkloads, workloadArgv, type BuiltWorkloads } from '../workloads/build.js';
import { calibrateIterations, DEFAULT_RUN_MS } from '../workloads/calibrate.js';
import { UsageError } from './errors.js';
import { parseWorkloadLine, runUnderPerfStat } from './perfstat.js';
import { coefficientOfVariation, median } from './statistics.js';

/**
 * Where things run. The vCPUs of a VM can run at different speeds (and which one is slow changes over
 * minutes), so a workload run must stay on one CPU, both arms of a round on the same one, and the
 * harness (node, perf, bpftrace, auditd, log readers) should keep off it.
 *
 * Affinity is set with taskset (util-linux) through execa's argv, never a shell: hookbench runs as root
 * and CPU numbers reach it from the command line.
 */

const ONLINE_PATH = '/sys/devices/system/cpu/online';
/** A CPU number in a list: no sign, no leading zero, at most 5 digits (the kernel's NR_CPUS is below 10^5). */
const NUMBER = '(?:0|[1-9][0-9]{0,4})';
const ITEM = `${NUMBER}(?:-${NUMBER})?`;
/** What `--cpu` takes: `1`, `0,1`, `0-3`, `0-1,3`. Nothing else (no blanks, strides, signs or separators). */
const CPU_LIST = new RegExp(`^${ITEM}(?:,${ITEM})*$`);
/** The kernel prints the same grammar in sysfs and /proc (bitmap_print_to_pagebuf's list form), or nothing. */
const CPU_LIST_EXAMPLES = 'e.g. 1, 0,1, 0-3 or 0-1,3';

/**
 * Expands a list of the CPU_LIST grammar into sorted, distinct CPU numbers; null if it is not one.
 * `limit`: the highest number a range may reach before expanding it (so `0-99999` allocates nothing).
 */
function expandList(text: string, limit: number): { cpus: number[] } | { error: string } | null {
  if (!CPU_LIST.test(text)) return null;
  const cpus = new Set<number>();
  for (const item of text.split(',')) {
    const [low, high = low] = item.split('-').map(Number);
    if (high < low) return { error: `range ${item} runs backwards` };
    if (high > limit) return { error: `CPU ${high} is not online here` };
    for (let cpu = low; cpu <= high; cpu++) cpus.add(cpu);
  }
  return { cpus: [...cpus].sort((a, b) => a - b) };
}

/** A list as the kernel reads from sysfs or /proc; throws (not a UsageError: the machine said it) if unreadable. */
function parseKernelList(text: string, where: string): number[] {
  const trimmed = text.trim();
  if (trimmed === '') return [];
  const r = expandList(trimmed, Number.MAX_SAFE_INTEGER);
  if (r === null || 'error' in r) throw new Error(`${where}: unreadable CPU list '${trimmed.slice(0, 100)}'`);
  return r.cpus;
}

/** `[0, 1, 3]` → `0-1,3`: the compact form taskset, the kernel and messages use. */
export function formatCpuList(cpus: readonly number[]): string {
  const sorted = [...new Set(cpus)].sort((a, b) => a - b);
  const parts: string[] = [];
  for (let i = 0; i < sorted.length; ) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j] + 1) j++;
    parts.push(j === i ? String(sorted[i]) : `${sorted[i]}-${sorted[j]}`);
    i = j + 1;
  }
  return parts.join(',');
}

function allowedList(status: string, where: string): number[] {
  const line = status.split('\n').find((l) => l.startsWith('Cpus_allowed_list:'));
  if (line === undefined) throw new Error(`${where}: no Cpus_allowed_list line`);
  return parseKernelList(line.slice('Cpus_allowed_list:'.length), where);
}

/**
 * This process's allowed CPUs from before confineHarness narrowed them, while it has: a workload may
 * still be pinned to the measurement CPU the harness keeps off (affinity is bounded by the cpuset, not by
 * the parent's mask). Undefined when not confined.
 */
let allowedBeforeConfinement: number[] | undefined;

/**
 * The CPUs a workload can be pinned to: online (/sys/devices/system/cpu/online) and in this process's
 * allowed set (Cpus_allowed_list in /proc/self/status: a container's cpuset or a `taskset` the user
 * started hookbench under), the one from before confineHarness if the harness is confined. Ascending.
 * os.availableParallelism() gives a count, not which CPUs.
 */
export function onlineCpus(): number[] {
  const online = parseKernelList(readFileSync(ONLINE_PATH, 'utf8'), ONLINE_PATH);
  const allowed = new Set(allowedBeforeConfinement ?? allowedList(readFileSync('/proc/self/status', 'utf8'), '/proc/self/status'));
  const cpus = online.filter((c) => allowed.has(c));
  if (cpus.length === 0) throw new Error(`no CPU is both online (${formatCpuList(online)}) and allowed to this process (${formatCpuList([...allowed])})`);
  return cpus;
}

/**
 * Parses a `--cpu LIST` value: `1`, `0,1`, `0-3`, `0-1,3`. Throws a one-line UsageError for anything
 * else (blanks, signs, `;`, an empty list, a backwards range) and for a CPU that is not in `online`.
 * Returns the CPUs ascending, each once.
 */
export function parseCpuList(text: string, online: readonly number[] = onlineCpus()): number[] {
  // JSON quoting shows control characters escaped, so the message stays one line.
  const shown = JSON.stringify(text.length > 40 ? `${text.slice(0, 40)}...` : text);
  const here = `online: ${formatCpuList(online) || 'none'}`;
  const r = expandList(text, Math.max(-1, ...online));
  if (r === null) throw new UsageError(`--cpu ${shown} is not a CPU list (${CPU_LIST_EXAMPLES}; ${here})`);
  if ('error' in r) throw new UsageError(`--cpu ${shown}: ${r.error} (${here})`);
  const offline = r.cpus.filter((c) => !online.includes(c));
  if (offline.length > 0) throw new UsageError(`--cpu ${shown}: CPU ${formatCpuList(offline)} is not online here (${here})`);
  return r.cpus;
}

function assertCpuNumber(cpu: number): void {
  if (!Number.isSafeInteger(cpu) || cpu < 0) throw new Error(`a CPU is a whole number >= 0, got ${cpu}`);
}

/**
 * `argv` run with its affinity set to `cpu`: taskset execs it (same process), and every process it
 * starts inherits the affinity. Under perf stat, prefer runUnderPerfStat(argv, { cpu }), which pins
 * perf itself: taskset inside perf is counted as the workload (its own migration, faults and time).
 */
export function pinnedArgv(cpu: number, argv: readonly string[]): string[] {
  assertCpuNumber(cpu);
  if (argv.length === 0) throw new Error('pinnedArgv: empty command');
  return ['taskset', '-c', String(cpu), ...argv];
}

/**
 * The CPUs the harness may use while `measurement` measures: every online CPU but that one, or all of
 * them on a one-CPU machine (nothing can be isolated there).
 */
export function harnessCpus(measurement: number, online: readonly number[]): number[] {
  if (!online.includes(measurement)) throw new Error(`measurement CPU ${measurement} is not online (online: ${formatCpuList(online)})`);
  if (online.length <= 1) return [...online];
  return online.filter((c) => c !== measurement);
}

/** Each thread of this process (/proc/self/task) and its allowed CPUs; a thread that exits meanwhile is skipped. */
export async function threadAffinities(): Promise<Map<number, number[]>> {
  const threads = new Map<number, number[]>();
  for (const tid of await readdir('/proc/self/task')) {
    const where = `/proc/self/task/${tid}/status`;
    let status: string;
    try {
      status = await readFile(where, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ESRCH') continue;
      throw err;
    }
    threads.set(Number(tid), allowedList(status, where));
  }
  return threads;
}

async function taskset(args: readonly string[]): Promise<void> {
  const r = await execa('taskset', args, { reject: false });
  if (r.failed || r.exitCode !== 0) throw new Error(`taskset ${args.join(' ')} failed: ${r.stderr.trim() || r.message}`);
}

const sameCpus = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((c, i) => c === b[i]);

/**
 * Confines this node process, every one of its threads (`taskset -a -p`: the main thread, libuv's pool,
 * V8's workers), and so every process it starts later (perf, bpftrace, auditd, readers), to `cpus`.
 * Threads and processes created afterwards inherit the mask of the thread that creates them. Checks
 * every thread's Cpus_allowed_list afterwards. Returns a function that puts back each thread's previous
 * affinity (threads started while confined get the main thread's previous one); calling it twice is
 * harmless.
 */
export async function confineHarness(cpus: readonly number[]): Promise<() => Promise<void>> {
  if (cpus.length === 0) throw new Error('confineHarness: no CPUs');
  cpus.forEach(assertCpuNumber);
  const online = onlineCpus();
  const outside = cpus.filter((c) => !online.includes(c));
  if (outside.length > 0) throw new Error(`confineHarness: CPU ${formatCpuList(outside)} is not online (online: ${formatCpuList(online)})`);
  const target = [...new Set(cpus)].sort((a, b) => a - b);
  const before = await threadAffinities();
  const mainBefore = before.get(process.pid);
  if (mainBefore === undefined) throw new Error(`confineHarness: main thread ${process.pid} not in /proc/self/task`);
  const ownsSavedSet = allowedBeforeConfinement === undefined;
  if (ownsSavedSet) allowedBeforeConfinement = online;

  let restored = false;
  const restore = async () => {
    if (restored) return;
    restored = true;
    await taskset(['-a', '-p', '-c', formatCpuList(mainBefore), String(process.pid)]);
    const now = await threadAffinities();
    for (const [tid, previous] of before) {
      if (now.has(tid) && !sameCpus(previous, mainBefore)) await taskset(['-p', '-c', formatCpuList(previous), String(tid)]).catch(() => undefined);
    }
    if (ownsSavedSet) allowedBeforeConfinement = undefined;
  };

  try {
    await taskset(['-a', '-p', '-c', formatCpuList(target), String(process.pid)]);
    const after = await threadAffinities();
    const stray = [...after].filter(([, allowed]) => !sameCpus(allowed, target));
    // A thread started while taskset walked /proc/PID/task could have copied the old mask: once more.
    if (stray.length > 0) await taskset(['-a', '-p', '-c', formatCpuList(target), String(process.pid)]);
    const still = [...(await threadAffinities())].filter(([, allowed]) => !sameCpus(allowed, target));
    if (still.length > 0) {
      throw new Error(`confineHarness: thread ${still.map(([tid, a]) => `${tid} (${formatCpuList(a)})`).join(', ')} not confined to ${formatCpuList(target)}`);
    }
  } catch (err) {
    await restore().catch(() => undefined);
    throw err;
  }
  return restore;
}

export interface CpuSpeed {
  cpu: number;
  medianNsPerOp: number;
  /** Coefficient of variation of nsPerOp, as a fraction. */
  cv: number;
  /** Every run's ns/op, in the order run. */
  nsPerOp: number[];
  /** Runs whose timed loop ended on another CPU than it started on (cpuStart !== cpuEnd): 0 when pinning holds. */
  migrated: number;
  /** perf's cpu-migrations summed over the runs (null where perf could not count it). */
  perfMigrations: number | null;
}

export interface CpuSpeeds {
  workload: string;
  /** Ops per run, calibrated once (pinned to the first CPU) so every CPU runs the same work. */
  iterations: number;
  runsPerCpu: number;
  cpus: CpuSpeed[];
  /** Slowest median ÷ fastest median (1 on a one-CPU machine). */
  slowestToFastest: number;
}

export interface CpuSpeedOptions {
  /** Runs per CPU (at least 2, for a CV). Default 10. */
  runs?: number;
  /** Duration of one run, for calibration. Default DEFAULT_RUN_MS. */
  runMs?: number;
  /** Default mprotect, hookbench's baseline workload. */
  workload?: string;
  /** Default onlineCpus(). */
  cpus?: readonly number[];
  built?: BuiltWorkloads;
}

/**
 * Times the baseline workload on each CPU in turn, interleaved (cpu0, cpu1, cpu0, cpu1, ...: a drift
 * of the machine falls on every CPU alike), each run pinned and under perf stat as the harness runs it.
 * Throws if a run reports a start CPU other than the one it was pinned to (pinning did not hold).
 */
export async function measureCpuSpeeds(options: CpuSpeedOptions = {}): Promise<CpuSpeeds> {
  const runs = options.runs ?? 10;
  if (!Number.isSafeInteger(runs) || runs < 2) throw new Error(`measureCpuSpeeds: runs must be a whole number >= 2, got ${runs}`);
  const workload = options.workload ?? 'mprotect';
  const cpus = [...(options.cpus ?? onlineCpus())];
  if (cpus.length === 0) throw new Error('measureCpuSpeeds: no CPUs');
  cpus.forEach(assertCpuNumber);
  const built = options.built ?? (await buildWorkloads());
  const runOn = async (cpu: number, iterations: number) => {
    const r = await runUnderPerfStat(workloadArgv(built, workload, iterations), { cpu });
    const line = parseWorkloadLine(r.stdout);
    if (line.cpuStart !== cpu) throw new Error(`${workload} pinned to CPU ${cpu} started its loop on CPU ${line.cpuStart}`);
    return { line, perfMigrations: r.perf['cpu-migrations'] };
  };
  const iterations = await calibrateIterations(async (n) => (await runOn(cpus[0], n)).line, options.runMs ?? DEFAULT_RUN_MS);

  const results = cpus.map((cpu) => ({ cpu, nsPerOp: [] as number[], migrated: 0, perfMigrations: 0 as number | null }));
  for (let i = 0; i < runs; i++) {
    for (const r of results) {
      const { line, perfMigrations } = await runOn(r.cpu, iterations);
      r.nsPerOp.push(line.ns / line.ops);
      if (line.cpuStart !== line.cpuEnd) r.migrated++;
      r.perfMigrations = r.perfMigrations === null || perfMigrations === null ? null : r.perfMigrations + perfMigrations;
    }
  }
  const speeds = results.map((r) => ({ ...r, medianNsPerOp: median(r.nsPerOp), cv: coefficientOfVariation(r.nsPerOp) }));
  const medians = speeds.map((s) => s.medianNsPerOp);
  return {
    workload,
    iterations,
    runsPerCpu: runs,
    cpus: speeds.map(({ cpu, medianNsPerOp, cv, nsPerOp, migrated, perfMigrations }) => ({ cpu, medianNsPerOp, cv, nsPerOp, migrated, perfMigrations })),
    slowestToFastest: Math.max(...medians) / Math.min(...medians),
  };
}
