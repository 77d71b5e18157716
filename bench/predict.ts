import { writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { assertSyscall, InvalidTargetError } from '../probes/symbols.js';
import { hookTargetFor, type SyscallName } from '../probes/hookpoints.js';
import { loadResults } from '../reports/load.js';
import { buildWorkloads, workloadArgv } from '../workloads/build.js';
import { calibrateIterations } from '../workloads/calibrate.js';
import { execa } from 'execa';
import { UsageError } from './errors.js';
import { parseNumber } from './options.js';
import { parseWorkloadLine } from './perfstat.js';
import { validateNames } from './planner.js';
import { parseProfileOption } from './profileOptions.js';
import {
  compareWithMeasured,
  mechanismCosts,
  predictOverhead,
  profileHookSets,
  syscallHookSet,
  type Comparison,
  type HookSet,
  type MechanismCosts,
  type PredictOptions,
  type Prediction,
} from './predictModel.js';
import { coverage, type Coverage } from './predictValidation.js';
import type { Results } from './results.js';
import { exitCodeFor } from './statistics.js';
import { parseDuration, readRates, recordMachine, recordWorkload, type SyscallRates } from './syscallRates.js';

/**
 * `hookbench predict`: will this hook set stay within budget on this machine? Real syscall rates
 * (recorded here, `--record 10s`; one run of a hookbench workload, `--workload NAME`; or a saved
 * recording, `--rates FILE`) times the per-call costs a results file measured (predictModel.ts), as a
 * share of the CPU time spent, with a prediction interval (costs, recorded rates, baseline drift and the
 * model error measured in validation; each one's share named) and a verdict. With `--workload`, where
 * the results also hold that workload's measured cells, each prediction is shown beside its
 * measurement and the error, and the coverage of the intervals is given.
 */

export interface RawPredictOptions {
  /** One or more results directories or files: their cells are pooled (costs from one, measurements from another). */
  results?: string | string[];
  record?: string;
  rates?: string;
  workload?: string;
  iterations?: string;
  saveRates?: string;
  profile: string;
  syscalls?: string;
  mechanisms?: string;
  budget: string;
  resamples: string;
  seed: string;
  json?: boolean;
}

export interface PredictReport {
  rates: SyscallRates;
  costsFrom: string;
  budget: number;
  comparisons: Comparison[];
  /** Hook sets with no prediction, and why (the results lack the mechanism's cells). */
  skipped: string[];
}

function list(text: string | undefined): string[] {
  return (text ?? '').split(',').map((s) => s.trim()).filter(Boolean);
}

function parseSyscalls(text: string | undefined): SyscallName[] {
  try {
    return list(text).map(assertSyscall);
  } catch (err) {
    if (err instanceof InvalidTargetError) throw new UsageError(`--syscalls: ${err.message}`);
    throw err;
  }
}

/** A workload run of about a second: long enough that set-up is a small share of its calls. */
const WORKLOAD_RECORD_MS = 1000;

async function workloadRates(workload: string, iterationsText: string | undefined): Promise<SyscallRates> {
  const built = await buildWorkloads();
  const iterations =
    iterationsText === undefined
      ? await calibrateIterations(async (n) => {
          const [bin, ...args] = workloadArgv(built, workload, n);
          return parseWorkloadLine((await execa(bin!, args)).stdout);
        }, WORKLOAD_RECORD_MS)
      : parseNumber('iterations', iterationsText, { integer: true, min: 1, max: 1e12 });
  return recordWorkload(built, workload, iterations);
}

async function obtainRates(o: RawPredictOptions): Promise<SyscallRates> {
  const given = [o.record, o.rates, o.workload].filter((x) => x !== undefined).length;
  if (given !== 1) throw new UsageError('predict needs exactly one of --record DURATION, --workload NAME or --rates FILE');
  if (o.iterations !== undefined && o.workload === undefined) throw new UsageError('--iterations goes with --workload');
  if (o.rates !== undefined) return readRates(o.rates);
  if (process.getuid?.() !== 0) throw new UsageError('recording syscall rates (perf stat on syscall tracepoints) must run as root');
  if (o.record !== undefined) return recordMachine(parseDuration(o.record));
  return workloadRates(o.workload!, o.iterations);
}

/** The hook sets to predict: the profile's realisations, and single mechanisms on the given syscalls. */
function hookSets(o: RawPredictOptions, results: Results): HookSet[] {
  const profileSets = o.profile === 'none' ? [] : profileHookSets(parseProfileOption(o.profile));
  const syscalls = o.syscalls !== undefined ? parseSyscalls(o.syscalls) : o.workload !== undefined ? [hookTargetFor(o.workload).syscall] : [];
  const measured = [...new Set(results.cells.map((c) => c.mechanism))].filter((m) => !m.includes('/'));
  const singleSets = syscalls.length > 0 ? measured.map((m) => syscallHookSet(m, syscalls)) : [];
  const wanted = list(o.mechanisms);
  return [...singleSets, ...profileSets].filter((s) => wanted.length === 0 || wanted.includes(s.mechanism));
}

export async function predictCommand(o: RawPredictOptions): Promise<PredictReport> {
  const paths = typeof o.results === 'string' ? [o.results] : (o.results ?? []);
  if (paths.length === 0) throw new UsageError('predict needs --results DIR|FILE: the measured per-call costs');
  const options: PredictOptions = {
    budget: parseNumber('budget', o.budget, { min: 0, max: 100_000 }),
    resamples: parseNumber('resamples', o.resamples, { integer: true, min: 100, max: 1_000_000 }),
    confidence: 0.95,
    seed: parseNumber('seed', o.seed, { integer: true, min: 0, max: 2 ** 31 - 1 }),
  };
  if (o.workload !== undefined) validateNames('workload', [o.workload]);
  const loaded = await Promise.all(paths.map(loadResults));
  // Cells pooled in the order given: where two documents hold the same cell, the first one's counts.
  const results: Results = { ...loaded[0]!.results, cells: loaded.flatMap((l) => l.results.cells) };
  const jsonPath = loaded.map((l) => l.jsonPath).join(', ');
  const sets = hookSets(o, results);
  const rates = await obtainRates(o);
  if (o.saveRates) writeFileSync(o.saveRates, `${JSON.stringify(rates, null, 1)}\n`);
  const costs = new Map<string, MechanismCosts | { missing: string }>();
  const predictions: Prediction[] = [];
  const skipped: string[] = [];
  for (const set of sets) {
    if (!costs.has(set.mechanism)) costs.set(set.mechanism, mechanismCosts(results, set.mechanism));
    const c = costs.get(set.mechanism)!;
    if ('missing' in c) skipped.push(`${set.name}: ${c.missing}`);
    else predictions.push(predictOverhead(rates, c, set, options));
  }
  const comparisons = o.workload ? compareWithMeasured(predictions, results, o.workload) : predictions.map((prediction) => ({ prediction, measured: null, errorPp: null }));
  return { rates, costsFrom: jsonPath, budget: options.budget, comparisons, skipped };
}

const pct = (x: number) => `${x >= 0 ? '+' : ''}${x.toFixed(2)}`;
const ci = (e: { value: number; ciLow: number; ciHigh: number }) => `${pct(e.value)} [${pct(e.ciLow)}, ${pct(e.ciHigh)}]`;
const range = (e: { ciLow: number; ciHigh: number }) => `[${pct(e.ciLow)}, ${pct(e.ciHigh)}]`;

/** `cost 12% rates 3% drift 40% model 45%`: each component's share of the interval's width. */
export function formatShares(p: Prediction): string {
  return p.components.map((c) => `${c.component} ${Math.round(c.share * 100)}%`).join(' ');
}

/** The coverage of the comparisons that have a measurement: the prediction interval's, and the cost-only CI's. */
export function comparisonCoverage(comparisons: readonly Comparison[]): { interval: Coverage; costOnly: Coverage } | null {
  const measured = comparisons.filter((c) => c.measured !== null);
  if (measured.length === 0) return null;
  const rows = (pick: (p: Prediction) => { ciLow: number; ciHigh: number }) =>
    measured.map((c) => ({ name: c.prediction.name, interval: pick(c.prediction), measured: c.measured! }));
  return { interval: coverage(rows((p) => p.overhead)), costOnly: coverage(rows((p) => p.costOnly)) };
}

export function formatPredictReport(r: PredictReport): string {
  const { rates } = r;
  const over = rates.ops === null ? 'the CPU time spent' : rates.cpuS > rates.durationS ? "the run's CPU time (it keeps several CPUs busy)" : "the run's wall time (sequential)";
  const head = [
    `rates: ${rates.source} on ${rates.host}: ${rates.totalCalls} syscalls in ${rates.durationS.toFixed(2)} s wall, ${rates.cpuS.toFixed(2)} CPU-s; overheads are shares of ${over}`,
    `costs: ${r.costsFrom}`,
    '',
  ];
  const width = Math.max(10, ...r.comparisons.map((c) => c.prediction.name.length));
  const header = `${'prediction'.padEnd(width)}  ${'hooked/CPU-s'.padStart(12)}  ${'predicted % [95% PI]'.padEnd(26)}  ${`vs ${r.budget} %`.padEnd(12)}  ${'costs alone'.padEnd(18)}  ${'share of the interval'.padEnd(36)}  measured % [95% CI]         error pp`;
  const rows = r.comparisons.map(({ prediction: p, measured, errorPp }) =>
    [
      p.name.padEnd(width),
      Math.round(p.hookedPerCpuS).toString().padStart(12),
      ci(p.overhead).padEnd(26),
      p.verdict.padEnd(12),
      range(p.costOnly).padEnd(18),
      formatShares(p).padEnd(36),
      (measured ? ci(measured) : '-').padEnd(26),
      errorPp === null ? '-' : pct(errorPp),
    ].join('  '),
  );
  const notes = [
    '',
    'PI: prediction interval, drawn from (a) the cells\' per-round costs, (b) the recording\'s windows, (c) baseline drift, (d) the model error measured in validation.',
    ...[...new Map(r.comparisons.map(({ prediction: p }) => [p.uncertainty.family, p.uncertainty.model])).entries()].map(
      ([family, m]) => `model error, ${family}: ${m.kind === 'additive-pp' ? `sd ${m.sd} pp` : `ln-ratio sd ${m.sd}`} (${m.from})`,
    ),
    ...(r.comparisons.some((c) => c.prediction.uncertainty.rateWindows === 0) ? ['rates: the recording has no windows (an older recording): taken as exact'] : []),
  ];
  const cov = comparisonCoverage(r.comparisons);
  const coverageLines = cov
    ? [`coverage: ${cov.interval.inside}/${cov.interval.total} measured medians inside the prediction interval (costs alone: ${cov.costOnly.inside}/${cov.costOnly.total})`]
    : [];
  return [...head, header, ...rows, ...(r.comparisons.length > 0 ? notes : []), ...coverageLines, ...r.skipped.map((s) => `skipped ${s}`)].join('\n');
}

/** Adds `hookbench predict`; `setExit` receives the exit code (1 when a prediction FAILs the budget, as `run`). */
export function registerPredictCommand(program: Command, setExit: (code: number) => void = (code) => (process.exitCode = code)): Command {
  return program
    .command('predict')
    .description("predict each mechanism's and hook profile's overhead on this machine's real syscall rates, from a results file's measured costs")
    .option('--results <paths...>', 'results directories or results.json files holding the mechanisms\' mprotect, null (and execve, open) cells, and the recorded workload\'s cells to compare with')
    .option('--record <duration>', 'record this machine\'s syscall rates, all CPUs, for this long (e.g. 10s)')
    .option('--workload <name>', 'record one run of a hookbench workload instead, and compare with its measured cells')
    .option('--iterations <n>', 'ops of that run (default: about one second)')
    .option('--rates <file>', 'use a saved recording')
    .option('--save-rates <file>', 'save the recording for --rates')
    .option('--profile <name|file>', "hook profile to predict ('none' for none)", 'elkeid-default')
    .option('--syscalls <list>', 'also predict each single mechanism hooking these syscalls (default with --workload: its hooked syscall)')
    .option('--mechanisms <list>', 'only these mechanisms / realisations')
    .option('--budget <pct>', 'overhead budget, %', '5')
    .option('--resamples <n>', 'draws of the prediction interval', '10000')
    .option('--seed <n>', 'seed of the draws', '1')
    .option('--json', 'machine-readable')
    .action(async (o: RawPredictOptions) => {
      const report = await predictCommand(o);
      process.stdout.write(`${o.json ? JSON.stringify(report, null, 1) : formatPredictReport(report)}\n`);
      setExit(exitCodeFor(report.comparisons.map((c) => c.prediction.verdict)));
    });
}
