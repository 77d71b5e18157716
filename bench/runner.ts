import { auditEnabledSinceBoot } from '../probes/audit.js';
import { hookTargetFor } from '../probes/hookpoints.js';
import { Journal } from '../probes/journal.js';
import { isProfileMechanism } from '../probes/profiles.js';
import { mechanismByName } from '../probes/registry.js';
import type { AnyMechanism, Support } from '../probes/types.js';
import { undoAllAndClose } from '../probes/undo.js';
import { buildWorkloads, workloadArgv, type BuiltWorkloads } from '../workloads/build.js';
import { calibrateIterations, iterationsForDuration } from '../workloads/calibrate.js';
import { collectEnvironment } from './environment.js';
import { InterruptedError } from './errors.js';
import { DEFAULT_LATENCY_TIME_MS, measureLatency } from './latency.js';
import { parseWorkloadLine, runUnderPerfStat } from './perfstat.js';
import { profileCellInvalidReason } from './profileCells.js';
import { registerRunProfiles } from './profileOptions.js';
import { planCells, type PlannedCell } from './planner.js';
import { placeRun } from './placement.js';
import {
  PERF_COUNTERS,
  SCHEMA_VERSION,
  type Cell,
  type Latency,
  type MechanismLatency,
  type Results,
  type Round,
  type RunOptions,
  type RunSample,
  type StopReason,
} from './results.js';
import {
  cellOptionsFrom,
  cellStats,
  cpuDifference,
  decideVerdict,
  ROUNDS_PER_BLOCK,
  seededRandom,
  shouldStop,
  type CellMeasures,
  type CellOptions,
} from './statistics.js';
import { cellKey, ResultsStore, type LogLine, type RunHeader } from './store.js';

export type ProgressEvent =
  | { type: 'detected'; mechanism: string; support: Support }
  | { type: 'calibrated'; workload: string; iterations: number }
  | { type: 'cell-start'; cell: PlannedCell; index: number; total: number }
  | { type: 'block'; cell: PlannedCell; block: number; cpu: number; measures: CellMeasures }
  | { type: 'cell-end'; cell: Cell }
  | { type: 'latency'; latency: MechanismLatency };

export interface RunMatrixOptions {
  /** Results directory: created, or continued when `resume` is set. */
  outDir: string;
  resume?: boolean;
  onProgress?: (event: ProgressEvent) => void;
  /** Aborted with the signal's name as reason: the run detaches and throws InterruptedError. */
  signal?: AbortSignal;
  /**
   * After the cells, time each mechanism's attach and detach over at least this many cycles
   * (bench/latency.ts); 0 or absent: not measured. A resumed run keeps the latency it logged.
   */
  latencyCycles?: number;
}

const AUDIT_STICKY_NOTE =
  'audit was enabled earlier in this boot: every task created since carries an audit context (the kernel keeps it until reboot), so baselines include that cost';

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
  /** The CPU block `block` of a cell runs on; hookbench's own processes are moved off it. */
  placeBlock: (block: number) => Promise<number>;
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
  const placement = await placeRun(options.cpus);
  const ctx: RunContext = {
    options,
    built: await buildWorkloads(),
    journal,
    store,
    notes: new Set(placement.placement.harnessIsolated ? [] : [placement.placement.policy]),
    nextTag: () => `hookbench-${process.pid}-${++tags}`,
    checkAbort,
    onProgress: run.onProgress ?? (() => {}),
    placeBlock: (block) => placement.placeBlock(block),
  };
  let cells: Cell[];
  try {
    cells = await measureAll(ctx, log);
  } catch (err) {
    // Ctrl-C signals the whole process group: perf, the workload or auditctl die of it first, and
    // their failure is the interruption, not an error of the run.
    checkAbort();
    throw err;
  } finally {
    await placement.release();
    // Normally empty by now: each probe detaches itself. What is left (an interrupted attach) goes
    // here; what cannot be undone stays journaled for `hookbench cleanup`.
    await undoAllAndClose(journal);
  }
  const latency = await runLatency(ctx, log, run);
  const results: Results = {
    schemaVersion: SCHEMA_VERSION,
    tool: 'hookbench',
    startedAt: header.startedAt,
    finishedAt: new Date().toISOString(),
    options,
    environment: header.environment,
    notes: [...ctx.notes],
    placement: placement.placement,
    cells,
    ...(latency ? { latency } : {}),
  };
  store.writeResults(results);
  return results;
}

/**
 * The run's attach and detach latency, after every cell (audit's last, as its cells were) and after
 * the cells' journal is closed: bench/latency.ts keeps a journal of its own, and a process has one at
 * a time. Logged, so a resumed run measures it only if it is missing.
 */
async function runLatency(ctx: RunContext, log: LogLine[], run: RunMatrixOptions): Promise<Latency | undefined> {
  const logged = log.find((l): l is Extract<LogLine, { type: 'latency' }> => l.type === 'latency');
  if (logged) return logged.latency;
  if (!run.latencyCycles) return undefined;
  const latency = await measureLatency(
    ctx.options.mechanisms.map(mechanism),
    { minCycles: run.latencyCycles, timeMs: DEFAULT_LATENCY_TIME_MS, signal: run.signal },
    (measured) => ctx.onProgress({ type: 'latency', latency: measured }),
  );
  ctx.store.append({ type: 'latency', latency });
  return latency;
}

/** One cell on its way through the run's blocks. */
interface CellInProgress {
  planned: PlannedCell;
  index: number;
  mechanism: AnyMechanism;
  support: Support;
  base: Omit<Cell, 'stats' | 'verdict' | 'reason' | 'elapsedS'>;
  options: CellOptions;
  rounds: Round[];
  /** Seconds spent measuring this cell so far (its blocks only, not the other cells' in between). */
  elapsedS: number;
  random: () => number;
  arms?: Record<RunSample['arm'], number>;
  done?: Cell;
  /** The finished cell is already in the log (a resumed run). */
  logged?: boolean;
}

/**
 * Measures every planned cell in blocks of ROUNDS_PER_BLOCK rounds, interleaved: block 1 of every
 * cell, then block 2 of every cell that is still measuring, and so on, so the cells share the
 * machine's slow changes instead of each getting one period of it. Audit cells are interleaved only
 * among themselves, after every other cell has finished: enabling audit taxes every task created
 * afterwards until reboot, and would move the other cells' baselines.
 */
async function measureAll(ctx: RunContext, log: LogLine[]): Promise<Cell[]> {
  const planned = planCells(ctx.options);
  if (await auditEnabledSinceBoot()) ctx.notes.add(AUDIT_STICKY_NOTE);
  const support = await detectAll(ctx, [...new Set(planned.map((c) => c.mechanism))]);
  const iterations = await calibrateAll(ctx, ctx.options.workloads, log);
  const cells = planned.map((cell, index) => cellInProgress(ctx, cell, index, iterations.get(cell.workload)!, support.get(cell.mechanism)!, log));
  for (const cell of cells.filter((c) => c.done && !c.logged)) ctx.store.append({ type: 'cell', cell: cell.done! });
  for (const family of [(c: CellInProgress) => c.mechanism.family !== 'audit', (c: CellInProgress) => c.mechanism.family === 'audit']) {
    const group = cells.filter(family);
    for (let active = group.filter((c) => !c.done); active.length > 0; active = group.filter((c) => !c.done)) {
      for (const cell of active) await measureBlock(ctx, cell, cells.length);
    }
  }
  return cells.map((c) => c.done!);
}

/** A planned cell with what a resumed run had already measured of it (its rounds, or the whole cell). */
function cellInProgress(ctx: RunContext, planned: PlannedCell, index: number, iterations: number, support: Support, log: LogLine[]): CellInProgress {
  const m = mechanism(planned.mechanism);
  const target = hookTargetFor(planned.workload);
  const expectedPerOp = m.expectedPerOp(target);
  const perHook = isProfileMechanism(m) ? { expectedEventsPerHook: m.expectedPerHook(target) } : {};
  const mine = (l: LogLine) => 'cell' in l && cellKey(l.cell) === cellKey(planned);
  const rounds = log.flatMap((l) => (l.type === 'round' && mine(l) ? [l.round] : []));
  // The last baseline + probed pair logged: a kill between the two left a lone baseline before it.
  const warmup = log.flatMap((l) => (l.type === 'warmup' && mine(l) ? [l.sample] : [])).slice(-2);
  const warmedUp = warmup.length === 2 && warmup[0]!.arm === 'baseline' && warmup[1]!.arm === 'probed';
  const base = { ...planned, hookPoint: m.hookPoint(target), expectedEventsPerOp: expectedPerOp, ...perHook, iterations, warmup: warmedUp ? warmup : [], rounds };
  const cell: CellInProgress = {
    planned,
    index,
    mechanism: m,
    support,
    base,
    options: cellOptionsFrom(ctx.options, expectedPerOp, target.lowerBound === true),
    rounds,
    elapsedS: measuredSeconds(rounds),
    random: seededRandom(ctx.options.seed + index),
  };
  const finished = log.find((l): l is Extract<LogLine, { type: 'cell' }> => l.type === 'cell' && mine(l));
  if (finished) Object.assign(cell, { done: finished.cell, logged: true });
  else if (!support.supported) cell.done = { ...base, stats: null, verdict: 'UNSUPPORTED', reason: support.reason, elapsedS: 0 };
  if (warmedUp) cell.arms = armIterations(warmup[1]!, iterations, ctx.options.runMs);
  return cell;
}

/** Measuring time a resumed cell had already spent: each block from its first run's start to its last run's end. */
function measuredSeconds(rounds: readonly Round[]): number {
  const spans = new Map<number, { from: number; to: number }>();
  for (const run of rounds.flatMap((r) => [{ block: r.block, s: r.baseline }, { block: r.block, s: r.probed }])) {
    const span = spans.get(run.block) ?? { from: Infinity, to: -Infinity };
    spans.set(run.block, { from: Math.min(span.from, run.s.startedAt), to: Math.max(span.to, run.s.startedAt + run.s.ns / 1e6) });
  }
  return [...spans.values()].reduce((sum, { from, to }) => sum + (to - from) / 1000, 0);
}

/**
 * One block of a cell (a resumed cell's torn block is completed first), then the stopping rule. The
 * block runs pinned to its CPU, with hookbench's own processes kept off it. A cell whose tools fail
 * becomes an ERROR cell; the other cells go on.
 */
async function measureBlock(ctx: RunContext, cell: CellInProgress, total: number): Promise<void> {
  const { rounds, options } = cell;
  const last = rounds.at(-1);
  const block = !last ? 0 : rounds.filter((r) => r.block === last.block).length < ROUNDS_PER_BLOCK ? last.block : last.block + 1;
  const size = Math.min(ROUNDS_PER_BLOCK - rounds.filter((r) => r.block === block).length, options.maxRounds - rounds.length);
  const cpu = await ctx.placeBlock(block);
  if (rounds.length === 0) ctx.onProgress({ type: 'cell-start', cell: cell.planned, index: cell.index, total });
  const started = performance.now();
  try {
    if (!cell.arms) {
      // One discarded run per arm: first-touch costs (page cache, the probe's first events) stay out.
      // BPF run-time stats (two clock reads per program run) are on only there, never in a timed round:
      // the warm-up gives the in-program ns per event.
      const warmup = [await runBaseline(ctx, cell.planned, cell.base.iterations, cpu), await runProbed(ctx, cell.mechanism, cell.planned, cell.base.iterations, cpu, true)];
      for (const sample of warmup) ctx.store.append({ type: 'warmup', cell: cell.planned, sample });
      cell.base.warmup = warmup;
      cell.arms = armIterations(warmup[1]!, cell.base.iterations, ctx.options.runMs);
    }
    if (cell.arms.probed !== cell.base.iterations) cell.base.probedIterations = cell.arms.probed;
    for (let i = 0; i < size; i++) {
      const round = await measureRound(ctx, cell, { index: rounds.length, block, cpu });
      rounds.push(round);
      ctx.store.append({ type: 'round', cell: cell.planned, round });
      // Checked here too: a signal during a cell's last round would otherwise go unnoticed.
      ctx.checkAbort();
    }
    cell.elapsedS += (performance.now() - started) / 1000;
    const measures = cellStats(rounds, options);
    ctx.onProgress({ type: 'block', cell: cell.planned, block, cpu, measures });
    const stop = shouldStop(measures, cell.elapsedS, options);
    if (stop) cell.done = finishCell(ctx, cell, measures, stop);
  } catch (err) {
    // Not a finished cell if a signal made it fail (its tools die of Ctrl-C too): resume re-measures it.
    ctx.checkAbort();
    if (err instanceof InterruptedError) throw err;
    cell.done = { ...cell.base, rounds, stats: null, verdict: 'ERROR', reason: (err as Error).message.split('\n')[0]!, elapsedS: cell.elapsedS };
  }
  if (cell.done) {
    ctx.store.append({ type: 'cell', cell: cell.done });
    ctx.onProgress({ type: 'cell-end', cell: cell.done });
  }
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

/** Calibrated on the first measurement CPU, where the cells' first blocks run. */
async function calibrateAll(ctx: RunContext, workloads: string[], log: LogLine[]): Promise<Map<string, number>> {
  const iterations = new Map<string, number>();
  for (const workload of workloads) {
    const logged = log.find((l) => l.type === 'calibration' && l.workload === workload);
    let n = logged?.type === 'calibration' ? logged.iterations : undefined;
    if (n === undefined) {
      const cpu = await ctx.placeBlock(0);
      n = await calibrateIterations(async (pilot) => await runWorkload(ctx, workload, pilot, 'baseline', cpu), ctx.options.runMs);
      ctx.store.append({ type: 'calibration', workload, iterations: n });
    }
    iterations.set(workload, n);
    ctx.onProgress({ type: 'calibrated', workload, iterations: n });
  }
  return iterations;
}

/**
 * One timed run of a workload under perf stat, pinned to `cpu` with everything it forks. Both arms are
 * gated alike: the workload waits, ready, before its timed loop until `onReady` (a probe narrowing its
 * scope to it) has run.
 */
async function runWorkload(
  ctx: RunContext,
  workload: string,
  iterations: number,
  arm: RunSample['arm'],
  cpu: number,
  onReady: (pid: number) => Promise<void> = async () => {},
): Promise<RunSample & { pid: number }> {
  ctx.checkAbort();
  const startedAt = Date.now();
  const out = await runUnderPerfStat(workloadArgv(ctx.built, workload, iterations), { cpu, onReady });
  const line = parseWorkloadLine(out.stdout);
  const unsupported = PERF_COUNTERS.filter((c) => out.perf[c] === null);
  if (unsupported.length > 0) ctx.notes.add(`perf counters not supported on this machine (recorded as null): ${unsupported.join(', ')}`);
  const { ops, ns, pid, cpuStart, cpuEnd } = line;
  return { arm, startedAt, ops, ns, nsPerOp: ns / ops, perf: out.perf, pid, cpuStart, cpuEnd };
}

/** Attach, run, count, detach: attach and detach happen outside the workload's own timed loop. */
async function runProbed(ctx: RunContext, m: AnyMechanism, cell: PlannedCell, iterations: number, cpu: number, bpfStats = false): Promise<RunSample> {
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
    const { pid, ...run } = await runWorkload(ctx, cell.workload, iterations, 'probed', cpu, (ready) => m.scope(handle, { pid: ready }));
    const count = await m.count(handle, { pid });
    if (count.note) ctx.notes.add(`${cellKey(cell)}: ${count.note}`);
    sample = { ...run, events: count.events, inProgramNs: count.inProgramNs ?? null, attachMs, ...(count.perHook ? { eventsPerHook: count.perHook } : {}) };
  } catch (err) {
    await timedDetach();
    throw err;
  }
  return { ...sample, detachMs: await timedDetach() };
}

async function runBaseline(ctx: RunContext, cell: PlannedCell, iterations: number, cpu: number): Promise<RunSample> {
  const { pid: _pid, ...sample } = await runWorkload(ctx, cell.workload, iterations, 'baseline', cpu);
  return sample;
}

/** A probed run more than this many times the target duration gets fewer ops. */
const SLOW_PROBED_FACTOR = 2;

/**
 * Ops per run of each arm. Overheads are per op, so a mechanism that makes each op 25 times dearer
 * (audit) may run fewer ops: its rounds then last about --run-ms, not 25 times that, and a cell reaches
 * its verdict in as many rounds as any other. Ordinary cells keep the same ops in both arms.
 */
function armIterations(warmup: RunSample, iterations: number, runMs: number): Record<RunSample['arm'], number> {
  const probed = warmup.ns <= SLOW_PROBED_FACTOR * runMs * 1e6 ? iterations : Math.min(iterations, iterationsForDuration(warmup, runMs));
  return { baseline: iterations, probed };
}

/** Both arms of a round, in a seeded random order, on the same CPU. */
async function measureRound(ctx: RunContext, cell: CellInProgress, at: Pick<Round, 'index' | 'block' | 'cpu'>): Promise<Round> {
  const arms = cell.arms!;
  const order: Round['order'] = cell.random() < 0.5 ? ['baseline', 'probed'] : ['probed', 'baseline'];
  const samples: Partial<Record<RunSample['arm'], RunSample>> = {};
  for (const arm of order) {
    samples[arm] =
      arm === 'baseline'
        ? await runBaseline(ctx, cell.planned, arms.baseline, at.cpu)
        : await runProbed(ctx, cell.mechanism, cell.planned, arms.probed, at.cpu);
  }
  return { ...at, order, baseline: samples.baseline!, probed: samples.probed! };
}

function finishCell(ctx: RunContext, cell: CellInProgress, measured: CellMeasures, stopReason: StopReason): Cell {
  const { base, rounds, options } = cell;
  const measures = { ...measured, inProgramNs: base.warmup[1]?.inProgramNs ?? null };
  const decision = decideVerdict(measures, options);
  // A hook-profile cell is also INVALID when one hook fell short, whatever the total counted.
  const hookShortfall = decision.verdict === 'INVALID' ? null : profileCellInvalidReason({ rounds, expectedEventsPerHook: base.expectedEventsPerHook });
  const { verdict, reason } = hookShortfall ? { verdict: 'INVALID' as const, reason: hookShortfall } : decision;
  const cpus = cpuDifference(measures);
  if (cpus) ctx.notes.add(`${cellKey(cell.planned)}: ${cpus}`);
  if (measures.migratedRuns > 0) ctx.notes.add(`${cellKey(cell.planned)}: ${measures.migratedRuns} runs did not stay on one CPU (flagged in the raw samples, kept)`);
  return { ...base, rounds, stats: { ...measures, stopReason }, verdict, reason, elapsedS: cell.elapsedS };
}
