import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import type { Journal } from './journal.js';

export const TRACEFS = '/sys/kernel/tracing';

/** The error a tracefs write or read raised, as the kernel said it (EPERM, ENOENT, ...). */
export class TracefsError extends Error {}

function kernelWords(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  return e.code ?? e.message;
}

function isTracefsMounted(): boolean {
  return readFileSync('/proc/mounts', 'utf8')
    .split('\n')
    .some((line) => line.split(' ')[1] === TRACEFS && line.split(' ')[2] === 'tracefs');
}

/**
 * Mounts tracefs where the kernel expects it if it is not mounted. The mount is left in place: it
 * changes no tracing state, and unmounting could pull it from under another tracer started meanwhile.
 */
export async function ensureTracefs(): Promise<string> {
  if (!isTracefsMounted()) {
    if (!existsSync(TRACEFS)) throw new TracefsError(`${TRACEFS} does not exist (kernel without CONFIG_TRACING?)`);
    const r = await execa('mount', ['-t', 'tracefs', 'nodev', TRACEFS], { reject: false });
    if (r.exitCode !== 0) throw new TracefsError(`cannot mount tracefs: ${r.stderr.trim() || r.exitCode}`);
  }
  return TRACEFS;
}

export function writeTracefs(path: string, value: string, append = false): void {
  try {
    writeFileSync(path, value, { flag: append ? 'a' : 'w' });
  } catch (err) {
    throw new TracefsError(`write '${value.trim()}' to ${path}: ${kernelWords(err)}`);
  }
}

export function readTracefs(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new TracefsError(`read ${path}: ${kernelWords(err)}`);
  }
}

/** Creates a private tracefs instance, journaled first. Returns its path and journal id. */
export async function createInstance(journal: Journal, tag: string): Promise<{ path: string; journalId: number }> {
  if (!/^hookbench-[0-9a-z-]+$/.test(tag)) throw new Error(`bad instance tag '${tag}'`);
  const root = await ensureTracefs();
  const path = join(root, 'instances', tag);
  const journalId = journal.add({ kind: 'tracefs-instance', path });
  try {
    mkdirSync(path);
  } catch (err) {
    journal.settle(journalId);
    throw new TracefsError(`create tracefs instance ${path}: ${kernelWords(err)}`);
  }
  return { path, journalId };
}

/** Disables everything in the instance, then removes it. Safe to call on a half-built instance. */
export function removeInstance(path: string): void {
  if (!existsSync(path)) return;
  for (const [file, value] of [['tracing_on', '0'], ['events/enable', '0'], ['current_tracer', 'nop'], ['set_ftrace_filter', '']] as const) {
    try {
      if (existsSync(join(path, file))) writeFileSync(join(path, file), value);
    } catch {
      // A file the kernel refuses to write was never set by us either; rmdir below decides.
    }
  }
  let lastError: unknown;
  for (let attempt = 0; attempt < 20; attempt++) {
    try {
      rmdirSync(path);
      return;
    } catch (err) {
      lastError = err;
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      // EBUSY while a reader still holds trace_pipe; give it a moment.
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 25);
    }
  }
  throw new TracefsError(`remove tracefs instance ${path}: ${kernelWords(lastError)}`);
}

/** Events written to an instance's ring buffer since it was created or cleared: entries + overrun, all CPUs. */
export function instanceEventCount(path: string): number {
  const perCpu = join(path, 'per_cpu');
  let total = 0;
  for (const cpu of readdirSync(perCpu)) {
    const stats = readTracefs(join(perCpu, cpu, 'stats'));
    total += statField(stats, 'entries') + statField(stats, 'overrun');
  }
  return total;
}

function statField(stats: string, field: string): number {
  const m = new RegExp(`^${field}: (\\d+)`, 'm').exec(stats);
  return m ? Number(m[1]) : 0;
}

/** Names of tracefs instances that are hookbench's (the before-stop check and cleanup use this). */
export function hookbenchInstances(): string[] {
  const dir = join(TRACEFS, 'instances');
  if (!existsSync(dir)) return [];
  return readdirSync(dir).filter((n) => n.includes('hookbench'));
}
