import { auditEnabledSinceBoot } from '../probes/audit.js';
import { hookTargetFor } from '../probes/hookpoints.js';
import { Journal } from '../probes/journal.js';
import { isProfileMechanism } from '../probes/profiles.js';
import { mechanismByName } from '../probes/registry.js';
import type { AnyMechanism, Support } from '../probes/types.js';
import { undoAll } from '../probes/undo.js';
import { buildWorkloads, workloadArgv, type BuiltWorkloads } from '../workloads/build.js';
import { calibrateIterations, iterationsForDuration } from '../workloads/calibrate.js';
import { collectEnvironment } from './environment.js';
import { InterruptedError } from './errors.js';
import { parseWorkloadLine, runUnderPerfStat } from './perfstat.js';
import { profileCellInvalidReason } from './profileCells.js';
import { registerRunProfiles } from './profileOptions.js';
import { planCells, type PlannedCell } from './planner.js';
import { PERF_COUNTERS, SCHEMA_VERSION, type Cell, type Results, type Round, type RunOptions, type RunSample } from './results.js';
import { cellOptionsFrom, cellStats, decideVerdict, seededRandom, shouldStop, type CellMeasures } from './statistics.js';
import { cellKey, ResultsStore, type LogLine, type RunHeader } from './store.js';

export type ProgressEvent =
  | { type: 'detected'; mechanism: string; support: Support }
  | { type: 'calibrated'; workload: string; iterations: number }
  | { type: 'cell-start'; cell: PlannedCell; index: number; total: number }
  | { type: 'round'; cell: PlannedCell; round: number; measures: CellMeasures }
  | { type: 'cell-end'; cell: Cell };

export interface RunMatrixOptions {
  /** Results directory: created, or continued when `resume` is set. */
  outDir: string;
  resume?: boolean;
  onProgress?: (event: ProgressEvent) => void;
  /** Aborted with the signal's name as reason: the run detaches and throws InterruptedError. */
  signal?: AbortSignal;
}

const AUDIT_STICKY_NOTE =
  'audit was enabled earlier in this boot: every task created since carries an audit context (the kernel keeps it until reboot), so baselines include that cost';

/** Resamples for the between-round stopping check; the reported CIs use the full count. */
const STOP_CHECK_RESAMPLES = 2000;

/** What every cell measurement needs. */
interface RunContext {
  options: RunOptions;
  built: BuiltWorkloads;
  journal: Journal;
  store: ResultsStore;
  notes: Set<string>;
  nextTag: () => string;
  checkAbort: () => void;
  onProgress: (event: ProgressEvent) => void;
}

/**
 * Runs the matrix: plan -> measure every cell -> results document (also written to `outDir`). Every
 * attachment is undone before this returns or throws, whatever happened.
 */
export async function runMatrix(requested: RunOptions, run: RunMatrixOptions): Promise<Results> {
  const checkAbort = () => {
    if (run.signal?.aborted) throw new InterruptedError(run.signal.reason as NodeJS.Signals);
  };
  const store = new ResultsStore(run.outDir);
  const header: RunHeader = run.resume
    ? store.readHeader()
    : { schemaVersion: SCHEMA_VERSION, startedAt: new Date().toISOString(), options: requested, environment: await collectEnvironment() };
  const options = header.options;
  // A resumed run's file profiles: their cells are known again from the options, not the file.
  registerRunProfiles(options);
  const log = run.resume ? store.readLog() : [];
  // Ctrl-C reaches the tools collectEnvironment ran too: a header with their failures must not be kept.
  checkAbort();
  if (!run.resume) store.create(header);
  const journal = new Journal();
  let tags = 0;
  const ctx: RunContext = {
    options,
    built: await buildWorkloads(),
    journal,
    store,
    notes: new Set(),
    nextTag: () => `hookbench-${process.pid}-${++tags}`,
    checkAbort,
    onProgress: run.onProgress ?? (() => {}),
  };
  try {
    const cells = await measureAll(ctx, log);
    const results: Results = {
      schemaVersion: SCHEMA_VERSION,
      tool: 'hookbench',
      startedAt: header.startedAt,
      finishedAt: new Date().toISOString(),
      options,
      environment: header.environment,
      notes: [...ctx.notes],
      cells,
    };
    store.writeResults(results);
    return results;
  } catch (err) {
    // Ctrl-C signals the whole process group: perf, the workload or auditctl die of it first, and
    // their failure is the interruption, not an error of the run.
    checkAbort();
    throw err;
  } finally {
    // Normally empty by now: each probe detaches itself. What is left (an interrupted attach) goes
    // here; what cannot be undone stays journaled for `hookbench cleanup`.
    const errors = await undoAll(journal);
    if (errors.length > 0) throw new Error(`could not undo every attachment (run 'hookbench cleanup'): ${errors.join('; ')}`);
    journal.close();
  }
}

async function measureAll(ctx: RunContext, log: LogLine[]): Promise<Cell[]> {
  const planned = planCells(ctx.options);
  if (await auditEnabledSinceBoot()) ctx.notes.add(AUDIT_STICKY_NOTE);
  const support = await detectAll(ctx, [...new Set(planned.map((c) => c.mechanism))]);
  const iterations = await calibrateAll(ctx, ctx.options.workloads, log);
  const cells: Cell[] = [];
  for (const [index, cell] of planned.entries()) {
    const done = log.find((l): l is Extract<LogLine, { type: 'cell' }> => l.type === 'cell' && cellKey(l.cell) === cellKey(cell));
    if (done) {
      cells.push(done.cell);
      continue;
    }
    ctx.onProgress({ type: 'cell-start', cell, index, total: planned.length });
    const previous = log.flatMap((l) => (l.type === 'round' && cellKey(l.cell) === cellKey(cell) ? [l.round] : []));
    const measured = await measureCell(ctx, cell, index, iterations.get(cell.workload)!, support.get(cell.mechanism)!, previous);
    ctx.store.append({ type: 'cell', cell: measured });
    ctx.onProgress({ type: 'cell-end', cell: measured });
    cells.push(measured);
  }
  return cells;
}

async function detectAll(ctx: RunContext, names: string[]): Promise<Map<string, Support>> {
  const support = new Map<string, Support>();
  for (const name of names) {
    ctx.checkAbort();
    const result = await mechanism(name).detect({ journal: ctx.journal, tag: ctx.nextTag() });
    support.set(name, result);
    ctx.onProgress({ type: 'detected', mechanism: name, support: result });
  }
  return support;
}

function mechanism(name: string): AnyMechanism {
  const m = mechanismByName(name);
  if (!m) throw new Error(`unknown mechanism '${name}'`);
  return m;
}

async function calibrateAll(ctx: RunContext, workloads: string[], log: LogLine[]): Promise<Map<string, number>> {
  const iterations = new Map<string, number>();
  for (const workload of workloads) {
    const logged = log.find((l) => l.type === 'calibration' && l.workload === workload);
    let n = logged?.type === 'calibration' ? logged.iterations : undefined;
    if (n === undefined) {
      n = await calibrateIterations(async (pilot) => (await runWorkload(ctx, workload, pilot, 'baseline')), ctx.options.runMs);
      ctx.store.append({ type: 'calibration', workload, iterations: n });
    }
    iterations.set(workload, n);
    ctx.onProgress({ type: 'calibrated', workload, iterations: n });
  }
  return iterations;
}

/** One timed run of a workload under perf stat. */
async function runWorkload(ctx: RunContext, workload: string, iterations: number, arm: RunSample['arm']): Promise<RunSample & { pid: number }> {
  ctx.checkAbort();
  const startedAt = Date.now();
  const out = await runUnderPerfStat(workloadArgv(ctx.built, workload, iterations));
  const line = parseWorkloadLine(out.stdout);
  const unsupported = PERF_COUNTERS.filter((c) => out.perf[c] === null);
  if (unsupported.length > 0) ctx.notes.add(`perf counters not supported on this machine (recorded as null): ${unsupported.join(', ')}`);
  return { arm, startedAt, ops: line.ops, ns: line.ns, nsPerOp: line.ns / line.ops, perf: out.perf, pid: line.pid };
}

/** Attach, run, count, detach: attach and detach happen outside the workload's own timed loop. */
async function runProbed(ctx: RunContext, m: AnyMechanism, cell: PlannedCell, iterations: number, bpfStats = false): Promise<RunSample> {
  ctx.checkAbort();
  const t0 = performance.now();
  const handle = await m.attach(hookTargetFor(cell.workload), { journal: ctx.journal, tag: ctx.nextTag(), bpfStats });
  const attachMs = performance.now() - t0;
  const timedDetach = async () => {
    const t1 = performance.now();
    await m.detach(handle);
    return performance.now() - t1;
  };
  let sample: RunSample;
  try {
    const { pid, ...run } = await runWorkload(ctx, cell.workload, iterations, 'probed');
    const count = await m.count(handle, { pid });
    if (count.note) ctx.notes.add(`${cellKey(cell)}: ${count.note}`);
    sample = { ...run, events: count.events, inProgramNs: count.inProgramNs ?? null, attachMs, ...(count.perHook ? { eventsPerHook: count.perHook } : {}) };
  } catch (err) {
    await timedDetach();
    throw err;
  }
  return { ...sample, detachMs: await timedDetach() };
}

async function runBaseline(ctx: RunContext, cell: PlannedCell, iterations: number): Promise<RunSample> {
  const { pid: _pid, ...sample } = await runWorkload(ctx, cell.workload, iterations, 'baseline');
  return sample;
}

async function measureCell(ctx: RunContext, cell: PlannedCell, index: number, iterations: number, support: Support, previous: Round[]): Promise<Cell> {
  const m = mechanism(cell.mechanism);
  const target = hookTargetFor(cell.workload);
  const expectedPerOp = m.expectedPerOp(target);
  const perHook = isProfileMechanism(m) ? { expectedEventsPerHook: m.expectedPerHook(target) } : {};
  const base: Omit<Cell, 'stats' | 'verdict' | 'reason' | 'elapsedS'> = { ...cell, hookPoint: m.hookPoint(target), expectedEventsPerOp: expectedPerOp, ...perHook, iterations, warmup: [], rounds: previous };
  const started = performance.now();
  const elapsedS = () => (performance.now() - started) / 1000;
  if (!support.supported) return { ...base, stats: null, verdict: 'UNSUPPORTED', reason: support.reason, elapsedS: 0 };
  const cellOptions = cellOptionsFrom(ctx.options, expectedPerOp);
  const rounds = [...previous];
  try {
    // One discarded run per arm: first-touch costs (page cache, the probe's first events) stay out.
    // BPF run-time stats (two clock reads per program run) are on only there, never in a timed round:
    // the warm-up gives the in-program ns per event.
    base.warmup = [await runBaseline(ctx, cell, iterations), await runProbed(ctx, m, cell, iterations, true)];
    for (const sample of base.warmup) ctx.store.append({ type: 'warmup', cell, sample });
    const arms = { baseline: iterations, probed: probedIterations(base.warmup[1]!, iterations, ctx.options.runMs) };
    base.probedIterations = arms.probed;
    const random = seededRandom(ctx.options.seed + index);
    for (;;) {
      const round = await measureRound(ctx, m, cell, arms, rounds.length, random);
      rounds.push(round);
      ctx.store.append({ type: 'round', cell, round });
      // Checked here too: a signal during a cell's last round would otherwise go unnoticed.
      ctx.checkAbort();
      const quick = cellStats(rounds, { ...cellOptions, resamples: Math.min(STOP_CHECK_RESAMPLES, cellOptions.resamples) });
      ctx.onProgress({ type: 'round', cell, round: round.index, measures: quick });
      const stop = shouldStop(quick, rounds.length, elapsedS(), cellOptions);
      if (stop) return finishCell(base, rounds, cellOptions, stop, elapsedS());
    }
  } catch (err) {
    // Not a finished cell if a signal made it fail (its tools die of Ctrl-C too): resume re-measures it.
    ctx.checkAbort();
    if (err instanceof InterruptedError) throw err;
    return { ...base, rounds, stats: null, verdict: 'ERROR', reason: (err as Error).message.split('\n')[0]!, elapsedS: elapsedS() };
  }
}

/** A probed run more than this many times the target duration gets fewer ops. */
const SLOW_PROBED_FACTOR = 2;

/**
 * Ops per probed run. Overheads are per op, so a mechanism that makes each op 25 times dearer (audit)
 * may run fewer ops: its rounds then last about --run-ms, not 25 times that, and a cell reaches its
 * verdict in as many rounds as any other. Ordinary cells keep the same ops in both arms.
 */
function probedIterations(warmup: RunSample, iterations: number, runMs: number): number {
  if (warmup.ns <= SLOW_PROBED_FACTOR * runMs * 1e6) return iterations;
  return Math.min(iterations, iterationsForDuration(warmup, runMs));
}

async function measureRound(ctx: RunContext, m: AnyMechanism, cell: PlannedCell, arms: Record<RunSample['arm'], number>, index: number, random: () => number): Promise<Round> {
  const order: Round['order'] = random() < 0.5 ? ['baseline', 'probed'] : ['probed', 'baseline'];
  const samples: Partial<Record<RunSample['arm'], RunSample>> = {};
  for (const arm of order) samples[arm] = arm === 'baseline' ? await runBaseline(ctx, cell, arms.baseline) : await runProbed(ctx, m, cell, arms.probed);
  return { index, order, baseline: samples.baseline!, probed: samples.probed! };
}

function finishCell(
  base: Omit<Cell, 'stats' | 'verdict' | 'reason' | 'elapsedS'>,
  rounds: Round[],
  cellOptions: ReturnType<typeof cellOptionsFrom>,
  stopReason: NonNullable<ReturnType<typeof shouldStop>>,
  elapsedS: number,
): Cell {
  const measures = { ...cellStats(rounds, cellOptions), inProgramNs: base.warmup[1]?.inProgramNs ?? null };
  const decision = decideVerdict(measures, cellOptions);
  // A hook-profile cell is also INVALID when one hook fell short, whatever the total counted.
  const hookShortfall = decision.verdict === 'INVALID' ? null : profileCellInvalidReason({ rounds, expectedEventsPerHook: base.expectedEventsPerHook });
  const { verdict, reason } = hookShortfall ? { verdict: 'INVALID' as const, reason: hookShortfall } : decision;
  return { ...base, rounds, stats: { ...measures, stopReason }, verdict, reason, elapsedS };
}
