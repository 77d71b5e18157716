import { join } from 'node:path';
import type { Journal } from './journal.js';
import { createInstance, instanceEventCount, removeInstance, writeTracefs } from './tracefs.js';

/** A private tracefs instance with some settings written: the handle every tracefs mechanism uses. */
export interface InstanceHandle {
  path: string;
  journalId: number;
  journal: Journal;
}

/**
 * Creates a private instance and applies `writes` (relative file, value) in order; on any failure the
 * instance is removed again, so a failed attach leaves nothing behind.
 */
export async function attachInstance(journal: Journal, tag: string, writes: [string, string][]): Promise<InstanceHandle> {
  const { path, journalId } = await createInstance(journal, tag);
  const handle = { path, journalId, journal };
  try {
    for (const [file, value] of writes) writeTracefs(join(path, file), value);
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
