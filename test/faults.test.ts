import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ResultsSchema } from '../bench/results.js';
import { seededRandom } from '../bench/statistics.js';
import { LOG_FILE, RESULTS_FILE, RUN_FILE } from '../bench/store.js';
import { processStartTime, type JournalEntry } from '../probes/journal.js';
import { hasEnded } from '../probes/undo.js';
import {
  ensureCliBuilt,
  expectKernelAsBefore,
  hookbench,
  installUserState,
  journalFiles,
  lines,
  newJournalDir,
  journalEntries,
  removeUserState,
  sleep,
  snapshot,
  startHookbench,
  USER_AUDIT_RULES,
  USER_INSTANCE,
  type RunningCli,
  type Snapshot,
} from './cliHarness.js';

/**
 * The fault tests: `hookbench run` killed with SIGINT, SIGTERM and SIGKILL, sent to
 * the node process alone or to its whole process group, at moments spread over its whole timeline
 * (seeded, stratified) and at moments chosen from its journal (an attachment made; one being undone; its
 * auditd or bpftrace running). After each: SIGINT exits 130 and SIGTERM 143 with everything detached;
 * after a SIGKILL, `hookbench cleanup` undoes what the run left. Either way the kernel state equals the
 * state before, a user's audit rules and tracefs instance survive, and no journal is left. Two decoy
 * processes named `auditd` and `bpftrace` survive too: cleanup stops the processes a run journaled,
 * never a process by its name. Then `doctor`, which attaches every mechanism in turn, interrupted.
 */

const SEED = 20261125;
const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGKILL'] as const;
type Signal = (typeof SIGNALS)[number];
/** Trials per signal at moments spread over the run's timeline: early, middle and late strata. */
const TIMELINE_TRIALS = 10;
/**
 * Extra trials per signal at moments taken from the run's journal: soon after an attachment was
 * journaled; as one is being undone; while a tool the run started (auditd, bpftrace) is journaled as
 * running, once per config.
 */
const JOURNAL_MOMENTS = ['attached', 'detaching', 'tool running'] as const;
const EXIT_CODE: Record<Signal, number | null> = { SIGINT: 130, SIGTERM: 143, SIGKILL: null };

/**
 * Short runs: a whole run here is a few seconds, its attach/detach cycles a large part of it. No
 * latency phase: its many attach → detach cycles would take most of the timeline the strata spread
 * over (test/latency.test.ts interrupts that phase and checks nothing is left).
 */
const RUN_ARGS = ['--workloads', 'mprotect', '--run-ms', '10', '--min-rounds', '15', '--max-rounds', '15', '--max-time', '2', '--precision', '0.01', '--latency-cycles', '0'];
/**
 * tracefs + audit (a SIGKILLed run leaves its auditd running), then a raw tracepoint + a bpftrace program
 * + a bare BPF program (its loader dies with the run: PR_SET_PDEATHSIG).
 */
const CONFIGS = [
  ['tracepoint', 'audit'],
  ['raw-syscalls', 'bpftrace-tracepoint', 'bpf-tp'],
];

type Moment = { kind: 'timeline'; stratum: number } | { kind: (typeof JOURNAL_MOMENTS)[number] };
interface Trial {
  signal: Signal;
  /** 'pid': kill(pid), as kill(1) sends it; 'group': kill(-pgid), as a terminal's Ctrl-C does. */
  target: 'pid' | 'group';
  config: number;
  moment: Moment;
}

interface TrialRecord extends Trial {
  delayMs: number;
  /** Where the run was when the signal went: its files and its journal at that moment. */
  phase: 'starting' | 'setting up' | 'measuring';
  pendingAtSignal: number | null;
  outcome: string;
  /** How the kernel state was compared: strictly, or only this file's objects (another run was active). */
  comparison: string;
  ms: number;
}

function plan(): Trial[] {
  const trials: Trial[] = [];
  for (const [s, signal] of SIGNALS.entries()) {
    for (let stratum = 0; stratum < TIMELINE_TRIALS; stratum++) {
      trials.push({ signal, target: stratum % 2 === 0 ? 'pid' : 'group', config: Math.floor(stratum / 2) % CONFIGS.length, moment: { kind: 'timeline', stratum } });
    }
    // The journal moments rotate over configs and targets from one signal to the next; a SIGKILL to the
    // node process alone leaves the run's tools running, for cleanup to stop.
    const other = (k: number) => (k % 2 === 0 ? 'pid' : 'group');
    trials.push({ signal, target: other(s), config: (s + 1) % CONFIGS.length, moment: { kind: 'attached' } });
    trials.push({ signal, target: other(s + 1), config: s % CONFIGS.length, moment: { kind: 'detaching' } });
    CONFIGS.forEach((_, config) => trials.push({ signal, target: signal === 'SIGKILL' ? 'pid' : other(config), config, moment: { kind: 'tool running' } }));
  }
  return trials;
}

let journalDir: string;
let scratch: string;
let before: Snapshot;
let decoys: ChildProcess[] = [];
/** Wall time of an uninterrupted run of each config: the timeline the moments are spread over. */
const runMs: number[] = [];
/** How long the same runs were starting (no run file yet): node loading hookbench, its checks. */
const startMs: number[] = [];
const records: TrialRecord[] = [];
const random = seededRandom(SEED);

/** A process that only sleeps, named as a tool cleanup stops (with this file's journal directory: compared as ours). */
function decoy(name: string): ChildProcess {
  const path = join(scratch, name);
  copyFileSync('/bin/sleep', path);
  return spawn(path, ['3600'], { stdio: 'ignore', env: { ...process.env, HOOKBENCH_JOURNAL_DIR: journalDir } });
}

beforeAll(async () => {
  await ensureCliBuilt();
  journalDir = newJournalDir();
  scratch = mkdtempSync(join(tmpdir(), 'hookbench-faults-'));
  await installUserState();
  decoys = [decoy('auditd'), decoy('bpftrace')];
  await sleep(100);
  before = await snapshot();
  expect(before.state.hookbenchProcesses.filter((p) => decoys.some((d) => p.endsWith(` ${d.pid}`)))).toHaveLength(2);
  for (const [i, names] of CONFIGS.entries()) {
    const outDir = join(scratch, `reference-${i}`);
    const t0 = performance.now();
    const reference = startHookbench(['run', '--mechanisms', names.join(','), ...RUN_ARGS, '--out', outDir], { journalDir });
    await until(reference, () => existsSync(join(outDir, RUN_FILE)));
    startMs.push(performance.now() - t0);
    const r = await reference.done;
    runMs.push(performance.now() - t0);
    expect([0, 1, 3], `reference run of ${names.join(',')}: ${r.stderr}`).toContain(r.exitCode);
    const doc = ResultsSchema.parse(JSON.parse(readFileSync(join(outDir, RESULTS_FILE), 'utf8')));
    // A mechanism this kernel lacks attaches nothing: its trials would prove nothing.
    for (const c of doc.cells) if (c.verdict === 'UNSUPPORTED') console.warn(`faults: ${c.mechanism} is unsupported here (${c.reason}); its attach paths are not exercised`);
    expect(doc.cells.some((c) => c.verdict !== 'UNSUPPORTED'), `${names.join(',')}: nothing supported`).toBe(true);
    await expectKernelAsBefore(before, `after the reference run of ${names.join(',')}`);
  }
}, 180_000);

afterAll(async () => {
  // A failed trial may have left a run's journal: undo it, so that a failing suite leaks nothing.
  const left = journalFiles(journalDir);
  if (left.length > 0) await hookbench(['cleanup'], { journalDir });
  for (const d of decoys) d.kill('SIGKILL');
  await removeUserState();
  rmSync(scratch, { recursive: true, force: true });
  rmSync(journalDir, { recursive: true, force: true });
  printRecords();
  expect(left, 'journals left by the trials').toEqual([]);
});

/** Waits until `cond` holds (polling the run's files), or the run has ended. */
async function until(run: RunningCli, cond: () => boolean): Promise<void> {
  while (!run.exited() && !cond()) await sleep(2);
}

/** Waits for the n-th time `value` moves in `direction` (+1 up, -1 down). */
async function nthChange(run: RunningCli, value: () => number, n: number, direction: 1 | -1): Promise<void> {
  let last = value();
  let seen = 0;
  await until(run, () => {
    const now = value();
    if (Math.sign(now - last) === direction) seen++;
    last = now;
    return seen >= n;
  });
}

/** Waits for the trial's moment. */
async function reachMoment(run: RunningCli, trial: Trial, started: number, shrink: number): Promise<void> {
  const pending = () => journalEntries(journalDir, run.pid)?.length ?? 0;
  switch (trial.moment.kind) {
    case 'timeline': {
      // Stratified: trial 0 falls in the first half of the starting phase (on a fast machine it is shorter
      // than a tenth of the run), trial k > 0 in the k-th n-th of the run's duration (a little short of its end).
      const stratum = trial.moment.stratum;
      const at = stratum === 0 ? 0.5 * startMs[trial.config]! * random() : (runMs[trial.config]! * 0.95 * (stratum + random())) / TIMELINE_TRIALS;
      await sleep(Math.max(0, at * shrink - (performance.now() - started)));
      return;
    }
    case 'attached':
      // The n-th time the journal grows (an attachment about to be made), then a moment later: inside
      // the attach, or while the probe is attached.
      await nthChange(run, pending, 1 + Math.floor(random() * 4), +1);
      await sleep(random() * 20);
      return;
    case 'detaching':
      // The n-th time the journal shrinks: an attachment is being undone, entry by entry.
      await nthChange(run, pending, 1 + Math.floor(random() * 4), -1);
      return;
    case 'tool running':
      // A tool that outlives a SIGKILLed run (auditd, bpftrace): the bare BPF loader dies with it.
      await until(run, () => journaledProcesses(run.pid).some((p) => p.comm !== LOADER));
      await sleep(random() * 20);
  }
}

type JournaledProcess = Extract<JournalEntry, { kind: 'process' }>;

/** The pid of the auditd registered with the kernel, when there is one (here: another engineer's run's). */
async function auditdNotOurs(): Promise<number | null> {
  const pid = Number(/^pid (\d+)/m.exec((await execa('auditctl', ['-s'])).stdout)?.[1] ?? 0);
  return pid === 0 ? null : pid;
}

/** The bare BPF family's loader (probes/bpf/loader.c). */
const LOADER = 'hb-bpf-loader';

/** The tool processes (auditd, bpftrace, the bare BPF loader) a run's journal says it started and has not stopped. */
function journaledProcesses(runPid: number): JournaledProcess[] {
  return (journalEntries(journalDir, runPid) ?? []).flatMap((entry) => (entry.kind === 'process' ? [entry] : []));
}

/** Still that process, and not one that has exited and waits to be reaped (PID 1 here reaps every few seconds). */
const isRunning = (p: JournaledProcess) => processStartTime(p.pid) === p.startTime && !hasEnded(p.pid);

function phaseOf(outDir: string): TrialRecord['phase'] {
  if (!existsSync(join(outDir, RUN_FILE))) return 'starting';
  const log = existsSync(join(outDir, LOG_FILE)) ? readFileSync(join(outDir, LOG_FILE), 'utf8') : '';
  return log.includes('"type":"round"') ? 'measuring' : 'setting up';
}

async function expectAsBefore(context: string): Promise<string> {
  const comparison = await expectKernelAsBefore(before, context);
  const after = await snapshot();
  for (const rule of USER_AUDIT_RULES) expect(after.state.auditRules, context).toContain(rule);
  expect(existsSync(USER_INSTANCE), context).toBe(true);
  expect(decoys.every((d) => d.exitCode === null && d.signalCode === null), `${context}: a decoy was stopped`).toBe(true);
  expect(journalFiles(journalDir), context).toEqual([]);
  return comparison;
}

/** One kill; retried (at half the delay) when the run had already ended when the signal was due. */
async function trial(t: Trial): Promise<void> {
  const t0 = performance.now();
  for (let shrink = 1; shrink > 0.1; shrink /= 2) {
    const outDir = join(mkdtempSync(join(scratch, 'trial-')), 'results');
    const run = startHookbench(['run', '--mechanisms', CONFIGS[t.config]!.join(','), ...RUN_ARGS, '--out', outDir], { journalDir });
    const started = performance.now();
    await reachMoment(run, t, started, shrink);
    const delayMs = performance.now() - started;
    const phase = phaseOf(outDir);
    const pendingAtSignal = journalEntries(journalDir, run.pid)?.length ?? null;
    const signalled = !run.exited();
    if (signalled) process.kill(t.target === 'pid' ? run.pid : -run.pid, t.signal);
    const done = await Promise.race([run.done, sleep(60_000).then(() => null)]);
    if (done === null) {
      process.kill(-run.pid, 'SIGKILL');
      throw new Error(`${t.signal}: the run did not end within 60 s of the signal`);
    }
    const context = `${t.signal} to ${t.target} at ${delayMs.toFixed(0)} ms (${phase}, ${pendingAtSignal ?? 'no'} journal entries); exit ${done.exitCode ?? done.signal}; stderr: ${done.stderr}`;
    const record = (outcome: string, comparison: string) => records.push({ ...t, delayMs, phase, pendingAtSignal, outcome, comparison, ms: performance.now() - t0 });
    if (!signalled) {
      record(`ended before the signal (exit ${done.exitCode})`, await expectAsBefore(context));
      continue;
    }
    expect(done.stderr, context).not.toMatch(/^\s*at /m);
    let leftover: JournaledProcess[] = [];
    if (t.signal === 'SIGKILL') {
      expect(done.signal, context).toBe('SIGKILL');
      // PR_SET_PDEATHSIG: the kernel ends a bare BPF loader with the run, and its programs with it.
      const loaders = () => journaledProcesses(run.pid).filter((p) => p.comm === LOADER && isRunning(p));
      for (const start = Date.now(); loaders().length > 0 && Date.now() - start < 2_000; ) await sleep(20);
      expect(loaders(), `${context}: a bare BPF loader outlived the run`).toEqual([]);
      leftover = journaledProcesses(run.pid).filter(isRunning);
      // A run killed while its tool ran leaves it running (auditd in its own session survives even the group kill).
      if (t.moment.kind === 'tool running' && t.target === 'pid') expect(leftover.length, `${context}: no tool left running`).toBeGreaterThan(0);
      const cleanup = await hookbench(['cleanup'], { journalDir });
      expect(cleanup.exitCode, `${context}; cleanup: ${cleanup.stderr}`).toBe(0);
      expect(cleanup.stderr).toBe('');
      for (const p of leftover) expect(isRunning(p), `${context}: cleanup left ${p.comm} ${p.pid} running`).toBe(false);
    } else if (done.exitCode !== null) {
      expect(done.exitCode, context).toBe(EXIT_CODE[t.signal]);
      // The message, unless the signal came as the process was leaving after a finished run.
      if (!existsSync(join(outDir, RESULTS_FILE))) expect(lines(done.stderr).at(-1), context).toBe(`hookbench: interrupted by ${t.signal}; everything detached`);
    } else {
      // Before hookbench has installed its handlers (node still loading it) the signal's default action
      // ends the process, which shells report as the same 128+n. Nothing can have been started yet.
      expect(done.signal, context).toBe(t.signal);
      expect(existsSync(join(outDir, RUN_FILE)), context).toBe(false);
    }
    const comparison = await expectAsBefore(context);
    const stopped = leftover.length > 0 ? ` (stopped ${leftover.map((p) => p.comm).join(', ')})` : '';
    record(t.signal === 'SIGKILL' ? `killed, cleaned up${stopped}` : done.exitCode !== null ? `exit ${done.exitCode}` : `died of ${done.signal} while loading`, comparison);
    return;
  }
  throw new Error(`${t.signal}: the run ended before every attempt to interrupt it`);
}

function printRecords(): void {
  const rows = records.map(
    (r) =>
      `${r.signal.padEnd(7)} ${r.target.padEnd(5)} ${CONFIGS[r.config]!.join(',').padEnd(26)} ${(r.moment.kind === 'timeline' ? `timeline ${r.moment.stratum}` : r.moment.kind).padEnd(11)} ${r.delayMs.toFixed(0).padStart(5)} ms  ${r.phase.padEnd(10)} ${String(r.pendingAtSignal ?? '-').padStart(2)} pending  ${r.outcome} (${(r.ms / 1000).toFixed(1)} s)${r.comparison === 'strict' ? '' : ', state compared only for this file (other runs active)'}`,
  );
  console.log(`fault trials (seed ${SEED}; uninterrupted runs took ${runMs.map((ms, i) => `${(ms / 1000).toFixed(1)} s (starting ${startMs[i]!.toFixed(0)} ms)`).join(', ')}):\n${rows.join('\n')}`);
}

describe.each(SIGNALS)('a run killed with %s', (signal) => {
  const trials = plan().filter((t) => t.signal === signal);

  it.for(trials.map((t, i) => [i + 1, t.target, t.moment.kind, t] as const))('trial %i (to the %s, %s moment): exits as it should and leaves the kernel as before', { timeout: 120_000 }, async ([, , , t], ctx) => {
    const auditd = CONFIGS[t.config]!.includes('audit') ? await auditdNotOurs() : null;
    if (t.moment.kind === 'tool running' && auditd) ctx.skip(`an auditd hookbench did not start runs (pid ${auditd}): the run uses it and starts none`);
    await trial(t);
  });

  it('was interrupted in every phase: while starting, setting up and measuring, with something attached', () => {
    const mine = records.filter((r) => r.signal === signal && !r.outcome.startsWith('ended before'));
    expect(mine.length).toBeGreaterThanOrEqual(TIMELINE_TRIALS);
    expect(new Set(mine.map((r) => r.phase))).toEqual(new Set(['starting', 'setting up', 'measuring']));
    expect(mine.some((r) => (r.pendingAtSignal ?? 0) > 0)).toBe(true);
  });
});


describe('an auditd of a killed run that died while registered with the kernel', () => {
  it('cleanup of the run\'s journal leaves the kernel\'s audit pid as before', async (ctx) => {
    const registered = await auditdNotOurs();
    if (registered) ctx.skip(`an auditd hookbench did not start is registered (pid ${registered})`);
    // A real auditd on a private configuration registers, then is SIGKILLed: with audit disabled the
    // kernel sends it nothing, so it keeps naming the dead process (what a signal during auditd's
    // start-up, as a killed run's cleanup can deliver, leaves behind).
    const dir = mkdtempSync(join(scratch, 'auditd-'));
    const conf = readFileSync('/etc/audit/auditd.conf', 'utf8').replace(/^log_file\s*=.*$/m, `log_file = ${join(dir, 'audit.log')}`);
    writeFileSync(join(dir, 'auditd.conf'), conf, { mode: 0o600 });
    const auditd = spawn('auditd', ['-n', '-s', 'nochange', '-c', dir], { stdio: 'ignore' });
    for (const start = Date.now(); (await auditdNotOurs()) !== auditd.pid && Date.now() - start < 5000; ) await sleep(20);
    const startTime = processStartTime(auditd.pid!)!;
    auditd.kill('SIGKILL');
    await new Promise((r) => auditd.once('exit', r));
    expect(await auditdNotOurs(), 'the kernel still names the dead auditd (else this test proves nothing)').toBe(auditd.pid);
    // The journal of a run that is gone, holding only that auditd.
    const gone = spawn('true');
    await new Promise((r) => gone.once('exit', r));
    const entry: JournalEntry = { kind: 'process', pid: auditd.pid!, startTime, comm: 'auditd' };
    writeFileSync(join(journalDir, `${gone.pid}.json`), JSON.stringify({ pid: gone.pid, startTime: '1', entries: [{ id: 1, entry }] }));
    const cleanup = await hookbench(['cleanup'], { journalDir });
    expect(cleanup.exitCode, cleanup.stderr).toBe(0);
    expect(await auditdNotOurs()).toBeNull();
    await expectAsBefore('after the cleanup of a dead registered auditd');
  }, 60_000);
});

describe('doctor interrupted while it tries the mechanisms', () => {
  const BPF_STATS = '/proc/sys/kernel/bpf_stats_enabled';

  /** doctor, once its journal holds an entry of `kind` (and `ready` holds). */
  async function doctorAt(kind: JournalEntry['kind'], ready: () => boolean = () => true): Promise<RunningCli> {
    const run = startHookbench(['doctor', '--no-noise'], { journalDir });
    await until(run, () => (journalEntries(journalDir, run.pid) ?? []).some((e) => e.kind === kind) && ready());
    expect(run.exited(), `doctor ended before its journal held a ${kind}`).toBe(false);
    return run;
  }

  it.each([
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ] as const)('%s: it detaches everything it attached, then exits %i', async (signal, code) => {
    const run = await doctorAt('tracefs-instance');
    process.kill(run.pid, signal);
    const done = await run.done;
    expect(done.exitCode, done.stderr).toBe(code);
    expect(lines(done.stderr).at(-1)).toBe(`hookbench: interrupted by ${signal}; everything detached`);
    await expectAsBefore(`doctor, ${signal}`);
  }, 60_000);

  it('SIGKILLed twice while bpf_stats was enabled: one cleanup restores the value from before both', async () => {
    // The second doctor journals the first one's leftover (1) as the previous value: undone in the
    // wrong order, cleanup would leave bpf_stats enabled.
    for (let i = 0; i < 2; i++) {
      const run = await doctorAt('sysctl', () => readFileSync(BPF_STATS, 'utf8').trim() === '1');
      process.kill(run.pid, 'SIGKILL');
      await run.done;
    }
    expect(journalFiles(journalDir)).toHaveLength(2);
    const cleanup = await hookbench(['cleanup'], { journalDir });
    expect(cleanup.exitCode, String(cleanup.stderr)).toBe(0);
    await expectAsBefore('two SIGKILLed doctors, one cleanup');
    // Checked on its own too: beside another engineer's run the state check above masks this sysctl.
    expect(readFileSync(BPF_STATS, 'utf8').trim()).toBe(before.state.bpfStats);
  }, 60_000);
});
