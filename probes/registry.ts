import { audit, auditIdle, auditOther } from './audit.js';
import { bpfFentry } from './bpf-fentry.js';
import { bpfFexit } from './bpf-fexit.js';
import { bpfKprobe } from './bpf-kprobe.js';
import { bpfKretprobe } from './bpf-kretprobe.js';
import { bpfLsm } from './bpf-lsm.js';
import { bpfRawTracepoint } from './bpf-raw-tracepoint.js';
import { bpfTracepoint } from './bpf-tracepoint.js';
import { ftrace } from './ftrace.js';
import { kprobe } from './kprobe.js';
import { kretprobe } from './kretprobe.js';
import { none } from './none.js';
import { rawSyscalls } from './raw-syscalls.js';
import { tracepoint } from './tracepoint.js';
import { uprobe } from './uprobe.js';
import { profileMechanismByName } from './profiles.js';
import type { AnyMechanism } from './types.js';

/** Every mechanism hookbench knows, in the order reports list them. Adding one: one file, one line here. */
export const MECHANISMS: readonly AnyMechanism[] = [
  tracepoint,
  rawSyscalls,
  kprobe,
  kretprobe,
  ftrace,
  uprobe,
  audit,
  auditIdle,
  auditOther,
  bpfTracepoint,
  bpfRawTracepoint,
  bpfKprobe,
  bpfKretprobe,
  bpfFentry,
  bpfFexit,
  bpfLsm,
  none,
];

/** A mechanism, or a hook profile's cell `<profile>/<realisation>` (probes/profiles.ts). */
export function mechanismByName(name: string): AnyMechanism | undefined {
  return MECHANISMS.find((m) => m.name === name) ?? profileMechanismByName(name);
}
