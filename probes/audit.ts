import { spawn } from 'node:child_process';
import { closeSync, existsSync, fstatSync, mkdirSync, openSync, readFileSync, readSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { SYSCALL_NUMBERS_X86_64, type HookTarget, type SyscallName } from './hookpoints.js';
import { processStartTime, JOURNAL_DIR, PRIVATE_LOG_DIR, type Journal, type JournalEntry } from './journal.js';
import { hasEnded, stopProcess, undoJournaled } from './undo.js';
import type { AttachContext, Mechanism, ProbeCount, Support, WorkloadProcess } from './types.js';

export const AUDIT_KEY = 'hookbench';
const DEBIAN_AUDITD_CONF = '/etc/audit/auditd.conf';

interface AuditStatus {
  enabled: number;
  pid: number;
  lost: number;
  backlog: number;
}

export async function auditStatus(): Promise<AuditStatus> {
  const r = await execa('auditctl', ['-s'], { reject: false });
  if (r.exitCode !== 0) throw new Error(`auditctl -s: ${r.stderr.trim() || `exit ${r.exitCode}`}`);
  const field = (name: string) => Number(new RegExp(`^${name} (\\d+)`, 'm').exec(r.stdout)?.[1] ?? NaN);
  return { enabled: field('enabled'), pid: field('pid'), lost: field('lost'), backlog: field('backlog') };
}

/** Rule arguments without the action flag: `auditctl -a` adds them, `auditctl -d` removes exactly them. */
export function auditRuleArgs(syscall: SyscallName): string[] {
  return ['always,exit', '-F', 'arch=b64', '-S', syscall, '-k', AUDIT_KEY];
}

type Journaled = { id: number; entry: JournalEntry };

export interface AuditHandle {
  journal: Journal;
  /** Undone newest first at detach. */
  undo: Journaled[];
  log: { path: string; fd: number; ino: number; offset: number };
  lostAtAttach: number;
  /**
   * Wall-clock ms when the workload reached its gate (scopeAudit): its set-up calls before it are not
   * the hooked loop's, as tracefs's scoping at the gate leaves them out too. Unset: every record counts.
   */
  countFromMs?: number;
}

function journalAdd(h: { journal: Journal; undo: Journaled[] }, entry: JournalEntry): void {
  h.undo.push({ id: h.journal.add(entry), entry });
}

async function waitFor(cond: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  for (const start = Date.now(); Date.now() - start < timeoutMs; ) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

/**
 * Debian's own auditd.conf with only the log moved to a private file that never rotates, so counting
 * records is exact; everything that sets the cost (flush mode, format, queue) stays Debian's default.
 */
function privateAuditdConfig(tag: string): { dir: string; log: string } {
  const dir = join(JOURNAL_DIR, `auditd-${tag}`);
  const log = join(PRIVATE_LOG_DIR, `${tag}.log`);
  mkdirSync(dir, { recursive: true, mode: 0o750 });
  mkdirSync(PRIVATE_LOG_DIR, { recursive: true, mode: 0o750 });
  const conf = readFileSync(DEBIAN_AUDITD_CONF, 'utf8')
    .replace(/^log_file\s*=.*$/m, `log_file = ${log}`)
    .replace(/^max_log_file_action\s*=.*$/m, 'max_log_file_action = IGNORE');
  writeFileSync(join(dir, 'auditd.conf'), conf, { mode: 0o640 });
  return { dir, log };
}

/** The auditd each journal (one run) started, shared by all its audit attachments. */
const ownAuditd = new WeakMap<Journal, { pid: number; log: string }>();

/**
 * The log of the running auditd; starts hookbench's own when none runs. That one stays up for the rest
 * of the run (journaled on the run's journal, not the attachment's, so the run's final undo stops it):
 * starting and stopping a daemon per probed run would cost ~100 ms per round, and an idle auditd with
 * audit disabled and no rules changes nothing for the baseline runs in between.
 */
async function ensureAuditd(journal: Journal, tag: string): Promise<string> {
  const status = await auditStatus();
  const own = ownAuditd.get(journal);
  // A registered pid whose process is gone is stale (see releaseStaleAuditd): the kernel drops it
  // when the auditd started here registers.
  if (status.pid !== 0 && !hasEnded(status.pid)) return own?.pid === status.pid ? own.log : runningAuditdLog(status.pid);
  const { dir, log } = privateAuditdConfig(tag);
  journal.add({ kind: 'private-files', paths: [dir, log] });
  const pid = spawnAuditd(dir);
  journal.add({ kind: 'process', pid, startTime: processStartTime(pid) ?? '', comm: 'auditd' });
  await awaitRegistration(pid);
  ownAuditd.set(journal, { pid, log });
  return log;
}

/** Starts auditd in the foreground on a private configuration directory; returns its pid. */
function spawnAuditd(dir: string): number {
  const child = spawn('auditd', ['-n', '-s', 'nochange', '-c', dir], { stdio: 'ignore', detached: true });
  if (child.pid === undefined) throw new Error('cannot start auditd');
  child.unref();
  return child.pid;
}

async function awaitRegistration(pid: number): Promise<void> {
  await waitFor(async () => (await auditStatus()).pid === pid, 5000, 'auditd to register with the kernel');
}

/**
 * After hookbench stopped an auditd it started: when the kernel still names that dead process as its
 * audit daemon (auditd ended before it could unregister, e.g. signalled while it started, as a SIGKILLed
 * run's cleanup can find it), `auditctl -s` shows a pid that was not there before. Only another
 * daemon's registration clears it (the kernel then finds the old one gone), so a private auditd is
 * started, registers and is stopped again, which leaves pid 0 as before the run.
 */
export async function releaseStaleAuditd(pid: number): Promise<void> {
  if ((await auditStatus()).pid !== pid || !hasEnded(pid)) return;
  const { dir, log } = privateAuditdConfig(`stale-${process.pid}`);
  try {
    const replacement = spawnAuditd(dir);
    const startTime = processStartTime(replacement) ?? '';
    try {
      await awaitRegistration(replacement);
    } finally {
      await stopProcess(replacement, startTime);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
    rmSync(log, { force: true });
  }
}

/** The log of an auditd the user runs: its -c directory's auditd.conf, else Debian's. */
function runningAuditdLog(pid: number): string {
  const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
  const c = argv.indexOf('-c');
  const conf = c >= 0 && argv[c + 1] ? join(argv[c + 1]!, 'auditd.conf') : DEBIAN_AUDITD_CONF;
  const m = /^log_file\s*=\s*(\S+)/m.exec(readFileSync(conf, 'utf8'));
  return m?.[1] ?? '/var/log/audit/audit.log';
}

function openLogAtEnd(path: string): AuditHandle['log'] {
  const fd = openSync(path, 'r');
  const st = fstatSync(fd);
  return { path, fd, ino: st.ino, offset: st.size };
}

/** Where reading a log has got to: each poll reads only what auditd appended since the last. */
interface LogCursor {
  fd: number;
  offset: number;
  /** An incomplete last line, finished by the next read. */
  partial: string;
}

function newLines(c: LogCursor): string[] {
  const size = fstatSync(c.fd).size;
  if (size <= c.offset) return [];
  const buf = Buffer.alloc(size - c.offset);
  readSync(c.fd, buf, 0, buf.length, c.offset);
  c.offset = size;
  const lines = (c.partial + buf.toString('utf8')).split('\n');
  c.partial = lines.pop()!;
  return lines;
}

/**
 * Syscall numbers of the keyed SYSCALL records made by the workload or its descendants, in log order.
 * Descendants are traced through the records themselves: a record whose pid or ppid is a known process
 * makes its pid known. That follows the build workload's make -> cc -> cc1 chain, because each process
 * makes a hooked call (its own execve) before its children do. The workload's pid is the workload only
 * from the exec that made it so (hookbench's workloads exec only in children): a successful execve
 * record of that pid drops what was counted until then, itself included, since those were its
 * launcher's (perf's child, taskset's PATH search: failed execve records of the same pid).
 */
const RECORD_FIELDS = { pid: / pid=(\d+) /, ppid: / ppid=(\d+) /, syscall: / syscall=(\d+) / };
/** A record's time: `msg=audit(<seconds>.<ms>:<serial>)`, the kernel's wall clock. */
const RECORD_TIME = /msg=audit\((\d+)\.(\d{3}):/;
const recordMs = (line: string): number => {
  const m = RECORD_TIME.exec(line);
  return m ? Number(m[1]) * 1000 + Number(m[2]) : NaN;
};
const EXECVE_NUMBERS = new Set<number>([SYSCALL_NUMBERS_X86_64.execve, SYSCALL_NUMBERS_X86_64.execveat]);

class WorkloadRecords {
  private known: Set<number>;
  syscalls: number[] = [];

  constructor(
    private readonly pid: number,
    private readonly fromMs: number | undefined,
  ) {
    this.known = new Set([pid]);
  }

  add(lines: readonly string[]): void {
    for (const line of lines) {
      if (!line.startsWith('type=SYSCALL') || !line.includes(`key="${AUDIT_KEY}"`)) continue;
      const field = (name: keyof typeof RECORD_FIELDS) => Number(RECORD_FIELDS[name].exec(line)?.[1] ?? NaN);
      const [recordPid, parent, syscall] = [field('pid'), field('ppid'), field('syscall')];
      if (recordPid === this.pid && EXECVE_NUMBERS.has(syscall) && line.includes(' success=yes ')) {
        [this.known, this.syscalls] = [new Set([this.pid]), []];
        continue;
      }
      if (!this.known.has(recordPid) && !this.known.has(parent)) continue;
      this.known.add(recordPid);
      // Before the gate: the tree is followed (a child forked in set-up may call in the loop), not counted.
      if (this.fromMs === undefined || !(recordMs(line) < this.fromMs)) this.syscalls.push(syscall);
    }
  }
}

/**
 * The workload's records written since attach, as syscall numbers. The workload has exited, but auditd
 * writes asynchronously: wait until the count has stopped growing. (Polling `auditctl -s` here would
 * add records of its own.) If the user's auditd rotated its log meanwhile, our fd still reads the old
 * file and the new one is followed from its start.
 */
async function readRecords(h: AuditHandle, pid: number): Promise<number[]> {
  const records = new WorkloadRecords(pid, h.countFromMs);
  const cursors: LogCursor[] = [{ fd: h.log.fd, offset: h.log.offset, partial: '' }];
  let rotated: number | null = null;
  try {
    let stable = 0;
    for (const start = Date.now(); stable < 5 && Date.now() - start < 10_000; ) {
      const before = records.syscalls.length;
      const st = statSync(h.log.path, { throwIfNoEntry: false });
      if (rotated === null && st && st.ino !== h.log.ino) {
        rotated = openSync(h.log.path, 'r');
        cursors.push({ fd: rotated, offset: 0, partial: '' });
      }
      for (const c of cursors) records.add(newLines(c));
      stable = records.syscalls.length === before ? stable + 1 : 0;
      await new Promise((r) => setTimeout(r, 20));
    }
  } finally {
    if (rotated !== null) closeSync(rotated);
  }
  return records.syscalls;
}

type RuleChoice = 'target' | 'other' | 'none';

function ruleSyscall(choice: RuleChoice, t: HookTarget): SyscallName | null {
  if (choice === 'none') return null;
  return choice === 'target' ? t.syscall : 'sethostname';
}

async function attachAudit(choice: RuleChoice, t: HookTarget, ctx: AttachContext): Promise<AuditHandle> {
  const syscall = ruleSyscall(choice, t);
  return attachAuditRules(syscall ? [syscall] : [], ctx);
}

/**
 * auditd running (hookbench's own if none runs), audit enabled and one rule per syscall, every change
 * journaled first; a failure undoes what was done. Hook profiles attach their whole set through this.
 */
export async function attachAuditRules(syscalls: readonly SyscallName[], ctx: AttachContext): Promise<AuditHandle> {
  const before = await auditStatus();
  if (before.enabled === 2) throw new Error('audit configuration is locked (enabled 2): rules cannot be changed until reboot');
  const partial = { journal: ctx.journal, undo: [] as Journaled[] };
  try {
    const log = await ensureAuditd(ctx.journal, ctx.tag);
    journalAdd(partial, { kind: 'audit-enabled', previous: before.enabled });
    writeFileSync(everEnabledMarker(), new Date().toISOString());
    await execa('auditctl', ['-e', '1']);
    for (const syscall of syscalls) {
      const args = auditRuleArgs(syscall);
      journalAdd(partial, { kind: 'audit-rule', args });
      await execa('auditctl', ['-a', ...args]);
    }
    return { ...partial, log: openLogAtEnd(log), lostAtAttach: (await auditStatus()).lost };
  } catch (err) {
    await undoNewestFirst(partial.journal, partial.undo);
    throw err;
  }
}

async function undoNewestFirst(journal: Journal, undo: Journaled[]): Promise<void> {
  for (const { id, entry } of [...undo].reverse()) await undoJournaled(journal, id, entry);
}

/** The workload's records per syscall number, and a note when the kernel dropped records. */
export async function countAuditRecords(h: AuditHandle, workload: WorkloadProcess): Promise<{ bySyscall: Map<number, number>; note?: string }> {
  const bySyscall = new Map<number, number>();
  for (const nr of await readRecords(h, workload.pid)) bySyscall.set(nr, (bySyscall.get(nr) ?? 0) + 1);
  // Records the kernel dropped (backlog full) are hooks that fired but never reached the log: the
  // cell then counts fewer events than ops and is INVALID, with this as the reason.
  const lost = (await auditStatus()).lost - h.lostAtAttach;
  if (lost > 0) return { bySyscall, note: `kernel audit lost ${lost} records during the run (backlog limit)` };
  return { bySyscall };
}

async function countAudit(h: AuditHandle, workload: WorkloadProcess): Promise<ProbeCount> {
  const { bySyscall, note } = await countAuditRecords(h, workload);
  const events = [...bySyscall.values()].reduce((a, b) => a + b, 0);
  return note ? { events, note } : { events };
}

/**
 * Records carry the kernel's coarse wall clock, which lags real time by up to a tick (10 ms at HZ=100):
 * the gate opens only after that long, so every call of the loop is stamped after `countFromMs`.
 */
const COARSE_CLOCK_TICK_MS = 20;

/** The workload is at its gate: count its records from now on (see AuditHandle.countFromMs). */
export async function scopeAudit(h: AuditHandle): Promise<void> {
  h.countFromMs = Date.now();
  await new Promise((r) => setTimeout(r, COARSE_CLOCK_TICK_MS));
}

export async function detachAudit(h: AuditHandle): Promise<void> {
  closeSync(h.log.fd);
  await undoNewestFirst(h.journal, h.undo);
}

/**
 * Adds and removes a rule with the enabled flag untouched: enabling audit even once would give every
 * task created afterwards an audit context until reboot (the kernel's audit_ever_enabled is sticky),
 * and a support check must not change the baselines of what it checks.
 */
async function detectAudit(ctx: AttachContext): Promise<Support> {
  try {
    const status = await auditStatus();
    if (status.enabled === 2) return { supported: false, reason: 'audit configuration is locked (enabled 2) until reboot' };
    const probe = { journal: ctx.journal, undo: [] as Journaled[] };
    const args = auditRuleArgs('sethostname');
    journalAdd(probe, { kind: 'audit-rule', args });
    try {
      await execa('auditctl', ['-a', ...args]);
    } finally {
      await undoNewestFirst(probe.journal, probe.undo);
    }
    return { supported: true, reason: 'auditctl rule added and removed (audit left disabled: enabling it is sticky until reboot)' };
  } catch (err) {
    return { supported: false, reason: (err as Error).message.split('\n')[0]! };
  }
}

const bootId = () => readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
const everEnabledMarker = () => join(JOURNAL_DIR, `audit-enabled-since-boot-${bootId()}`);

/**
 * Whether audit has been enabled since boot, as far as can be known: now, or by hookbench earlier.
 * From then on every new task carries an audit context (and pays for it on every syscall).
 */
export async function auditEnabledSinceBoot(): Promise<boolean> {
  return existsSync(everEnabledMarker()) || (await auditStatus().catch(() => ({ enabled: 0 }))).enabled !== 0;
}

function auditMechanism(name: string, choice: RuleChoice, summary: string): Mechanism<AuditHandle> {
  return {
    name,
    family: 'audit',
    summary,
    hookPoint: (t) => {
      const syscall = ruleSyscall(choice, t);
      return syscall ? `auditctl -a ${auditRuleArgs(syscall).join(' ')}` : 'audit enabled, auditd running, no rules';
    },
    expectedPerOp: (t) => (choice === 'target' ? t.expectedPerOp : 0),
    detect: detectAudit,
    attach: (t, ctx) => attachAudit(choice, t, ctx),
    // auditd's records name their pid and ppid: countAudit picks the workload's from the log.
    scope: scopeAudit,
    count: countAudit,
    detach: detachAudit,
  };
}

export const audit = auditMechanism('audit', 'target', 'audit syscall rule on the hooked syscall, auditd writing the log (counts the workload\'s process tree, from the records\' pid and ppid)');
export const auditIdle = auditMechanism('audit-idle', 'none', 'audit enabled with auditd running and no rules');
export const auditOther = auditMechanism('audit-other', 'other', 'one audit rule on a syscall the workload never makes');
