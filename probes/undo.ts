import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { execa } from 'execa';
import { PRIVATE_DIRS, processStartTime, type Journal, type JournalEntry } from './journal.js';
import { removeInstance, TRACEFS } from './tracefs.js';

/**
 * Undoes one journaled kernel object. Idempotent: an object that is already gone is not an error,
 * because after a SIGKILL the journal may name an object whose creation never happened.
 */
export async function undoEntry(entry: JournalEntry): Promise<void> {
  switch (entry.kind) {
    case 'tracefs-instance':
      removeInstance(entry.path);
      return;
    case 'dynamic-event':
      removeDynamicEvent(entry.file, entry.group, entry.event);
      return;
    case 'audit-rule':
      await auditctl(['-d', ...entry.args], /no rule matches|doesn't exist|No such file or directory/i);
      return;
    case 'audit-enabled':
      await auditctl(['-e', String(entry.previous)]);
      return;
    case 'process':
      await stopProcess(entry.pid, entry.startTime);
      // Imported here: audit.ts builds on this module.
      if (entry.comm === 'auditd') await (await import('./audit.js')).releaseStaleAuditd(entry.pid);
      return;
    case 'sysctl':
      writeFileSync(entry.path, entry.previous);
      return;
    case 'private-files':
      for (const path of entry.paths) removePrivateFile(path);
      return;
    case 'none':
      return;
  }
}

function removePrivateFile(path: string): void {
  const resolved = resolve(path);
  if (!PRIVATE_DIRS.some((dir) => resolved.startsWith(`${resolve(dir)}/`))) throw new Error(`refusing to remove ${path}: not under ${PRIVATE_DIRS.join(' or ')}`);
  rmSync(resolved, { recursive: true, force: true });
}

function removeDynamicEvent(file: string, group: string, event: string): void {
  const path = join(TRACEFS, file);
  if (!existsSync(path)) return;
  try {
    writeFileSync(path, `-:${group}/${event}\n`, { flag: 'a' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}

async function auditctl(args: string[], alreadyGone?: RegExp): Promise<void> {
  const r = await execa('auditctl', args, { reject: false });
  if (r.exitCode !== 0 && !(alreadyGone && alreadyGone.test(r.stderr))) {
    throw new Error(`auditctl ${args.join(' ')}: ${r.stderr.trim()}`);
  }
}

/** SIGTERM is sent again this often while waiting for the process to end. */
const RESEND_TERM_MS = 200;

/**
 * Stops a process hookbench started, only if the pid still names that same process. SIGTERM is sent
 * again every 200 ms: auditd loses one that arrives while it is still starting (measured: a SIGTERM
 * 5 to 200 ms after its start is lost, the next ends it), and the SIGKILL that would follow leaves the
 * kernel's registered audit pid naming a dead process.
 */
export async function stopProcess(pid: number, startTime: string): Promise<void> {
  if (processStartTime(pid) !== startTime) return;
  for (let waited = 0; waited < 5000; waited += 20) {
    if (processStartTime(pid) !== startTime || hasEnded(pid)) return;
    if (waited % RESEND_TERM_MS === 0) signal(pid, 'SIGTERM');
    await new Promise((r) => setTimeout(r, 20));
  }
  signal(pid, 'SIGKILL');
}

/** Signals `pid`, which may have ended and been reaped since it was checked (ESRCH: nothing to stop). */
function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
  }
}

/** True once `pid` is gone or a zombie (ended, not yet reaped). */
export function hasEnded(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return true;
  }
}

/** Undoes a journal entry and removes it from the journal. */
export async function undoJournaled(journal: Journal, id: number, entry: JournalEntry): Promise<void> {
  await undoEntry(entry);
  journal.settle(id);
}

/** Undoes everything still pending in a journal, newest first; returns the errors it met. */
export async function undoAll(journal: Journal): Promise<string[]> {
  const errors: string[] = [];
  for (const { id, entry } of [...journal.pendingWithIds].reverse()) {
    try {
      await undoJournaled(journal, id, entry);
    } catch (err) {
      errors.push((err as Error).message);
    }
  }
  return errors;
}

/**
 * Undoes everything still pending in a journal and removes it. What cannot be undone stays journaled
 * for `hookbench cleanup`, and the error says so.
 */
export async function undoAllAndClose(journal: Journal): Promise<void> {
  const errors = await undoAll(journal);
  if (errors.length > 0) throw new Error(`could not undo every attachment (run 'hookbench cleanup'): ${errors.join('; ')}`);
  journal.close();
}
