import { performance } from 'node:perf_hooks';
import { execa } from 'execa';
import type { HookTarget } from './hookpoints.js';
import type { Journal } from './journal.js';
import { enableBpfStats, inProgramNs, processProgramStats, type JournaledChange, type ProgramStats } from './bpfStats.js';
import { detectByAttaching } from './detect.js';
import { CHECKED, AS_WRITTEN, type Names } from './names.js';
import { spawnError, spawnJournaled, ToolOutput, type ToolProcess } from './toolProcess.js';
import { undoJournaled } from './undo.js';
import { workloadByName } from '../workloads/registry.js';
import type { AttachContext, Mechanism, ProbeCount } from './types.js';

/**
 * The shared runner of the bpftrace mechanisms. Each program only counts into one per-CPU map, and only
 * the calls of the workload's own processes, told by their comm (workloadComms): the comm test costs
 * ~60 ns per event on the development VM (bpf_get_current_comm and a short compare), where keying the
 * map by pid costs ~200 ns and by pid, parent and exec generation ~420 ns, all of it measured as the
 * mechanism's overhead. The map is read after the timed run by SIGUSR1 (bpftrace prints its maps), so
 * reading adds no work inside it.
 */
const MAP = '@hookbench';
/** Printed by BEGIN: bpftrace drains BEGIN's output only after every probe is attached. */
const READY = 'hookbench-ready';
const READY_TIMEOUT_MS = 60_000;
const COUNT_TIMEOUT_MS = 5_000;

const PROBE_TYPE = /^(tracepoint|rawtracepoint|kprobe|kretprobe|kfunc|kretfunc|lsm)$/;
const PROBE_TARGET = /^[A-Za-z0-9_:]+$/;
/** Filters are built from the syscall table's numbers only: `argN == <number>`, or several joined by `||`. */
const FILTER = /^arg[0-9] == [0-9]+( \|\| arg[0-9] == [0-9]+)*$/;
/** Map keys of a hook set (probes/profileRealisations.ts): a hook name, or an argument's value. */
const KEY_NAME = /^[a-z][a-z0-9_]{0,63}$/;

export interface BpftraceProbe {
  type: string;
  target: string;
  filter?: string;
  /** Count under this map key (a name, or the value of argument N) instead of into one total. */
  key?: { name: string } | { arg: number };
}

function mapKey(key: NonNullable<BpftraceProbe['key']>): string {
  if ('arg' in key) {
    if (!Number.isInteger(key.arg) || key.arg < 0 || key.arg > 9) throw new Error(`refusing bpftrace map key arg${key.arg}`);
    return `arg${key.arg}`;
  }
  if (!KEY_NAME.test(key.name)) throw new Error(`refusing bpftrace map key '${key.name}'`);
  return `"${key.name}"`;
}

/** A process name as the kernel keeps it (15 characters at most) and hookbench's workloads spell it. */
const COMM = /^[a-z0-9-]{1,15}$/;

/**
 * The comms of a workload's own processes: its binary, and the programs its children exec (their
 * calls before that exec still carry the workload's comm). The launcher's calls (perf's child before
 * it execs the workload, taskset) carry theirs and are not counted. Null for a workload whose ops run
 * other programs (build: make, the compiler): no filter, every process counts, and its hook row is a
 * lower bound anyway.
 */
export function workloadComms(target: HookTarget): string[] | null {
  if (target.lowerBound) return null;
  const spec = workloadByName(target.workload);
  if (!spec) throw new Error(`unknown workload '${target.workload}'`);
  return [spec.binary, ...spec.artefacts.map((a) => a.binary)];
}

function commFilter(comms: readonly string[]): string {
  for (const comm of comms) if (!COMM.test(comm)) throw new Error(`refusing bpftrace comm '${comm}'`);
  return comms.map((c) => `comm == "${c}"`).join(' || ');
}

function probeBlock(probe: BpftraceProbe, comms: readonly string[] | null): string {
  if (!PROBE_TYPE.test(probe.type) || !PROBE_TARGET.test(probe.target)) throw new Error(`refusing bpftrace probe '${probe.type}:${probe.target}'`);
  if (probe.filter !== undefined && !FILTER.test(probe.filter)) throw new Error(`refusing bpftrace filter '${probe.filter}'`);
  // The probe's own filter first: a call it rejects never pays for the comm.
  const tests = [probe.filter, comms && commFilter(comms)].filter((t): t is string => Boolean(t));
  const filter = tests.length === 0 ? '' : `/${tests.length === 1 ? tests[0] : tests.map((t) => `(${t})`).join(' && ')}/ `;
  const map = probe.key === undefined ? MAP : `${MAP}[${mapKey(probe.key)}]`;
  return `${probe.type}:${probe.target} ${filter}{ ${map} = count(); }`;
}

/**
 * bpftrace prints a keyed map no probe has hit yet not at all, so BEGIN puts a sentinel in it, under a
 * key no probe can use (names never hold '-', syscall numbers are never negative); counting drops it.
 */
const SENTINEL = { name: '-', arg: '-1' };

function sentinel(list: readonly BpftraceProbe[]): string {
  const kinds = new Set(list.map((p) => (p.key === undefined ? 'none' : 'arg' in p.key ? 'arg' : 'name')));
  if (kinds.size > 1) throw new Error('refusing a bpftrace program whose probes count under different kinds of key');
  const kind = [...kinds][0];
  if (kind === 'name') return ` ${MAP}["${SENTINEL.name}"] = count();`;
  if (kind === 'arg') return ` ${MAP}[${SENTINEL.arg}] = count();`;
  return '';
}

/**
 * The whole program: nothing but validated names, numbers and the workload's comms goes into it.
 * Several probes: one block each.
 */
export function countingProgram(probes: BpftraceProbe | readonly BpftraceProbe[], comms: readonly string[] | null): string {
  const list = Array.isArray(probes) ? probes : [probes as BpftraceProbe];
  if (list.length === 0) throw new Error('bpftrace program without probes');
  return `BEGIN {${sentinel(list)} printf("${READY}\\n"); } ${list.map((p) => probeBlock(p, comms)).join(' ')}`;
}

type Message = { type: string; data: unknown };

/** bpftrace's `-f json` output; the blank separator lines between map dumps are not messages. */
function parseMessage(line: string): Message | undefined {
  try {
    return JSON.parse(line) as Message;
  } catch {
    return undefined;
  }
}

interface Running extends ToolProcess {
  journal: Journal;
  /** Null when the context asked for no bpf stats. */
  stats: JournaledChange | null;
}

export interface BpftraceHandle extends Running {
  process: JournaledChange;
  messages: ToolOutput<Message>;
  /** From spawn until every probe was attached: never inside a timed run. */
  startupMs: number;
  statsAtReady: ProgramStats | null;
}

let versionText: string | null = null;
async function bpftraceVersion(): Promise<string> {
  versionText ??= (await execa('bpftrace', ['--version'], { reject: false })).stdout.trim() || 'bpftrace (unknown version)';
  return versionText;
}

/**
 * bpftrace's own words for a failure: its error lines without the harmless RLIMIT_MEMLOCK warning,
 * warnings, or the echo of the program and its underline.
 */
async function failureReason(stderr: string, program: string, probeType: string, otherwise: string): Promise<string> {
  const lines = stderr
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.includes('RLIMIT_MEMLOCK') && !l.includes('WARNING:') && l !== program && !/^~+$/.test(l))
    .map((l) => l.replace(/^stdin:[0-9:-]+: /, ''));
  const version = await bpftraceVersion();
  const said = lines.join('; ') || otherwise;
  // 0.17's words when it does not know a probe type at all.
  const hint = /Invalid probe type/.test(said) ? ` (${version} has no '${probeType}' probe type)` : '';
  return `${version}: ${said}${hint}`;
}

const TERM_RESEND_MS = 150;
const TERM_PATIENCE_MS = 3_000;

/**
 * SIGTERM until bpftrace exits. 0.17 checks its exit flag only when a signal interrupts epoll_wait: a
 * SIGTERM that lands while it is printing is noted and then ignored. It spends nearly all its time in
 * epoll_wait, so a repeat lands there.
 */
async function terminate(r: Running): Promise<void> {
  let gone = false;
  void r.exited.then(() => (gone = true));
  for (const start = Date.now(); !gone && Date.now() - start < TERM_PATIENCE_MS; ) {
    r.child.kill('SIGTERM');
    await Promise.race([r.exited, new Promise((resolve) => setTimeout(resolve, TERM_RESEND_MS))]);
  }
}

/**
 * Kills and reaps bpftrace (its programs detach as its fds close), then restores the stats sysctl. The
 * journal's own undo (SIGTERM, then SIGKILL after 5 s) settles the process entry and is the backstop.
 */
async function stop(r: Running): Promise<void> {
  if (r.process) {
    await terminate(r);
    await undoJournaled(r.journal, r.process.id, r.process.entry);
  }
  await r.exited;
  if (r.stats) await undoJournaled(r.journal, r.stats.id, r.stats.entry);
}

/**
 * Starts bpftrace on `probe` with bpf stats on (unless ctx.bpfStats is false), journaling the sysctl
 * before it is written and the process right after spawn; resolves once every probe is attached. Any
 * failure undoes both.
 */
export async function startBpftrace(probe: BpftraceProbe | readonly BpftraceProbe[], ctx: AttachContext, comms: readonly string[] | null): Promise<BpftraceHandle> {
  const program = countingProgram(probe, comms);
  const probeType = (Array.isArray(probe) ? probe[0] : (probe as BpftraceProbe)).type;
  const stats = ctx.bpfStats === false ? null : enableBpfStats(ctx.journal);
  const started = performance.now();
  const running: Running = { journal: ctx.journal, stats, ...spawnJournaled('bpftrace', ['-f', 'json', '-e', program], ['ignore', 'pipe', 'pipe'], ctx.journal) };
  const { child } = running;
  if (!running.process) {
    const err = await spawnError(child);
    await stop(running);
    throw new Error(`cannot start bpftrace: ${err.message}`);
  }
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const messages = new ToolOutput(child, parseMessage, 'bpftrace');
  try {
    await messages.next((m) => (m.type === 'printf' && String(m.data).startsWith(READY) ? true : undefined), running.exited, READY_TIMEOUT_MS, 'attach');
  } catch (err) {
    await stop(running);
    throw new Error(await failureReason(stderr, program, probeType, (err as Error).message));
  }
  const startupMs = performance.now() - started;
  return { ...running, process: running.process, messages, startupMs, statsAtReady: stats && processProgramStats(child.pid!) };
}

/** A map dump's value: one total, or counts per key (a keyed map of a hook set). */
type MapValue = number | Record<string, number>;

function mapValue(data: Record<string, unknown> | null): MapValue | undefined {
  const value = data?.[MAP];
  if (typeof value === 'number') return value;
  if (value && typeof value === 'object' && Object.values(value).every((n) => typeof n === 'number')) return value as Record<string, number>;
  return undefined;
}

/**
 * The workload's events since attach (its processes' calls: the program filters on their comm), from
 * the map printed on SIGUSR1 (a keyed map: its counts per key as perHook, their sum as events); in-program
 * ns per run from the program fds' stats (every run of the program, whoever's call it tested).
 */
export async function countBpftrace(h: BpftraceHandle): Promise<ProbeCount> {
  const reply = h.messages.next(
    (m) => (m.type === 'map' ? mapValue(m.data as Record<string, unknown> | null) : undefined),
    h.exited,
    COUNT_TIMEOUT_MS,
    `${MAP} map dump`,
  );
  h.child.kill('SIGUSR1');
  const value = await reply;
  const programNs = h.statsAtReady && inProgramNs(h.statsAtReady, processProgramStats(h.child.pid!));
  if (typeof value === 'number') return { events: value, inProgramNs: programNs, startupMs: h.startupMs };
  const perHook = Object.fromEntries(Object.entries(value).filter(([key]) => key !== SENTINEL.name && key !== SENTINEL.arg));
  const events = Object.values(perHook).reduce((a, b) => a + b, 0);
  return { events, perHook, inProgramNs: programNs, startupMs: h.startupMs };
}

export const stopBpftrace = (h: BpftraceHandle): Promise<void> => stop(h);

export interface BpftraceSpec {
  name: string;
  summary: string;
  /** The probe for this workload, naming things only through `names`. */
  probe(target: HookTarget, names: Names): BpftraceProbe;
  /** A kernel precondition checked before bpftrace starts, with the kernel's reason (e.g. BPF LSM active). */
  precheck?(): Promise<void>;
}

function describe(probe: BpftraceProbe): string {
  return `${probe.type}:${probe.target}${probe.filter ? ` /${probe.filter}/` : ''}`;
}

/** A bpftrace mechanism from its spec: one counting probe per workload, one event per hooked call. */
export function bpftraceMechanism(spec: BpftraceSpec): Mechanism<BpftraceHandle> {
  const mechanism: Mechanism<BpftraceHandle> = {
    name: spec.name,
    family: 'bpftrace',
    summary: spec.summary,
    hookPoint: (t) => describe(spec.probe(t, AS_WRITTEN)),
    expectedPerOp: (t) => t.expectedPerOp,
    detect: (ctx) => detectByAttaching(mechanism, ctx),
    attach: async (t, ctx) => {
      const probe = spec.probe(t, CHECKED);
      await spec.precheck?.();
      return startBpftrace(probe, ctx, workloadComms(t));
    },
    // The program was given the workload's comms at attach: nothing to narrow.
    scope: async () => {},
    count: (h) => countBpftrace(h),
    detach: stopBpftrace,
  };
  return mechanism;
}
