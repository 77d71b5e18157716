import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Journal, JournalEntry } from './journal.js';
import { addDynamicEvent, createInstance, instanceEventCount, readTracefs, removeInstance, writeTracefs, type DynamicEventsFile } from './tracefs.js';
import type { ProbeCount } from './types.js';
import { undoJournaled } from './undo.js';

/** A private tracefs instance with some settings written: the handle every tracefs mechanism uses. */
export interface InstanceHandle {
  path: string;
  journalId: number;
  journal: Journal;
  /** What attach wrote, undone in reverse at detach. */
  writes: [string, string][];
  /** Events the instance had recorded when it was scoped to the workload; null until then. */
  eventsAtScope: number | null;
}

type PooledInstance = Pick<InstanceHandle, 'path' | 'journalId'>;

/**
 * Idle instances of a run (all events off, nothing filtered), reused by the next attachment. Creating
 * and removing a ring buffer costs the kernel 25-50 ms each (RCU grace periods); enabling an event in
 * an existing one costs about 1 ms. An idle instance has no probe registered, so it costs baseline
 * runs nothing. Its journal entry stays pending: the run's final undo removes it.
 */
const idleInstances = new WeakMap<Journal, PooledInstance[]>();

/**
 * From attach until the workload is ready, recording is scoped to hookbench's own process tree (this
 * process, perf and their forks), so nothing else fills the buffer; then scopeInstance narrows it to
 * the workload and what it forks from then on, and clears what was recorded before. The hook fires,
 * and costs the same, in every process; outside the scope only the recording is skipped.
 */
function processTreeScope(): [string, string][] {
  return [
    ['options/event-fork', '1'],
    ['set_event_pid', String(process.pid)],
  ];
}

/**
 * Per-CPU ring buffer of a counting instance, KB: large enough to keep every record of a run (a
 * syscall record is ~56 bytes: ~600,000 records per CPU, a 200 ms mprotect run makes ~150,000), since
 * a record overwritten cannot be attributed to a process. An instance whose buffer overran grows it
 * fourfold before its next attachment (COUNT_BUFFER_MAX_KB at most), and that count says so.
 */
export const COUNT_BUFFER_KB = 32768;
const COUNT_BUFFER_MAX_KB = 524288;

function bufferKb(path: string): number {
  // "1408", or "7 (expanded: 1408)" for a buffer not yet used: the size in force is the first number.
  return Number(/^\d+/.exec(readTracefs(join(path, 'buffer_size_kb')))?.[0] ?? 0);
}

function ensureBuffer(path: string, kb: number): void {
  if (bufferKb(path) < kb) writeTracefs(join(path, 'buffer_size_kb'), String(kb));
}

/** The value that turns a setting hookbench wrote back off. */
function offValue(file: string): string {
  if (/(^|\/)(enable|filter)$/.test(file) || file.startsWith('options/')) return '0';
  if (file === 'current_tracer') return 'nop';
  if (file.startsWith('set_')) return '';
  throw new Error(`no off value known for tracefs file '${file}'`);
}

/**
 * Takes an idle instance of this run or creates one, sizes and clears its ring buffer, then applies the
 * process-tree scope and `writes` (relative file, value) in order; on any failure what was written is
 * turned off again.
 */
export async function attachInstance(journal: Journal, tag: string, writes: [string, string][]): Promise<InstanceHandle> {
  const instance = idleInstances.get(journal)?.pop() ?? (await createInstance(journal, tag));
  const handle: InstanceHandle = { ...instance, journal, writes: [], eventsAtScope: null };
  try {
    ensureBuffer(instance.path, COUNT_BUFFER_KB);
    for (const [file, value] of [...processTreeScope(), ...writes]) {
      writeTracefs(join(instance.path, file), value);
      handle.writes.push([file, value]);
    }
  } catch (err) {
    detachInstance(handle);
    throw err;
  }
  return handle;
}

/**
 * Narrows the recording to the workload, ready but not yet in its timed loop: every thread of `pid`
 * (a thread it started in its set-up, as hids-mix's resolver, is recorded too), and through event-fork
 * every process and thread it creates from then on. What the buffer held is cleared: the launcher's
 * calls (perf's, taskset's, the loader's) and the workload's own set-up never count. `extra` are
 * further pid files to write the same list to (ftrace's set_ftrace_pid).
 */
export function scopeInstance(handle: InstanceHandle, pid: number, extra: readonly string[] = []): void {
  if (!Number.isSafeInteger(pid) || pid <= 0) throw new Error(`refusing to scope to pid ${pid}`);
  const threads = readdirSync(`/proc/${pid}/task`).filter((t) => /^\d+$/.test(t));
  for (const file of ['set_event_pid', ...extra]) writeTracefs(join(handle.path, file), threads.join(' '));
  writeTracefs(join(handle.path, 'trace'), '');
  handle.eventsAtScope = instanceEventCount(handle.path);
}

function assertScoped(handle: InstanceHandle): number {
  if (handle.eventsAtScope === null) throw new Error(`tracefs instance ${handle.path} counted before it was scoped to a workload`);
  return handle.eventsAtScope;
}

/** Events recorded since the instance was scoped to the workload: its per-CPU entries and overruns, no parsing. */
export function countInstance(handle: InstanceHandle): ProbeCount {
  return { events: instanceEventCount(handle.path) - assertScoped(handle) };
}

/** One line of an instance's `trace`: `<comm>-<pid> [cpu] <flags> <seconds>: <event text>`. */
const TRACE_LINE = /^\s*.*-\d+\s+\[\d+\]\s+(?:\S+\s+)?\d+\.\d+: (.*)$/;

/** Records the ring buffer overwrote (all CPUs): their text is lost. */
function instanceOverrun(path: string): number {
  const perCpu = join(path, 'per_cpu');
  return readdirSync(perCpu).reduce((n, cpu) => n + Number(/^overrun: (\d+)/m.exec(readTracefs(join(perCpu, cpu, 'stats')))?.[1] ?? 0), 0);
}

const grown = new WeakSet<InstanceHandle>();

/**
 * The text of every record since the instance was scoped (all the workload's), for counts per hook;
 * where the buffer overran, a note: the per-hook counts are then short by up to the records lost, and
 * the next attachment of this instance gets a larger buffer. Reading the text costs the kernel ~1 s
 * per 200,000 records: only hook sets, which need the per-hook split, read it.
 */
export function instanceRecords(handle: InstanceHandle): { records: string[]; note?: string } {
  assertScoped(handle);
  const records = readTracefs(join(handle.path, 'trace')).split('\n').flatMap((line) => TRACE_LINE.exec(line)?.[1] ?? []);
  const lost = instanceOverrun(handle.path);
  if (lost === 0) return { records };
  grown.add(handle);
  return { records, note: `ring buffer overran (${bufferKb(handle.path)} KB per CPU): ${lost} records lost; the next attachment gets a larger buffer` };
}

/**
 * Turns off everything attach wrote, newest first, and returns the instance to the run's idle pool;
 * an instance that refuses to be turned off is removed instead (removal turns everything off).
 */
export function detachInstance(handle: InstanceHandle): void {
  try {
    for (const [file] of [...handle.writes].reverse()) writeTracefs(join(handle.path, file), offValue(file));
  } catch {
    removeInstance(handle.path);
    handle.journal.settle(handle.journalId);
    return;
  }
  if (grown.has(handle)) {
    try {
      ensureBuffer(handle.path, Math.min(COUNT_BUFFER_MAX_KB, 4 * bufferKb(handle.path)));
    } catch {
      // The kernel refused the memory: the instance keeps its buffer, and overruns keep being reported.
    }
  }
  const pool = idleInstances.get(handle.journal) ?? [];
  pool.push({ path: handle.path, journalId: handle.journalId });
  idleInstances.set(handle.journal, pool);
}

/** Removes a run's idle instances now (tests; a run leaves it to its final undo). */
export function releaseIdleInstances(journal: Journal): void {
  for (const { path, journalId } of idleInstances.get(journal) ?? []) {
    removeInstance(path);
    journal.settle(journalId);
  }
  idleInstances.delete(journal);
}

/**
 * The honest support check for a tracefs mechanism: really apply its writes in a throwaway instance
 * and report the kernel's refusal (e.g. "write 'function' to .../current_tracer: EPERM").
 */
export async function tryInstance(journal: Journal, tag: string, writes: [string, string][]): Promise<{ supported: boolean; reason: string }> {
  try {
    detachInstance(await attachInstance(journal, tag, writes));
    return { supported: true, reason: `attached and detached in a private tracefs instance` };
  } catch (err) {
    return { supported: false, reason: (err as Error).message };
  }
}

/** A dynamic event (kprobe, kretprobe, uprobe) enabled in a private instance. */
export interface DynamicEventHandle extends InstanceHandle {
  event: { journalId: number; entry: JournalEntry };
}

/** tracefs group names allow no '-': `hookbench-<pid>-<n>` becomes `hookbench_<pid>_<n>`. */
export function dynamicEventGroup(tag: string): string {
  return tag.replace(/-/g, '_');
}

/**
 * Defines the event (journaled), then enables it in a private instance only, so the global trace buffer
 * and other instances never see it. Any failure removes what was made.
 */
export async function attachDynamicEvent(
  journal: Journal,
  tag: string,
  def: { file: DynamicEventsFile; type: 'p' | 'r'; event: string; location: string },
): Promise<DynamicEventHandle> {
  const group = dynamicEventGroup(tag);
  const entry: JournalEntry = { kind: 'dynamic-event', file: def.file, group, event: def.event };
  const journalId = await addDynamicEvent(journal, { ...def, group });
  try {
    const instance = await attachInstance(journal, tag, [[`events/${group}/${def.event}/enable`, '1']]);
    return { ...instance, event: { journalId, entry } };
  } catch (err) {
    await undoJournaled(journal, journalId, entry);
    throw err;
  }
}

/** The instance goes first: the kernel refuses to delete an event still enabled somewhere (EBUSY). */
export async function detachDynamicEvent(handle: DynamicEventHandle): Promise<void> {
  detachInstance(handle);
  await undoJournaled(handle.journal, handle.event.journalId, handle.event.entry);
}
