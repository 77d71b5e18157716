import type { Command } from 'commander';
import { execa } from 'execa';
import { mechanismByName } from '../probes/registry.js';
import { parseCpuList } from './cpus.js';
import { UsageError } from './errors.js';
import { DEFAULT_LATENCY_CYCLES, MIN_LATENCY_CYCLES } from './latency.js';
import { DEFAULT_MECHANISMS, DEFAULT_OPTIONS, DEFAULT_WORKLOADS, validateNames } from './planner.js';
import type { RunOptions } from './results.js';
import { METHOD_MIN_ROUNDS, MIN_BLOCKS, ROUNDS_PER_BLOCK } from './statistics.js';

/** The options of `hookbench run`, also accepted (and forwarded to the guest) by `hookbench vm`. */
export function addRunOptions(cmd: Command): Command {
  return cmd
    .option('--mechanisms <list>', 'comma-separated mechanisms (see `hookbench list`)', 'tracepoint,audit')
    .option('--workloads <list>', 'comma-separated workloads', 'mprotect,null')
    .option('--budget <pct>', 'overhead budget, %', '5')
    .option('--precision <pp>', 'target 95 % CI half-width of the median overhead, percentage points', '1')
    .option('--max-rounds <n>', 'rounds per cell at most', '200')
    .option('--min-rounds <n>', `rounds per cell at least (the method needs ${METHOD_MIN_ROUNDS}: ${MIN_BLOCKS} blocks of ${ROUNDS_PER_BLOCK})`, '20')
    .option('--max-time <s>', 'seconds per cell at most', '60')
    .option('--run-ms <ms>', 'target duration of one workload run', '200')
    .option('--seed <n>', 'seed for round order and bootstrap', '1')
    .option('--cpu <list>', 'CPUs to run the workload on, e.g. 1 or 0-3 (default: every online CPU, a cell\'s blocks rotating over them)')
    .option('--profile <name|file>', 'also measure a hook profile (elkeid-default or a .json file): one cell per realisation')
    .option('--latency-cycles <n>', "after the cells, time each mechanism's attach and detach over at least n cycles (0: skip; a resumed run measures what it lacks)", String(DEFAULT_LATENCY_CYCLES));
}

/** --latency-cycles: 0 skips the measurement, and a margin of error needs MIN_LATENCY_CYCLES. */
export function parseLatencyCycles(text: string): number {
  const cycles = parseNumber('latency-cycles', text, { integer: true, min: 0, max: 100_000 });
  if (cycles > 0 && cycles < MIN_LATENCY_CYCLES) throw new UsageError(`--latency-cycles must be 0 (skip) or at least ${MIN_LATENCY_CYCLES}, got ${cycles}`);
  return cycles;
}

/** Run options as commander hands them over: strings, still to be validated. */
export interface RawRunOptions {
  mechanisms?: string;
  workloads?: string;
  budget?: string;
  precision?: string;
  maxRounds?: string;
  minRounds?: string;
  maxTime?: string;
  runMs?: string;
  seed?: string;
  cpu?: string;
  profile?: string;
  latencyCycles?: string;
}

/** A number as the user typed it: digits and at most one point, nothing a shell or JS would reinterpret. */
export function parseNumber(flag: string, text: string, { integer = false, min = 0, max = Number.MAX_SAFE_INTEGER } = {}): number {
  const pattern = integer ? /^\d+$/ : /^\d+(\.\d+)?$/;
  const value = Number(text);
  if (!pattern.test(text) || value < min || value > max) {
    throw new UsageError(`--${flag} must be ${integer ? 'a whole number' : 'a number'} from ${min} to ${max}, got '${text}'`);
  }
  return value;
}

function parseList(text: string | undefined, fallback: string[]): string[] {
  if (text === undefined) return fallback;
  return text.split(',').map((s) => s.trim()).filter(Boolean);
}

export function parseRunOptions(raw: RawRunOptions): RunOptions {
  const d = DEFAULT_OPTIONS;
  const num = (flag: string, text: string | undefined, fallback: number, limits: Parameters<typeof parseNumber>[2]) =>
    text === undefined ? fallback : parseNumber(flag, text, limits);
  const options: RunOptions = {
    ...d,
    mechanisms: validateNames('mechanism', parseList(raw.mechanisms, DEFAULT_MECHANISMS)),
    workloads: validateNames('workload', parseList(raw.workloads, DEFAULT_WORKLOADS)),
    budget: num('budget', raw.budget, d.budget, { min: 0, max: 100_000 }),
    precision: num('precision', raw.precision, d.precision, { min: 0.01, max: 1000 }),
    maxRounds: num('max-rounds', raw.maxRounds, d.maxRounds, { integer: true, min: 1, max: 100_000 }),
    minRounds: num('min-rounds', raw.minRounds, d.minRounds, { integer: true, min: METHOD_MIN_ROUNDS, max: 100_000 }),
    maxTimeS: num('max-time', raw.maxTime, d.maxTimeS, { min: 1, max: 7 * 86_400 }),
    runMs: num('run-ms', raw.runMs, d.runMs, { min: 1, max: 60_000 }),
    seed: num('seed', raw.seed, d.seed, { integer: true, min: 0, max: 2 ** 31 - 1 }),
    cpus: raw.cpu === undefined ? null : parseCpuList(raw.cpu),
  };
  if (options.minRounds > options.maxRounds) throw new UsageError(`--min-rounds (${options.minRounds}) exceeds --max-rounds (${options.maxRounds})`);
  return options;
}

/** Tools a mechanism family needs on PATH; the workloads always need perf and a C compiler. */
const TOOLS_BY_FAMILY: Record<string, string[]> = { audit: ['auditctl', 'auditd'], bpf: ['clang'], bpftrace: ['bpftrace'], tracefs: [], uprobe: [], none: [] };
const ALWAYS_NEEDED = ['perf', 'cc'];

export async function assertRoot(): Promise<void> {
  if (process.getuid?.() !== 0) throw new UsageError('hookbench attaches kernel probes and must run as root');
}

export async function assertTools(mechanisms: readonly string[]): Promise<void> {
  const families = new Set(mechanisms.flatMap((n) => mechanismByName(n)?.family ?? []));
  const tools = [...ALWAYS_NEEDED, ...[...families].flatMap((f) => TOOLS_BY_FAMILY[f] ?? [])];
  for (const tool of tools) {
    const found = await execa('/bin/sh', ['-c', 'command -v "$1"', 'sh', tool], { reject: false });
    if (found.exitCode !== 0) throw new UsageError(`'${tool}' is not installed (run 'make setup' as root)`);
  }
}
