import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { attachAuditRules, audit, countAuditRecords, detachAudit, scopeAudit, type AuditHandle } from './audit.js';
import { countBareBpf, scopeBareBpf, startBareBpf, stopBareBpf, type BareBpfAttachment, type BareBpfHandle } from './bareBpf.js';
import { countBpftrace, startBpftrace, stopBpftrace, workloadComms, type BpftraceHandle, type BpftraceProbe } from './bpftrace.js';
import { assertProbePmu } from './kernelBpf.js';
import { hookTargetFor, SYSCALL_NUMBERS_X86_64, type HookTarget, type SyscallName } from './hookpoints.js';
import { kprobe } from './kprobe.js';
import { assertSyscall, kernelFunction, syscallNumber } from './symbols.js';
import { ensureTracefs, TRACEFS } from './tracefs.js';
import { attachInstance, detachInstance, instanceRecords, scopeInstance, type DynamicEventHandle, type InstanceHandle } from './tracefsProbe.js';
import type { AttachContext, Mechanism, Support, WorkloadProcess } from './types.js';

/**
 * How each mechanism family attaches a whole hook set at once, the way an agent does: one tracefs
 * instance with every syscall event, one raw sys_enter/sys_exit filter listing every id, one audit rule
 * per syscall, one bpftrace program with a probe per hook. Where the kernel runs one callback per
 * attachment on every syscall (syscall tracepoints and raw_syscalls register one per ring buffer), a set
 * of single-hook attachments would multiply the collateral cost an agent pays once; hence shared
 * attachments, and per-hook counts read from what they recorded.
 */

/** A hook as this kernel offers it at one layer: the syscalls it has, or the kernel function. */
export interface ResolvedHook {
  name: string;
  syscalls: readonly SyscallName[];
  kernelFunction: string;
}

export type Layer = 'syscall' | 'function';

export interface SetCount {
  events: number;
  perHook: Record<string, number>;
  note?: string;
  inProgramNs?: number | null;
  startupMs?: number;
}

export interface Realisation<H> {
  readonly name: string;
  readonly family: Mechanism['family'];
  readonly layer: Layer;
  /** Events one hooked call gives: 2 for raw sys_enter + sys_exit, else 1. */
  readonly eventsPerCall: number;
  readonly summary: string;
  /** Why this realisation cannot hook a syscall the kernel has (its tool does not know it), or null. */
  syscallRefused?(syscall: SyscallName): Promise<string | null>;
  describe(hooks: readonly ResolvedHook[]): string;
  detect(ctx: AttachContext, attachAll: () => Promise<Support>): Promise<Support>;
  /** `target`: the workload's hook row, for realisations that count only its processes' calls by comm. */
  attach(hooks: readonly ResolvedHook[], ctx: AttachContext, target: HookTarget): Promise<H>;
  /** As Mechanism.scope: count only the ready workload's process tree from now on. */
  scope(handle: H, workload: WorkloadProcess): Promise<void>;
  count(handle: H, workload: WorkloadProcess): Promise<SetCount>;
  detach(handle: H): Promise<void>;
}

/** Syscalls this kernel implements: exactly those with a syscall tracepoint (sys_ni stubs have none). */
export async function kernelHasSyscall(syscall: SyscallName): Promise<boolean> {
  await ensureTracefs();
  return existsSync(join(TRACEFS, 'events', 'syscalls', `sys_enter_${assertSyscall(syscall)}`));
}

/** The kernel function, when this kernel lists it; null otherwise. */
export function kernelHasFunction(name: string): boolean {
  try {
    kernelFunction(name);
    return true;
  } catch {
    return false;
  }
}

const allSyscalls = (hooks: readonly ResolvedHook[]) => hooks.flatMap((h) => h.syscalls);

/** The hook each syscall belongs to (a syscall belongs to one hook of a set: checked when a profile is made). */
function hookOfSyscall(hooks: readonly ResolvedHook[]): Map<string, string> {
  return new Map(hooks.flatMap((h) => h.syscalls.map((s) => [s, h.name] as const)));
}

const SYSCALL_NAMES_BY_NUMBER = new Map<number, SyscallName>(
  Object.entries(SYSCALL_NUMBERS_X86_64).map(([name, nr]) => [nr, name as SyscallName]),
);

function emptyCounts(hooks: readonly ResolvedHook[]): Record<string, number> {
  return Object.fromEntries(hooks.map((h) => [h.name, 0]));
}

const sum = (counts: Record<string, number>) => Object.values(counts).reduce((a, b) => a + b, 0);

// ---- tracefs: one private instance, per-hook counts parsed from its ring buffer ----

interface TracefsSetHandle {
  instance: InstanceHandle;
  hooks: readonly ResolvedHook[];
}

/** attachInstance sizes the buffer for every record of a run (a build's ~60,000 openat, x2 raw); scope clears it. */
async function attachTracefsSet(hooks: readonly ResolvedHook[], ctx: AttachContext, writes: [string, string][]): Promise<TracefsSetHandle> {
  return { instance: await attachInstance(ctx.journal, ctx.tag, writes), hooks };
}

/**
 * Counts the workload's records (the instance was scoped to its process tree) per hook, by the
 * syscall `recordSyscall` reads from a record's text. Records the buffer overwrote are lost: the note
 * says how many, and the counts are short by up to that.
 */
function countTracefsSet(h: TracefsSetHandle, recordSyscall: (body: string) => string | undefined): SetCount {
  const perHook = emptyCounts(h.hooks);
  const hookOf = hookOfSyscall(h.hooks);
  const { records, note } = instanceRecords(h.instance);
  for (const body of records) {
    const hook = hookOf.get(recordSyscall(body) ?? '');
    if (hook !== undefined) perHook[hook]! += 1;
  }
  return { events: sum(perHook), perHook, ...(note ? { note } : {}) };
}

async function detachTracefsSet(h: TracefsSetHandle): Promise<void> {
  detachInstance(h.instance);
}

/** `sys_openat(dfd: ...`: the syscall event's print names the syscall. */
const SYSCALL_EVENT = /^sys_([a-z0-9_]+)\(/;
/** `sys_enter: NR 257 (...)` and `sys_exit: NR 257 = 3`. */
const RAW_EVENT = /^sys_(?:enter|exit): NR (\d+) /;

export const tracepointSet: Realisation<TracefsSetHandle> = {
  name: 'tracepoint',
  family: 'tracefs',
  layer: 'syscall',
  eventsPerCall: 1,
  summary: 'every hook syscall\'s tracepoint sys_enter_<syscall>, all in one private tracefs instance',
  describe: (hooks) => `syscalls:sys_enter_{${allSyscalls(hooks).join(',')}} in one tracefs instance`,
  detect: (_ctx, attachAll) => attachAll(),
  attach: async (hooks, ctx) =>
    attachTracefsSet(hooks, ctx, allSyscalls(hooks).map((s) => [`events/syscalls/sys_enter_${assertSyscall(s)}/enable`, '1'])),
  scope: async (h, workload) => scopeInstance(h.instance, workload.pid),
  count: async (h) => countTracefsSet(h, (body) => SYSCALL_EVENT.exec(body)?.[1]),
  detach: detachTracefsSet,
};

const idFilter = (hooks: readonly ResolvedHook[]) => allSyscalls(hooks).map((s) => `id == ${syscallNumber(s)}`).join(' || ');

export const rawSyscallsSet: Realisation<TracefsSetHandle> = {
  name: 'raw-syscalls',
  family: 'tracefs',
  layer: 'syscall',
  eventsPerCall: 2,
  summary: 'raw_syscalls:sys_enter + sys_exit, one filter listing every hook syscall\'s id (the article\'s choice), one tracefs instance',
  describe: (hooks) => `raw_syscalls:sys_enter,sys_exit (${allSyscalls(hooks).map((s) => `id == ${SYSCALL_NUMBERS_X86_64[s]}`).join(' || ')})`,
  detect: (_ctx, attachAll) => attachAll(),
  // Filters before enabling: no unfiltered event is ever recorded.
  attach: async (hooks, ctx) =>
    attachTracefsSet(hooks, ctx, [
      ['events/raw_syscalls/sys_enter/filter', idFilter(hooks)],
      ['events/raw_syscalls/sys_exit/filter', idFilter(hooks)],
      ['events/raw_syscalls/sys_enter/enable', '1'],
      ['events/raw_syscalls/sys_exit/enable', '1'],
    ]),
  scope: async (h, workload) => scopeInstance(h.instance, workload.pid),
  count: async (h) =>
    countTracefsSet(h, (body) => {
      const nr = RAW_EVENT.exec(body)?.[1];
      return nr === undefined ? undefined : SYSCALL_NAMES_BY_NUMBER.get(Number(nr));
    }),
  detach: detachTracefsSet,
};

// ---- kprobe: one dynamic event per hook function, each through the kprobe mechanism's own attach ----

interface KprobeSetHandle {
  perHook: { hook: string; handle: DynamicEventHandle }[];
}

/** Undoes what was attached, newest first; the first error is rethrown after all were tried. */
async function detachAllNewestFirst<T>(attached: readonly T[], detachOne: (x: T) => Promise<void>): Promise<void> {
  let first: unknown;
  for (const x of [...attached].reverse()) {
    try {
      await detachOne(x);
    } catch (err) {
      first ??= err;
    }
  }
  if (first !== undefined) throw first;
}

export const kprobeSet: Realisation<KprobeSetHandle> = {
  name: 'kprobe',
  family: 'tracefs',
  layer: 'function',
  eventsPerCall: 1,
  summary: 'a tracefs kprobe (p:) on every hook\'s kernel function, each in its own private instance',
  describe: (hooks) => `p:{${hooks.map((h) => h.kernelFunction).join(',')}}`,
  detect: (_ctx, attachAll) => attachAll(),
  attach: async (hooks, ctx) => {
    const attached: KprobeSetHandle['perHook'] = [];
    try {
      for (const [i, hook] of hooks.entries()) {
        // A kprobe instance per function: a kprobe fires only on its function, so separate instances
        // cost what one would, and each instance's stats are that hook's count.
        const target = { ...hookTargetFor('mprotect'), kernelFunction: hook.kernelFunction };
        attached.push({ hook: hook.name, handle: await kprobe.attach(target, { ...ctx, tag: `${ctx.tag}-${i}` }) });
      }
    } catch (err) {
      await detachAllNewestFirst(attached, (a) => kprobe.detach(a.handle));
      throw err;
    }
    return { perHook: attached };
  },
  scope: async (h, workload) => {
    for (const { handle } of h.perHook) await kprobe.scope(handle, workload);
  },
  count: async (h, workload) => {
    const perHook: Record<string, number> = {};
    const notes: string[] = [];
    for (const { hook, handle } of h.perHook) {
      const count = await kprobe.count(handle, workload);
      perHook[hook] = count.events;
      if (count.note) notes.push(`${hook}: ${count.note}`);
    }
    return { events: sum(perHook), perHook, ...(notes.length > 0 ? { note: notes.join('; ') } : {}) };
  },
  detach: (h) => detachAllNewestFirst(h.perHook, (a) => kprobe.detach(a.handle)),
};

// ---- audit: one rule per syscall, records counted per syscall ----

interface AuditSetHandle {
  audit: AuditHandle;
  hooks: readonly ResolvedHook[];
}

export const auditSet: Realisation<AuditSetHandle> = {
  name: 'audit',
  family: 'audit',
  layer: 'syscall',
  eventsPerCall: 1,
  summary: 'one audit rule (always,exit) per hook syscall, auditd writing the log',
  // auditctl names syscalls from its own table, which may predate the kernel's (3.0.9: no fchmodat2).
  syscallRefused: async (syscall) => {
    const r = await execa('ausyscall', ['x86_64', assertSyscall(syscall)], { reject: false });
    return r.exitCode === 0 ? null : `auditctl does not know ${syscall} (${r.stderr.trim() || r.stdout.trim() || `ausyscall exit ${r.exitCode}`})`;
  },
  describe: (hooks) => `auditctl -a always,exit -F arch=b64 -S <syscall> -k hookbench, for each of ${allSyscalls(hooks).join(',')}`,
  // Enabling audit is sticky until reboot: detection adds and removes a rule without enabling it.
  detect: (ctx) => audit.detect(ctx),
  attach: async (hooks, ctx) => ({ audit: await attachAuditRules(allSyscalls(hooks), ctx), hooks }),
  scope: (h) => scopeAudit(h.audit),
  count: async (h, workload) => {
    const { bySyscall, note } = await countAuditRecords(h.audit, workload);
    const perHook = emptyCounts(h.hooks);
    const hookOf = hookOfSyscall(h.hooks);
    for (const [nr, n] of bySyscall) {
      const hook = hookOf.get(SYSCALL_NAMES_BY_NUMBER.get(nr) ?? '');
      if (hook !== undefined) perHook[hook]! += n;
    }
    return { events: sum(perHook), perHook, ...(note ? { note } : {}) };
  },
  detach: (h) => detachAudit(h.audit),
};

// ---- bpftrace: one program, a probe per hook (or one filtered raw tracepoint), a keyed count map ----

interface BpfSetHandle {
  bpftrace: BpftraceHandle;
  /** Map key -> hook. */
  hookOfKey: Map<string, string>;
  hooks: readonly ResolvedHook[];
}

function bpfSet(spec: {
  name: string;
  layer: Layer;
  summary: string;
  probes(hooks: readonly ResolvedHook[]): { probes: BpftraceProbe[]; hookOfKey: Map<string, string> };
}): Realisation<BpfSetHandle> {
  return {
    name: spec.name,
    family: 'bpftrace',
    layer: spec.layer,
    eventsPerCall: 1,
    summary: spec.summary,
    describe: (hooks) =>
      spec
        .probes(hooks)
        .probes.map((p) => `${p.type}:${p.target}${p.filter ? ` /${p.filter}/` : ''}`)
        .join(' '),
    detect: (_ctx, attachAll) => attachAll(),
    attach: async (hooks, ctx, target) => {
      const { probes, hookOfKey } = spec.probes(hooks);
      return { bpftrace: await startBpftrace(probes, ctx, workloadComms(target)), hookOfKey, hooks };
    },
    scope: async () => {},
    count: async (h) => {
      const count = await countBpftrace(h.bpftrace);
      const perHook = emptyCounts(h.hooks);
      for (const [key, n] of Object.entries(count.perHook ?? {})) {
        const hook = h.hookOfKey.get(key);
        if (hook !== undefined) perHook[hook]! += n;
      }
      return { events: sum(perHook), perHook, inProgramNs: count.inProgramNs ?? null, ...(count.startupMs === undefined ? {} : { startupMs: count.startupMs }) };
    },
    detach: (h) => stopBpftrace(h.bpftrace),
  };
}

export const bpftraceTracepointSet = bpfSet({
  name: 'bpftrace-tracepoint',
  layer: 'syscall',
  summary: 'one bpftrace program: a tracepoint probe on every hook syscall\'s sys_enter_<syscall>, counting per hook',
  probes: (hooks) => ({
    probes: hooks.flatMap((h) => h.syscalls.map((s) => ({ type: 'tracepoint', target: `syscalls:sys_enter_${assertSyscall(s)}`, key: { name: h.name } }))),
    hookOfKey: new Map(hooks.map((h) => [h.name, h.name])),
  }),
});

export const bpftraceRawtracepointSet = bpfSet({
  name: 'bpftrace-rawtracepoint',
  layer: 'syscall',
  summary: 'one bpftrace program on the raw tracepoint sys_enter, filtered in-program to every hook syscall\'s id, counting per id',
  probes: (hooks) => ({
    probes: [
      {
        type: 'rawtracepoint',
        target: 'sys_enter',
        filter: allSyscalls(hooks).map((s) => `arg1 == ${syscallNumber(s)}`).join(' || '),
        key: { arg: 1 },
      },
    ],
    hookOfKey: new Map(hooks.flatMap((h) => h.syscalls.map((s) => [String(syscallNumber(s)), h.name] as const))),
  }),
});

export const bpftraceKprobeSet = bpfSet({
  name: 'bpftrace-kprobe',
  layer: 'function',
  summary: 'one bpftrace program: a kprobe on every hook\'s kernel function, counting per hook',
  probes: (hooks) => ({
    probes: hooks.map((h) => ({ type: 'kprobe', target: h.kernelFunction, key: { name: h.name } })),
    hookOfKey: new Map(hooks.map((h) => [h.name, h.name])),
  }),
});

// ---- bare BPF: one minimal program per hook point (probes/bareBpf.ts), all placed by one loader ----

interface BareSetHandle {
  loader: BareBpfHandle;
  /** The hook of each attachment, in loader order. */
  hookOfAttachment: string[];
  hooks: readonly ResolvedHook[];
}

function bareSet(spec: {
  name: string;
  layer: Layer;
  summary: string;
  attachments(hooks: readonly ResolvedHook[]): { hook: string; attachment: BareBpfAttachment }[];
  precheck?(): Promise<void>;
}): Realisation<BareSetHandle> {
  return {
    name: spec.name,
    family: 'bpf',
    layer: spec.layer,
    eventsPerCall: 1,
    summary: spec.summary,
    describe: (hooks) => spec.attachments(hooks).map(({ attachment: a }) => `${a.type}/${a.target}`).join(' '),
    detect: (_ctx, attachAll) => attachAll(),
    attach: async (hooks, ctx, target) => {
      const placed = spec.attachments(hooks);
      await spec.precheck?.();
      return {
        loader: await startBareBpf(placed.map((p) => p.attachment), ctx, workloadComms(target)),
        hookOfAttachment: placed.map((p) => p.hook),
        hooks,
      };
    },
    scope: (h) => scopeBareBpf(h.loader),
    count: async (h) => {
      const { perAttachment, inProgramNs, startupMs } = await countBareBpf(h.loader);
      const perHook = emptyCounts(h.hooks);
      perAttachment.forEach((n, i) => (perHook[h.hookOfAttachment[i]!]! += n));
      return { events: sum(perHook), perHook, inProgramNs, startupMs };
    },
    detach: (h) => stopBareBpf(h.loader),
  };
}

/** The way an eBPF agent hooks syscalls: a tp program on each hook syscall's sys_enter tracepoint. */
export const bareTracepointSet = bareSet({
  name: 'bpf-tp',
  layer: 'syscall',
  summary: 'a bare tp BPF program (libbpf loader) on every hook syscall\'s sys_enter_<syscall>, one per-CPU counter each',
  attachments: (hooks) =>
    hooks.flatMap((h) => h.syscalls.map((s) => ({ hook: h.name, attachment: { type: 'tp' as const, target: `syscalls/sys_enter_${assertSyscall(s)}`, syscallNr: -1 } }))),
  precheck: async () => void (await ensureTracefs()),
});

/** Elkeid's own choice: a kprobe on each hook's kernel function, here as a bare BPF kprobe program. */
export const bareKprobeSet = bareSet({
  name: 'bpf-kprobe',
  layer: 'function',
  summary: 'a bare kprobe BPF program (libbpf loader) on every hook\'s kernel function, as Elkeid\'s driver places its kprobes, one per-CPU counter each',
  attachments: (hooks) => hooks.map((h) => ({ hook: h.name, attachment: { type: 'kprobe' as const, target: kernelFunction(h.kernelFunction), syscallNr: -1 } })),
  precheck: () => assertProbePmu('kprobe'),
});

/** Every way a profile can be realised, in the order reports list them. */
export const REALISATIONS: readonly Realisation<any>[] = [
  tracepointSet,
  rawSyscallsSet,
  kprobeSet,
  auditSet,
  bareTracepointSet,
  bareKprobeSet,
  bpftraceTracepointSet,
  bpftraceRawtracepointSet,
  bpftraceKprobeSet,
];

export function realisationByName(name: string): Realisation<any> | undefined {
  return REALISATIONS.find((r) => r.name === name);
}
