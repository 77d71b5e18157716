#!/usr/bin/env node
import { Command, CommanderError } from 'commander';
import { cleanup } from '../probes/cleanup.js';
import { readJournals } from '../probes/journal.js';
import { HOOK_TARGETS } from '../probes/hookpoints.js';
import { MECHANISMS } from '../probes/registry.js';
import { registerReportCommands } from '../reports/cli.js';
import { registerVmCommand } from '../vm/cli.js';
import { cellTable } from '../reports/table.js';
import { formatWorkloadList } from '../workloads/registry.js';
import { doctor, formatDoctor } from './doctor.js';
import { DEFAULT_LATENCY_CYCLES } from './latency.js';
import { InterruptedError, UsageError } from './errors.js';
import { DEFAULT_OPTIONS, validateNames } from './planner.js';
import { addRunOptions, assertRoot, assertTools, parseLatencyCycles, parseNumber, parseRunOptions, type RawRunOptions } from './options.js';
import { latencyLine, progressPrinter } from './progress.js';
import type { MechanismLatency, Results } from './results.js';
import { registerPredictCommand } from './predict.js';
import { applyProfileOption } from './profileOptions.js';
import { detectProfileSupport, formatProfiles, profilesToList } from './profileList.js';
import { runMatrix } from './runner.js';
import { formatCoverage, formatNoneRepeats, formatSelfCheck, noneRepeats, REQUIRED_COVERAGE, selfCheck, simulatedCoverage } from './selfcheck.js';
import { parseCpuList } from './cpus.js';
import { exitCodeFor } from './statistics.js';
import { defaultResultsDir, ResultsStore } from './store.js';

/** Errors of other layers that are the user's to fix (bad results file, bad kernel spec): exit 2. */
const usageErrorNames = new Set(['UsageError', 'VmUsageError', 'ResultsInputError']);

/** Messages quote the user's input, which may hold newlines or terminal escapes: shown escaped, on one line. */
const escapeControls = (text: string) => text.replace(/[\x00-\x1f\x7f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);

/** The first signal a run received: from then on the process leaves with its exit code. */
let interruption: InterruptedError | null = null;

/** Ctrl-C and SIGTERM abort the run, which detaches everything; a second signal is not ignored either. */
function abortOnSignals(): AbortController {
  const controller = new AbortController();
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(signal, () => {
      if (controller.signal.aborted) process.stderr.write(`hookbench: ${signal} again, still detaching...\n`);
      interruption ??= new InterruptedError(signal);
      // A signal handled only after main() has returned (it came as the run ended) still sets the exit code.
      process.exitCode = interruption.exitCode;
      controller.abort(signal);
    });
  }
  return controller;
}

/** A dead run's leftovers would tax every cell; a live run would measure this one and be measured by it. */
async function refuseUnlessAlone(): Promise<void> {
  const journals = readJournals();
  const dead = journals.filter((j) => !j.alive);
  if (dead.length > 0) {
    throw new UsageError(`a killed hookbench run (pid ${dead.map((j) => j.pid).join(', ')}) left kernel state behind: run 'hookbench cleanup' first`);
  }
  const live = journals.filter((j) => j.alive && j.pid !== process.pid);
  if (live.length > 0) throw new UsageError(`another hookbench run (pid ${live.map((j) => j.pid).join(', ')}) is measuring on this machine; runs at once would measure each other`);
}

async function runCommand(
  raw: RawRunOptions & { out?: string; resume?: string; json?: boolean; report?: boolean },
  mechanismsGiven: boolean,
): Promise<number> {
  await assertRoot();
  const latencyCycles = parseLatencyCycles(raw.latencyCycles ?? String(DEFAULT_LATENCY_CYCLES));
  if (raw.profile !== undefined && raw.resume) throw new UsageError('--profile and --resume are exclusive: a resumed run keeps the profiles it started with');
  const options = applyProfileOption(parseRunOptions(raw), raw.profile, mechanismsGiven);
  if (raw.resume && raw.out) throw new UsageError('--resume and --out are exclusive: a resumed run writes where it started');
  if (raw.out === '' || raw.resume === '') throw new UsageError(`--${raw.out === '' ? 'out' : 'resume'} needs a directory`);
  const outDir = raw.resume ?? raw.out ?? defaultResultsDir();
  const mechanisms = raw.resume ? new ResultsStore(outDir).readHeader().options.mechanisms : options.mechanisms;
  await assertTools(mechanisms);
  await refuseUnlessAlone();
  const controller = abortOnSignals();
  const results = await runMatrix(options, { outDir, resume: Boolean(raw.resume), onProgress: progressPrinter(), signal: controller.signal, latencyCycles });
  await publish(results, outDir, Boolean(raw.json), raw.report !== false);
  // A signal after the last round: the results are complete, but the user asked to stop and gets 130/143.
  if (interruption) throw interruption;
  return exitCodeFor(results.cells.map((c) => c.verdict));
}

/** The run's notes under its table: what a reader must know before trusting it (audit enabled since boot, ...). */
const runNotes = (results: Results): string => (results.notes.length > 0 ? `\nnotes:\n${results.notes.map((n) => `  - ${n}`).join('\n')}\n` : '');

/** Reports beside the results (unless --no-report); on stdout the table, or with --json the document alone. */
async function publish(results: Results, outDir: string, json: boolean, report: boolean): Promise<void> {
  if (report) await (await import('../reports/index.js')).writeReports([results], outDir);
  if (json) process.stdout.write(`${JSON.stringify(results)}\n`);
  else process.stdout.write(`\n${cellTable([results], { colour: Boolean(process.stdout.isTTY) })}\n${runNotes(results)}\nresults and report: ${outDir}\n`);
}

function listText(profilesSection: string): string {
  const mech = MECHANISMS.map((m) => `  ${m.name.padEnd(20)} ${m.family.padEnd(8)} ${m.summary}`);
  const points = Object.values(HOOK_TARGETS).flatMap((t) =>
    MECHANISMS.map((m) => `  ${m.name.padEnd(20)} ${t.workload.padEnd(9)} ${String(m.expectedPerOp(t)).padStart(2)}/op  ${m.hookPoint(t)}`),
  );
  return ['mechanisms:', ...mech, '', 'workloads:', formatWorkloadList().replace(/^/gm, '  '), '', 'hook points (mechanism, workload, expected events per op, hook):', ...points, '', profilesSection].join('\n');
}

export function buildProgram(): Command {
  const program = new Command('hookbench')
    .description('What does this kernel hook mechanism cost my syscall-heavy workload, and is it within budget?')
    .exitOverride()
    .configureOutput({
      writeErr: (s) => process.stderr.write(s),
      // Commander's usage errors in hookbench's one-line form, its "(Did you mean ...?)" hint included.
      outputError: (s, write) => write(`hookbench: ${escapeControls(s.trim().replace(/^error: /, '').replace(/\s*\n\s*/g, ' '))}\n`),
    });
  addRunOptions(program.command('run').description('measure every mechanism x workload cell against the budget (hook profiles: --profile; `hookbench list` shows them)'))
    .option('--out <dir>', 'results directory (default results/<timestamp>-<host>)')
    .option('--resume <dir>', 'continue a killed run in its results directory')
    .option('--json', 'print the results document on stdout')
    .option('--no-report', 'write results only, no report.html/summary.md/results.csv/charts (hookbench vm writes them on the host)')
    .action(async (o, cmd: Command) => setExit(await runCommand(o, cmd.getOptionValueSource('mechanisms') === 'cli')));
  program
    .command('doctor')
    .description('which mechanisms this kernel supports (tried for real), how noisy this machine is, and (--latency) how long attach and detach take')
    .option('--json', 'machine-readable')
    .option('--no-noise', 'skip the noise check (and with it the per-CPU speed check)')
    .option('--run-ms <ms>', 'duration of one noise-check run', '200')
    .option('--latency', 'also time attach and detach of every supported mechanism, in repeated cycles (minutes with bpftrace)')
    .action(async (o: { json?: boolean; noise: boolean; runMs: string; latency?: boolean }) => {
      await assertRoot();
      const runMs = parseNumber('run-ms', o.runMs, { min: 1, max: 60_000 });
      // doctor attaches every mechanism in turn: a signal waits for it to detach them (the latency
      // cycles stop after the one in progress), then ends it.
      const controller = abortOnSignals();
      const onLatency = (latency: MechanismLatency) => process.stderr.write(`${latencyLine(latency)}\n`);
      const report = await doctor({ runMs, noise: o.noise, latency: Boolean(o.latency), signal: controller.signal, onLatency });
      if (interruption) throw interruption;
      process.stdout.write(`${o.json ? JSON.stringify(report, null, 2) : formatDoctor(report)}\n`);
    });
  registerReportCommands(program, setExit);
  registerVmCommand(program, { setExit });
  registerPredictCommand(program, setExit);
  program
    .command('selfcheck')
    .description("validates the harness: the 'none' cell (full procedure, nothing attached) must have a CI containing 0; bare vs harness runs; the CI method's simulated coverage")
    .option('--workloads <list>', 'workloads to check', 'mprotect,null')
    .option('--repeat <n>', "runs of the 'none' cell per workload", '1')
    .option('--blocks <n>', 'bare vs harness: interleaved block pairs of 5 runs each (0: skip)', '10')
    .option('--run-ms <ms>', 'duration of one run', '200')
    .option('--max-time <s>', "seconds per 'none' cell at most", '60')
    .option('--cpu <list>', 'CPUs to run the workload on (as for run)')
    .option('--out <dir>', "results of the 'none' runs (default results/<timestamp>-<host>-selfcheck)")
    .action(async (o: { workloads: string; repeat: string; blocks: string; runMs: string; maxTime: string; cpu?: string; out?: string }) => {
      await assertRoot();
      const workloads = validateNames('workload', o.workloads.split(','));
      const repeats = parseNumber('repeat', o.repeat, { integer: true, min: 1, max: 1000 });
      const blocks = parseNumber('blocks', o.blocks, { integer: true, min: 0, max: 1000 });
      const runMs = parseNumber('run-ms', o.runMs, { min: 1, max: 60_000 });
      const maxTimeS = parseNumber('max-time', o.maxTime, { min: 1, max: 86_400 });
      const cpus = o.cpu === undefined ? null : parseCpuList(o.cpu);
      if (o.out === '') throw new UsageError('--out needs a directory');
      await assertTools(['none']);
      await refuseUnlessAlone();
      const controller = abortOnSignals();
      const coverage = simulatedCoverage(DEFAULT_OPTIONS);
      const none = await noneRepeats({ workloads, runMs, maxTimeS, cpus }, repeats, o.out ?? `${defaultResultsDir()}-selfcheck`, { signal: controller.signal, onProgress: progressPrinter() });
      const harness = [];
      for (const w of blocks > 0 ? workloads : []) harness.push(await selfCheck(w, blocks, runMs, 1));
      if (interruption) throw interruption;
      process.stdout.write([formatNoneRepeats(none), ...harness.map(formatSelfCheck), formatCoverage(coverage)].join('\n\n') + '\n');
      const nominal = Math.ceil(REQUIRED_COVERAGE * none.length);
      setExit(none.filter((r) => r.containsZero).length >= nominal && coverage.coverage >= REQUIRED_COVERAGE ? 0 : 1);
    });
  program
    .command('list')
    .description("mechanisms, workloads, the hook point of each cell, and hook profiles with this kernel's support for each realisation")
    .option('--profile <name|file>', 'also list this profile (a built-in name or a .json file, as for run); repeatable', (text: string, given: string[] = []) => [...given, text])
    .action(async (o: { profile?: string[] }) => {
      const profiles = profilesToList(o.profile ?? []);
      // Detection attaches each realisation in turn: a signal waits for it to detach them, then ends it.
      abortOnSignals();
      const support = await detectProfileSupport(profiles);
      if (interruption) throw interruption;
      process.stdout.write(`${listText(formatProfiles(profiles, support))}\n`);
    });
  program
    .command('cleanup')
    .description("undo what killed hookbench runs left in the kernel (only hookbench's own state)")
    .action(async () => {
      await assertRoot();
      const report = await cleanup();
      for (const line of report.undone) process.stdout.write(`removed ${line}\n`);
      for (const line of report.errors) process.stderr.write(`could not remove ${line}\n`);
      if (report.undone.length === 0 && report.errors.length === 0) process.stdout.write('nothing to clean up\n');
      setExit(report.errors.length > 0 ? 1 : 0);
    });
  return program;
}

let exitCode = 0;
const setExit = (code: number) => {
  exitCode = code;
};

export async function main(argv: string[]): Promise<number> {
  try {
    await buildProgram().parseAsync(argv, { from: 'user' });
    return exitCode;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2;
    if (err instanceof InterruptedError) {
      process.stderr.write(`hookbench: ${err.message}; everything detached\n`);
      return err.exitCode;
    }
    const e = err as Error;
    const usage = usageErrorNames.has(e.constructor.name) || err instanceof UsageError;
    // A usage error's newlines are the user's input (kept, escaped); other errors quote a tool's output: its first line.
    process.stderr.write(`hookbench: ${escapeControls(usage ? e.message : e.message.split('\n')[0]!)}\n`);
    return usage ? 2 : 1;
  }
}

process.exitCode = await main(process.argv.slice(2));
