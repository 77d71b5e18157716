import { join } from 'node:path';
import type { Journal, JournalEntry } from './journal.js';
import { addDynamicEvent, createInstance, instanceEventCount, removeInstance, writeTracefs, type DynamicEventsFile } from './tracefs.js';
import { undoJournaled } from './undo.js';

/** A private tracefs instance with some settings written: the handle every tracefs mechanism uses. */
export interface InstanceHandle {
  path: string;
  journalId: number;
  journal: Journal;
  /** What attach wrote, undone in reverse at detach. */
  writes: [string, string][];
  /** Events the instance had recorded before this attachment (it may be reused). */
  eventsAtAttach: number;
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
 * Events are recorded only for hookbench's own process tree (this process, perf, the workload and its
 * forks): counts are then exact on a busy machine. The hook still fires, and costs the same, in the
 * workload; other processes only skip the recording.
 */
function processTreeScope(): [string, string][] {
  return [
    ['options/event-fork', '1'],
    ['set_event_pid', String(process.pid)],
  ];
}

/** The value that turns a setting hookbench wrote back off. */
function offValue(file: string): string {
  if (/(^|\/)(enable|filter)$/.test(file) || file.startsWith('options/')) return '0';
  if (file === 'current_tracer') return 'nop';
  if (file.startsWith('set_')) return '';
  throw new Error(`no off value known for tracefs file '${file}'`);
}

/**
 * Takes an idle instance of this run or creates one, then applies the process-tree scope and `writes`
 * (relative file, value) in order; on any failure what was written is turned off again.
 */
export async function attachInstance(journal: Journal, tag: string, writes: [string, string][]): Promise<InstanceHandle> {
  const instance = idleInstances.get(journal)?.pop() ?? (await createInstance(journal, tag));
  const handle: InstanceHandle = { ...instance, journal, writes: [], eventsAtAttach: instanceEventCount(instance.path) };
  try {
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

export function countInstance(handle: InstanceHandle): { events: number } {
  return { events: instanceEventCount(handle.path) - handle.eventsAtAttach };
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
