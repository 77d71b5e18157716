import { join } from 'node:path';
import type { Journal, JournalEntry } from './journal.js';
import { addDynamicEvent, createInstance, instanceEventCount, removeInstance, writeTracefs, type DynamicEventsFile } from './tracefs.js';
import { undoJournaled } from './undo.js';

/** A private tracefs instance with some settings written: the handle every tracefs mechanism uses. */
export interface InstanceHandle {
  path: string;
  journalId: number;
  journal: Journal;
}

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

/**
 * Creates a private instance and applies `writes` (relative file, value) in order; on any failure the
 * instance is removed again, so a failed attach leaves nothing behind.
 */
export async function attachInstance(journal: Journal, tag: string, writes: [string, string][]): Promise<InstanceHandle> {
  const { path, journalId } = await createInstance(journal, tag);
  const handle = { path, journalId, journal };
  try {
    for (const [file, value] of [...processTreeScope(), ...writes]) writeTracefs(join(path, file), value);
  } catch (err) {
    detachInstance(handle);
    throw err;
  }
  return handle;
}

export function countInstance(handle: InstanceHandle): { events: number } {
  return { events: instanceEventCount(handle.path) };
}

export function detachInstance(handle: InstanceHandle): void {
  removeInstance(handle.path);
  handle.journal.settle(handle.journalId);
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
