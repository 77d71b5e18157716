import { readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import type { Journal, JournalEntry } from './journal.js';

/**
 * In-program cost of BPF programs: with kernel.bpf_stats_enabled=1 the kernel adds each program run's
 * time to run_time_ns and counts it in run_cnt, which /proc/<pid>/fdinfo of a program fd lists.
 * The stats take two clock reads per run, so they are on only while a BPF mechanism is attached.
 */
export const BPF_STATS_SYSCTL = '/proc/sys/kernel/bpf_stats_enabled';

export interface JournaledChange {
  id: number;
  entry: JournalEntry;
}

/** Switches the stats on, after journaling the previous value; `undoJournaled` restores it. */
export function enableBpfStats(journal: Journal): JournaledChange {
  const previous = readFileSync(BPF_STATS_SYSCTL, 'utf8').trim();
  const entry: JournalEntry = { kind: 'sysctl', path: BPF_STATS_SYSCTL, previous };
  const id = journal.add(entry);
  try {
    writeFileSync(BPF_STATS_SYSCTL, '1');
  } catch (err) {
    journal.settle(id);
    throw new Error(`enable bpf stats (${BPF_STATS_SYSCTL}): ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  return { id, entry };
}

export interface ProgramStats {
  runTimeNs: number;
  runCount: number;
}

function fdinfoField(info: string, field: string): number {
  const m = new RegExp(`^${field}:\\s+(\\d+)$`, 'm').exec(info);
  return m ? Number(m[1]) : 0;
}

/** Sum of run_time_ns and run_cnt over every BPF program the process holds open. */
export function processProgramStats(pid: number): ProgramStats {
  const total = { runTimeNs: 0, runCount: 0 };
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    let info: string;
    try {
      if (readlinkSync(`/proc/${pid}/fd/${fd}`) !== 'anon_inode:bpf-prog') continue;
      info = readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8');
    } catch {
      continue; // closed meanwhile
    }
    total.runTimeNs += fdinfoField(info, 'run_time_ns');
    total.runCount += fdinfoField(info, 'run_cnt');
  }
  return total;
}

/** ns per program run between two readings; null when the programs did not run. */
export function inProgramNs(before: ProgramStats, after: ProgramStats): number | null {
  const runs = after.runCount - before.runCount;
  return runs > 0 ? (after.runTimeNs - before.runTimeNs) / runs : null;
}
