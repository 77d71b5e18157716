import { bpfFentry } from './bpf-fentry.js';
import { bpfFexit } from './bpf-fexit.js';
import { bpfFmodRet } from './bpf-fmod-ret.js';
import { bpfKprobe } from './bpf-kprobe.js';
import { bpfKprobeMulti } from './bpf-kprobe-multi.js';
import { bpfKretprobe } from './bpf-kretprobe.js';
import { bpfLsm } from './bpf-lsm.js';
import { bpfRawTp } from './bpf-raw-tp.js';
import { bpfTp } from './bpf-tp.js';
import { bpfTpBtf } from './bpf-tp-btf.js';
import { bpfUprobe } from './bpf-uprobe.js';
import { audit, auditIdle, auditOther } from './audit.js';
import { bpftraceKfunc } from './bpftrace-kfunc.js';
import { bpftraceKretfunc } from './bpftrace-kretfunc.js';
import { bpftraceKprobe } from './bpftrace-kprobe.js';
import { bpftraceKretprobe } from './bpftrace-kretprobe.js';
import { bpftraceLsm } from './bpftrace-lsm.js';
import { bpftraceRawtracepoint } from './bpftrace-rawtracepoint.js';
import { bpftraceTracepoint } from './bpftrace-tracepoint.js';
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
  bpfTp,
  bpfRawTp,
  bpfTpBtf,
  bpfKprobe,
  bpfKretprobe,
  bpfKprobeMulti,
  bpfFentry,
  bpfFexit,
  bpfFmodRet,
  bpfLsm,
  bpfUprobe,
  bpftraceTracepoint,
  bpftraceRawtracepoint,
  bpftraceKprobe,
  bpftraceKretprobe,
  bpftraceKfunc,
  bpftraceKretfunc,
  bpftraceLsm,
  none,
];

/** A mechanism, or a hook profile's cell `<profile>/<realisation>` (probes/profiles.ts). */
export function mechanismByName(name: string): AnyMechanism | undefined {
  return MECHANISMS.find((m) => m.name === name) ?? profileMechanismByName(name);
}
