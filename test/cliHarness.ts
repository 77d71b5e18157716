import { spawn } from 'node:child_process';
import { isDeepStrictEqual } from 'node:util';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmdirSync, statSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa, type Result } from 'execa';
import { expect } from 'vitest';
import { JOURNAL_DIR, PRIVATE_LOG_DIR, readJournals, type JournalEntry, type JournalFile } from '../probes/journal.js';
import { ensureTracefs, TRACEFS } from '../probes/tracefs.js';
import { hasEnded } from '../probes/undo.js';
import { kernelState, type KernelState } from './kernelState.js';

/**
 * Runs the compiled CLI the way a user does: `node dist/bench/cli.js ...` in a child process, with a
 * private journal directory (HOOKBENCH_JOURNAL_DIR) so that a test's killed runs, its `cleanup` and its
 * refusals concern only its own runs.
 */

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const CLI = join(REPO, 'dist/bench/cli.js');
/** The node running the tests, by absolute path: the CLI must start even with a PATH that lacks tools. */
export const NODE = process.execPath;
/** The directories tsconfig.json compiles. */
const SOURCE_DIRS = ['bench', 'workloads', 'probes', 'reports', 'vm'];

function newestSourceMtime(dir: string): number {
  if (!existsSync(dir)) return 0;
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestSourceMtime(path));
    else if (entry.name.endsWith('.ts')) newest = Math.max(newest, statSync(path).mtimeMs);
  }
  return newest;
}

/**
 * Builds dist/ when any source is newer than the compiled CLI (`make test` has just built it, so there
 * this costs one directory walk). A type error fails the suite: the tests never run a stale CLI.
 */
export async function ensureCliBuilt(): Promise<void> {
  const built = existsSync(CLI) ? statSync(CLI).mtimeMs : 0;
  const newest = Math.max(...SOURCE_DIRS.map((d) => newestSourceMtime(join(REPO, d))));
  if (built >= newest) return;
  const tsc = await execa(NODE, [join(REPO, 'node_modules/typescript/bin/tsc'), '-p', REPO], { cwd: REPO, reject: false, all: true });
  if (tsc.exitCode !== 0) throw new Error(`tsc -p . failed, cannot test the CLI:\n${tsc.all}`);
  chmodSync(CLI, 0o755);
}

/** Journal directories and CLI processes of this test process: what it starts is its own. */
const ownJournalDirs = new Set<string>();
const ownPids = new Set<number>();

export function newJournalDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'hookbench-test-journal-'));
  ownJournalDirs.add(dir);
  return dir;
}

/** Run journals (`<pid>.json`) in a journal directory; other files there (markers, private configs) are not journals. */
export function journalFiles(dir: string): string[] {
  return existsSync(dir) ? readdirSync(dir).filter((n) => /^\d+\.json$/.test(n)) : [];
}

/** What a run's journal holds right now; null when the run has no journal (not yet, or no more). */
export function journalEntries(dir: string, pid: number): JournalEntry[] | null {
  try {
    return (JSON.parse(readFileSync(join(dir, `${pid}.json`), 'utf8')) as JournalFile).entries.map((e) => e.entry);
  } catch {
    return null;
  }
}

export interface CliOptions {
  journalDir: string;
  /** Replaces PATH (the CLI is still started by absolute path). */
  path?: string;
  /** Run as this uid/gid (via setpriv, groups cleared) instead of root. */
  uid?: number;
  timeoutMs?: number;
}

function command(args: string[], o: CliOptions): [string, string[]] {
  if (o.uid === undefined) return [NODE, [CLI, ...args]];
  return ['setpriv', [`--reuid=${o.uid}`, `--regid=${o.uid}`, '--clear-groups', NODE, CLI, ...args]];
}

function env(o: CliOptions): NodeJS.ProcessEnv {
  return { ...process.env, HOOKBENCH_JOURNAL_DIR: o.journalDir, ...(o.path === undefined ? {} : { PATH: o.path }) };
}

/** Runs the CLI to its end. */
export function hookbench(args: string[], o: CliOptions): Promise<Result> {
  const [file, argv] = command(args, o);
  const child = execa(file, argv, { cwd: REPO, env: env(o), extendEnv: false, reject: false, timeout: o.timeoutMs ?? 300_000 });
  if (child.pid !== undefined) ownPids.add(child.pid);
  return child;
}

export interface RunningCli {
  pid: number;
  exited: () => boolean;
  done: Promise<{ exitCode: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>;
}

/**
 * Starts the CLI as the leader of its own process group (so a signal can go to the node process alone,
 * as kill(1) sends it, or to the whole group, as a terminal's Ctrl-C does).
 */
export function startHookbench(args: string[], o: CliOptions): RunningCli {
  const child = spawn(NODE, [CLI, ...args], { cwd: REPO, env: env(o), detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  let exited = false;
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<{ exitCode: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>((res, rej) => {
    child.on('error', rej);
    child.on('close', (exitCode, signal) => res({ exitCode, signal, stdout, stderr }));
  });
  child.on('exit', () => (exited = true));
  if (child.pid === undefined) throw new Error('could not start the CLI');
  ownPids.add(child.pid);
  return { pid: child.pid, exited: () => exited, done };
}

/** A PATH of symlinks to everything in /usr/bin and /usr/sbin except `missing`: a machine without those tools. */
export function pathWithout(missing: RegExp): string {
  const farm = mkdtempSync(join(tmpdir(), 'hookbench-path-'));
  for (const dir of ['/usr/bin', '/usr/sbin']) {
    for (const name of readdirSync(dir)) {
      if (missing.test(name) || existsSync(join(farm, name))) continue;
      symlinkSync(join(dir, name), join(farm, name));
    }
  }
  return farm;
}

/**
 * A user's audit syscall rule, watch rule and tracefs instance, as kernelState.ts has them but under
 * a name of this harness: other test files remove theirs in their own time.
 */
const USER_KEY = 'user-owned-cli';
const USER_SYSCALL_RULE = ['always,exit', '-F', 'arch=b64', '-S', 'sethostname', '-k', USER_KEY];
const USER_RULE = ['-w', '/etc/hostname', '-p', 'wa', '-k', USER_KEY];
export const USER_INSTANCE = `${TRACEFS}/instances/${USER_KEY}`;
export const USER_AUDIT_RULES = [`-a always,exit -F arch=b64 -S sethostname -F key=${USER_KEY}`, `-w /etc/hostname -p wa -k ${USER_KEY}`];

export async function installUserState(): Promise<void> {
  await ensureTracefs();
  await execa('auditctl', ['-a', ...USER_SYSCALL_RULE], { reject: false });
  await execa('auditctl', USER_RULE, { reject: false });
  if (!existsSync(USER_INSTANCE)) mkdirSync(USER_INSTANCE);
}

export async function removeUserState(): Promise<void> {
  await execa('auditctl', ['-d', ...USER_SYSCALL_RULE], { reject: false });
  await execa('auditctl', ['-W', ...USER_RULE.slice(1)], { reject: false });
  if (existsSync(USER_INSTANCE)) rmdirSync(USER_INSTANCE);
}

export interface FullState extends KernelState {
  /** BPF programs loaded (id and name), when bpftool is installed. */
  bpfPrograms: string[];
  /** hookbench's private audit logs. */
  privateLogs: string[];
}


async function bpfPrograms(): Promise<string[]> {
  const r = await execa('bpftool', ['prog', 'show', '--json'], { reject: false });
  if (r.exitCode !== 0) return [];
  return (JSON.parse(r.stdout) as { id: number; name?: string }[]).map((p) => `${p.id} ${p.name ?? ''}`);
}

/**
 * kernelState() plus loaded BPF programs and hookbench's private log files. A process that has exited
 * but is not yet reaped (a zombie: PID 1 here reaps orphans only every few seconds) holds nothing and
 * is left out.
 */
export async function fullState(): Promise<FullState> {
  const state = await kernelState();
  return {
    ...state,
    hookbenchProcesses: state.hookbenchProcesses.filter((p) => !hasEnded(Number(p.split(' ')[1]))),
    bpfPrograms: await bpfPrograms(),
    privateLogs: existsSync(PRIVATE_LOG_DIR) ? readdirSync(PRIVATE_LOG_DIR).sort() : [],
  };
}

/**
 * What of a state belongs to hookbench runs this test process did not start (another engineer's tests
 * on the same kernel): their tool processes (which do not carry one of our journal directories in their
 * environment), the BPF programs those hold, and their live journals.
 */
interface Foreign {
  processes: string[];
  programs: string[];
  journals: number[];
  /** Their tracefs instances, dynamic events and private logs. */
  names: string[];
}

function environ(pid: number): string[] | null {
  try {
    return readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
  } catch {
    return null;
  }
}

const isOwnProcess = (pid: number) => environ(pid)?.some((v) => [...ownJournalDirs].some((d) => v === `HOOKBENCH_JOURNAL_DIR=${d}`)) ?? true;

function heldPrograms(pid: number): string[] {
  try {
    return readdirSync(`/proc/${pid}/fdinfo`).flatMap((fd) => {
      try {
        const id = /^prog_id:\s*(\d+)/m.exec(readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8'))?.[1];
        return id ? [id] : [];
      } catch {
        return [];
      }
    });
  } catch {
    return [];
  }
}

/** A `hookbench-<pid>-...` (tracefs, log) or `hookbench_<pid>_...` (dynamic event) name of a run we did not start. */
function isForeignName(name: string): boolean {
  const pid = /hookbench[-_](\d+)[-_]/.exec(name)?.[1];
  return pid !== undefined && !ownPids.has(Number(pid));
}

export interface Snapshot {
  state: FullState;
  foreign: Foreign;
}

export async function snapshot(): Promise<Snapshot> {
  const state = await fullState();
  const processes = state.hookbenchProcesses.filter((p) => !isOwnProcess(Number(p.split(' ')[1])));
  const held = new Set(processes.flatMap((p) => heldPrograms(Number(p.split(' ')[1]))));
  return {
    state,
    foreign: {
      processes,
      programs: state.bpfPrograms.filter((p) => held.has(p.split(' ')[0]!)),
      journals: readJournals(JOURNAL_DIR).flatMap((j) => (j.alive && !ownPids.has(j.pid) ? [j.pid] : [])),
      names: [...state.instances, ...state.dynamicEvents, ...state.privateLogs].filter(isForeignName),
    },
  };
}

const SHARED = '(shared with another run)';

/**
 * The state without what other runs own, and with the kernel-wide audit and BPF settings they may
 * change masked; of the rules and instances that are no run's, only this harness's user's.
 */
function attributable(s: FullState, f: Foreign): FullState {
  return {
    ...s,
    instances: s.instances.filter((n) => n === USER_KEY || (n.startsWith('hookbench') && !isForeignName(n))),
    dynamicEvents: s.dynamicEvents.filter((e) => !isForeignName(e)),
    privateLogs: s.privateLogs.filter((n) => !isForeignName(n)),
    hookbenchProcesses: s.hookbenchProcesses.filter((p) => !f.processes.includes(p)),
    bpfPrograms: s.bpfPrograms.filter((p) => !f.programs.includes(p)),
    auditRules: s.auditRules.filter((r) => USER_AUDIT_RULES.includes(r)),
    auditEnabled: SHARED,
    // Our own auditd, if one were left, still shows among the processes.
    auditPid: f.processes.some((p) => p.startsWith('auditd ')) ? SHARED : s.auditPid,
    bpfStats: SHARED,
  };
}

const hasForeign = (f: Foreign) => f.processes.length + f.programs.length + f.journals.length + f.names.length > 0;

/**
 * Set HOOKBENCH_TEST_SHARED_KERNEL=1 when other engineers' hookbench tests run on this kernel at the
 * same time (a development machine): a state check that finds another run's objects then compares only
 * what is attributable to this test process (its runs' tracefs names, logs, tool processes and the BPF
 * programs those hold; this harness's user rules and instance) and masks the kernel-wide audit flag,
 * audit pid and bpf_stats; `key=hookbench` rules are not compared (a leaked one of ours would still
 * leave its journal, which the tests check). Without it (`make test`: files one at a time) every check
 * is the strict equality of the whole state.
 */
export const SHARED_KERNEL = process.env.HOOKBENCH_TEST_SHARED_KERNEL === '1';

/**
 * The kernel state equals `before`. Settling takes a moment (an exited auditd deregisters, PID 1 reaps):
 * compared for up to 3 s. Returns whether the strict comparison held, or only the attributable one.
 */
export async function expectKernelAsBefore(before: Snapshot, context: string): Promise<'strict' | 'attributable'> {
  const start = Date.now();
  for (;;) {
    const after = await snapshot();
    if (isDeepStrictEqual(after.state, before.state)) return 'strict';
    const f = before.foreign;
    const a = after.foreign;
    const foreign = { processes: [...f.processes, ...a.processes], programs: [...f.programs, ...a.programs], journals: [...f.journals, ...a.journals], names: [...f.names, ...a.names] };
    const shared = SHARED_KERNEL && hasForeign(foreign);
    if (shared && isDeepStrictEqual(attributable(after.state, foreign), attributable(before.state, foreign))) return 'attributable';
    if (Date.now() - start > 3000) {
      if (!shared) expect(after.state, context).toEqual(before.state);
      expect(attributable(after.state, foreign), `${context} (only what this test's runs own: other runs were active)`).toEqual(attributable(before.state, foreign));
    }
    await sleep(200);
  }
}

/** Lines of a stream's text, without the empty ones. */
export const lines = (text: string) => text.split('\n').filter((l) => l.trim() !== '');

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
