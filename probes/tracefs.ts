import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
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

export type DynamicEventsFile = 'kprobe_events' | 'uprobe_events';

/** What a dynamic-event line may hold: names the kernel accepts as group/event, locations without spaces or quotes. */
const EVENT_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;
const EVENT_LOCATION = /^[A-Za-z0-9_./+:-]{1,4096}$/;

/** The config options whose absence explains a missing dynamic-events file, outermost first. */
const DYNAMIC_EVENTS_CONFIG: Record<DynamicEventsFile, string[]> = {
  kprobe_events: ['CONFIG_KPROBES', 'CONFIG_KPROBE_EVENTS'],
  uprobe_events: ['CONFIG_UPROBES', 'CONFIG_UPROBE_EVENTS'],
};

/** The running kernel's config (/proc/config.gz), or null where the kernel does not expose it. */
function kernelConfig(): string | null {
  try {
    return gunzipSync(readFileSync('/proc/config.gz')).toString('utf8');
  } catch {
    return null;
  }
}

/** Why `file` is missing, in the kernel config's words where it has any ("CONFIG_KPROBES is not set: ..."). */
function missingDynamicEventsReason(file: DynamicEventsFile): string {
  const missing = `no ${file} in ${TRACEFS}`;
  const config = kernelConfig();
  if (config === null) return `${missing} (kernel config not readable)`;
  const unset = DYNAMIC_EVENTS_CONFIG[file].find((opt) => !new RegExp(`^${opt}=[ym]$`, 'm').test(config));
  return unset ? `${unset} is not set: ${missing}` : missing;
}

/** The kernel's explanation in error_log for a rejected dynamic-event command naming `group/event`, if any. */
function errorLogReason(group: string, event: string): string | null {
  let log: string;
  try {
    log = readFileSync(join(TRACEFS, 'error_log'), 'utf8');
  } catch {
    return null;
  }
  const lines = log.split('\n');
  for (let i = lines.length - 1; i > 0; i--) {
    if (lines[i]!.includes('Command:') && lines[i]!.includes(`${group}/${event}`)) return lines[i - 1]!.replace(/^\[[^\]]*\]\s*/, '').trim();
  }
  return null;
}

/**
 * Defines a kprobe/kretprobe/uprobe event `type:group/event location`, journaled first. Only the
 * definition is global; enabling it is left to a private instance. Returns the journal id, whose
 * entry `undoEntry` removes again.
 */
export async function addDynamicEvent(
  journal: Journal,
  event: { file: DynamicEventsFile; type: 'p' | 'r'; group: string; event: string; location: string },
): Promise<number> {
  if (!EVENT_NAME.test(event.group) || !EVENT_NAME.test(event.event)) throw new Error(`invalid dynamic event name '${event.group}/${event.event}'`);
  if (!EVENT_LOCATION.test(event.location) || event.location.split('/').includes('..')) throw new Error(`invalid dynamic event location '${event.location}'`);
  const path = join(await ensureTracefs(), event.file);
  if (!existsSync(path)) throw new TracefsError(missingDynamicEventsReason(event.file));
  const id = journal.add({ kind: 'dynamic-event', file: event.file, group: event.group, event: event.event });
  try {
    writeTracefs(path, `${event.type}:${event.group}/${event.event} ${event.location}\n`, true);
  } catch (err) {
    journal.settle(id);
    const kernelSays = errorLogReason(event.group, event.event);
    throw kernelSays ? new TracefsError(`${(err as Error).message} (${kernelSays})`) : err;
  }
  return id;
}

/** Lines of kprobe_events / uprobe_events that are hookbench's (the before-stop check and tests use this). */
export function hookbenchDynamicEvents(): string[] {
  return (['kprobe_events', 'uprobe_events'] as const).flatMap((file) => {
    const path = join(TRACEFS, file);
    if (!existsSync(path)) return [];
    return readTracefs(path).split('\n').filter((line) => line.includes('hookbench'));
  });
}
