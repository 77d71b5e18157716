import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { processStartTime, readJournals, JOURNAL_DIR, type StoredJournal } from './journal.js';
import { hookbenchInstances, removeInstance, TRACEFS } from './tracefs.js';
import { undoEntry } from './undo.js';

export interface CleanupReport {
  undone: string[];
  errors: string[];
}

/**
 * Journals left by runs that are no longer alive (SIGKILL, power loss), the last started first: a run
 * that began beside an earlier one's leftovers journaled those as its "previous" values (a sysctl the
 * earlier run had set), so only undoing the runs in reverse order restores what was there before both.
 */
function deadJournals(dir = JOURNAL_DIR): StoredJournal[] {
  return readJournals(dir)
    .filter((j) => !j.alive)
    .sort((a, b) => Number(b.startTime) - Number(a.startTime));
}

function describe(entry: StoredJournal['entries'][number]['entry']): string {
  switch (entry.kind) {
    case 'tracefs-instance':
      return `tracefs instance ${entry.path}`;
    case 'dynamic-event':
      return `${entry.file} ${entry.group}/${entry.event}`;
    case 'audit-rule':
      return `audit rule ${entry.args.join(' ')}`;
    case 'audit-enabled':
      return `audit enabled flag restored to ${entry.previous}`;
    case 'process':
      return `${entry.comm} (pid ${entry.pid})`;
    case 'sysctl':
      return `${entry.path} restored to ${entry.previous.trim()}`;
    case 'private-files':
      return `files ${entry.paths.join(', ')}`;
    case 'none':
      return `${entry.tag} (mechanism none: nothing attached)`;
  }
}

/**
 * Undoes what dead runs journaled (the newest run first, each newest entry first), then removes
 * hookbench tracefs instances whose owning pid (in the name, `hookbench-<pid>-<n>`) is dead: a run
 * killed between mkdir and its journal write could leave one. Live runs and anything not named
 * hookbench are never touched.
 */
export async function cleanup(dir = JOURNAL_DIR): Promise<CleanupReport> {
  const report: CleanupReport = { undone: [], errors: [] };
  for (const journal of deadJournals(dir)) {
    let failed = false;
    for (const { entry } of [...journal.entries].reverse()) {
      try {
        await undoEntry(entry);
        report.undone.push(describe(entry));
      } catch (err) {
        failed = true;
        report.errors.push(`${describe(entry)}: ${(err as Error).message}`);
      }
    }
    if (!failed) {
      rmSync(journal.path, { force: true });
    }
  }
  for (const name of hookbenchInstances()) {
    const pid = Number(/^hookbench-(\d+)-/.exec(name)?.[1]);
    if (!pid || processStartTime(pid) !== null) continue;
    try {
      removeInstance(join(TRACEFS, 'instances', name));
      report.undone.push(`tracefs instance ${name} (not journaled)`);
    } catch (err) {
      report.errors.push(`tracefs instance ${name}: ${(err as Error).message}`);
    }
  }
  return report;
}

