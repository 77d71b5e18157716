import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { z } from 'zod';
import { pinnedArgv } from './cpus.js';
import { PERF_COUNTERS, type PerfCounter } from './results.js';

/**
 * Running a workload under `perf stat` and reading what both printed.
 *
 * Units are perf's own: task-clock is in msec (CPU time, as perf prints it); every other counter is a
 * plain count. A counter the machine cannot count (`<not supported>`, `<not counted>`) is null, never 0.
 */

export type PerfCounts = Record<PerfCounter, number | null>;

const NOT_COUNTED = new Set(['<not supported>', '<not counted>']);
const NUMBER = /^-?\d+(\.\d+)?$/;

/** Event names as hookbench asked for them: perf may append modifiers (`cycles:u`) when it restricts them. */
function counterName(event: string): string {
  return event.replace(/:[a-zA-Z]+$/, '');
}

function isCounter(name: string): name is PerfCounter {
  return (PERF_COUNTERS as readonly string[]).includes(name);
}

/**
 * Parses `perf stat -x,` output (value,unit,event,run-time,run-%,metric,metric-unit per line). Comments
 * and blank lines are skipped, events hookbench did not ask for ignored; a malformed line, an unreadable
 * value or a missing or repeated counter throws.
 */
export function parsePerfStatCsv(text: string): PerfCounts {
  const counts = new Map<PerfCounter, number | null>();
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const [value, unit, event] = line.split(',');
    if (event === undefined) throw new Error(`perf stat: malformed line '${line}'`);
    const name = counterName(event);
    if (!isCounter(name)) continue;
    if (counts.has(name)) throw new Error(`perf stat: counter '${name}' appears twice`);
    if (name === 'task-clock' && unit !== 'msec') throw new Error(`perf stat: task-clock in '${unit}', expected msec`);
    if (NOT_COUNTED.has(value)) counts.set(name, null);
    else if (NUMBER.test(value)) counts.set(name, Number(value));
    else throw new Error(`perf stat: unreadable value '${value}' for ${name}`);
  }
  const missing = PERF_COUNTERS.filter((c) => !counts.has(c));
  if (missing.length > 0) throw new Error(`perf stat: no line for ${missing.join(', ')}`);
  return Object.fromEntries(counts) as PerfCounts;
}

export interface PerfStatRun {
  stdout: string;
  stderr: string;
  exitCode: number;
  perf: PerfCounts;
}

/**
 * perf 6.1 exits 0 when its child dies of a signal and only says so with psignal(), as
 * "<argv0>: <signal>" on stderr. hookbench's workloads prefix their own messages with their short
 * name, never their path, so such a line is perf's.
 */
function killedBySignal(stderr: string, argv0: string): string | undefined {
  return stderr.split('\n').find((line) => line.startsWith(`${argv0}: `));
}

export interface PerfStatOptions {
  /**
   * Pin perf, and so the command it starts, to this CPU (`taskset -c CPU perf stat ... -- argv`).
   * `perf stat -- taskset -c CPU argv` pins too, but perf counts from taskset's exec: taskset's own
   * move to CPU (one cpu-migration whenever perf started elsewhere, always when the harness is
   * confined off CPU), its page faults and its CPU time would be charged to the workload.
   */
  cpu?: number;
  /**
   * Gate the workload (HOOKBENCH_GATE=1, workloads/common.c): once it says it is ready, before its timed
   * loop, this is called with its pid (a probe narrows its counting scope to it), and only then is the
   * workload let go. A failure here kills the workload and is the run's failure.
   */
  onReady?: (pid: number) => Promise<void>;
}

const READY_LINE = /^hookbench-ready (\d+)$/m;

/** Lets a gated workload go once `onReady` has run for it; resolves when it was let go (or never gated). */
function releaseWhenReady(child: ResultPromise, onReady: (pid: number) => Promise<void>): Promise<void> {
  return new Promise((resolve, reject) => {
    let seen = '';
    const onData = (chunk: Buffer) => {
      seen += chunk.toString();
      const ready = READY_LINE.exec(seen);
      if (!ready) return;
      child.stderr?.off('data', onData);
      onReady(Number(ready[1])).then(
        () => {
          child.stdin?.end('g');
          resolve();
        },
        (err: unknown) => {
          child.kill('SIGKILL');
          reject(err);
        },
      );
    };
    child.stderr?.on('data', onData);
    // Exited without ever being ready: the run's own error says why.
    child.finally(() => resolve()).catch(() => undefined);
  });
}

/**
 * Runs `argv` (no shell) under `perf stat` with hookbench's counters and returns what it printed and
 * counted. Throws, with the command's stderr, if perf or the command fails or the command is killed.
 */
export async function runUnderPerfStat(argv: readonly string[], options: PerfStatOptions = {}): Promise<PerfStatRun> {
  if (argv.length === 0) throw new Error('runUnderPerfStat: empty command');
  const dir = await mkdtemp(join(tmpdir(), 'hookbench-perf-'));
  const output = join(dir, 'perf-stat.csv');
  const perfArgv = ['perf', 'stat', '-x,', '-e', PERF_COUNTERS.join(','), '-o', output, '--', ...argv];
  const [file, ...args] = options.cpu === undefined ? perfArgv : pinnedArgv(options.cpu, perfArgv);
  try {
    const child = execa(file, args, {
      reject: false,
      // perf formats numbers with the locale: a comma decimal would break the CSV.
      env: { LC_ALL: 'C', ...(options.onReady ? { HOOKBENCH_GATE: '1' } : {}) },
    });
    const released = options.onReady ? releaseWhenReady(child, options.onReady) : Promise.resolve();
    const [r] = await Promise.all([child, released]);
    const command = argv.join(' ');
    if (r.failed || r.exitCode !== 0) {
      throw new Error(`'${command}' under perf stat failed (exit ${r.exitCode ?? r.signal ?? '?'}): ${r.stderr.replace(READY_LINE, '').trim() || r.message}`);
    }
    const signalLine = killedBySignal(r.stderr, argv[0]);
    if (signalLine) throw new Error(`'${command}' under perf stat was killed: ${signalLine}`);
    return { stdout: r.stdout, stderr: r.stderr, exitCode: r.exitCode, perf: parsePerfStatCsv(await readFile(output, 'utf8')) };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** The one line every workload prints (workloads/common.h). */
export const WorkloadLineSchema = z.strictObject({
  workload: z.string().min(1),
  ops: z.number().int().positive(),
  ns: z.number().int().positive(),
  pid: z.number().int().positive(),
  /** The CPU the timed loop started on (sched_getcpu at start_timing) and the one it ended on. */
  cpuStart: z.number().int().nonnegative(),
  cpuEnd: z.number().int().nonnegative(),
  /** Multi-syscall workloads (hids-mix): hooked syscalls per op, counted by the workload itself. */
  mix: z.record(z.string(), z.number().nonnegative()).optional(),
});
export type WorkloadLine = z.infer<typeof WorkloadLineSchema>;

/** Validates a workload's stdout: exactly one JSON line of the workload shape. */
export function parseWorkloadLine(stdout: string): WorkloadLine {
  const lines = stdout.split('\n').filter((l) => l.trim() !== '');
  if (lines.length !== 1) throw new Error(`workload printed ${lines.length} lines, expected one JSON line: '${stdout.slice(0, 200)}'`);
  let json: unknown;
  try {
    json = JSON.parse(lines[0]);
  } catch {
    throw new Error(`workload line is not JSON: '${lines[0].slice(0, 200)}'`);
  }
  const parsed = WorkloadLineSchema.safeParse(json);
  if (!parsed.success) throw new Error(`workload line '${lines[0].slice(0, 200)}' is invalid: ${z.prettifyError(parsed.error)}`);
  return parsed.data;
}
