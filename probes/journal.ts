import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Every kernel object hookbench creates is written here *before* it is created, so that after a
 * SIGKILL `hookbench cleanup` knows exactly what to undo, and touches nothing else.
 */
export type JournalEntry =
  | { kind: 'tracefs-instance'; path: string }
  | { kind: 'dynamic-event'; file: 'kprobe_events' | 'uprobe_events'; group: string; event: string }
  | { kind: 'audit-rule'; args: string[] }
  | { kind: 'audit-enabled'; previous: number }
  | { kind: 'process'; pid: number; startTime: string; comm: string }
  | { kind: 'sysctl'; path: string; previous: string }
  /** The `none` mechanism's attachment: nothing in the kernel, nothing to undo (it exercises the journal path). */
  | { kind: 'none'; tag: string }
  /** Files of hookbench's own (a private auditd config and log): only ever under PRIVATE_DIRS. */
  | { kind: 'private-files'; paths: string[] };

export interface JournalFile {
  pid: number;
  startTime: string;
  entries: { id: number; entry: JournalEntry }[];
}

export const JOURNAL_DIR = process.env.HOOKBENCH_JOURNAL_DIR ?? '/run/hookbench';
export const PRIVATE_LOG_DIR = '/var/log/hookbench';
/** Where hookbench's private files live; undo removes nothing outside them. */
export const PRIVATE_DIRS = [JOURNAL_DIR, PRIVATE_LOG_DIR];

/** Field 22 of /proc/<pid>/stat: tells a live process from a recycled pid. */
export function processStartTime(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null;
  } catch {
    return null;
  }
}

export class Journal {
  readonly path: string;
  private readonly file: JournalFile;
  private nextId = 1;

  constructor(dir = JOURNAL_DIR, pid = process.pid) {
    mkdirSync(dir, { recursive: true });
    this.path = join(dir, `${pid}.json`);
    this.file = { pid, startTime: processStartTime(pid) ?? '', entries: [] };
    this.flush();
  }

  /** Records an object about to be created; returns the id to `settle` once it is gone again. */
  add(entry: JournalEntry): number {
    const id = this.nextId++;
    this.file.entries.push({ id, entry });
    this.flush();
    return id;
  }

  settle(id: number): void {
    this.file.entries = this.file.entries.filter((e) => e.id !== id);
    this.flush();
  }

  get pendingWithIds(): readonly { id: number; entry: JournalEntry }[] {
    return this.file.entries;
  }

  /** Removes the journal file: only when nothing is pending. */
  close(): void {
    if (this.file.entries.length > 0) throw new Error(`journal ${this.path} still holds ${this.file.entries.length} entries`);
    rmSync(this.path, { force: true });
  }

  // Written to a temp file and renamed: a kill mid-write never leaves a torn journal.
  private flush(): void {
    const tmp = `${this.path}.tmp`;
    writeFileSync(tmp, JSON.stringify(this.file, null, 1));
    renameSync(tmp, this.path);
  }
}

export interface StoredJournal extends JournalFile {
  path: string;
  alive: boolean;
}

/** Journals on disk, with whether the run that wrote each is still alive. */
export function readJournals(dir = JOURNAL_DIR): StoredJournal[] {
  let names: string[];
  try {
    names = readdirSync(dir).filter((n) => /^\d+\.json$/.test(n));
  } catch {
    return [];
  }
  return names.flatMap((name) => {
    const path = join(dir, name);
    try {
      const file = JSON.parse(readFileSync(path, 'utf8')) as JournalFile;
      const alive = processStartTime(file.pid) === file.startTime;
      return [{ ...file, path, alive }];
    } catch {
      return [];
    }
  });
}
