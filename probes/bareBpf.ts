import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { repoRoot } from '../bench/repo.js';
import { buildCached, COMMON_FLAGS, type CompileUnit } from '../workloads/build.js';
import { enableBpfStats, inProgramNs, processProgramStats, type JournaledChange, type ProgramStats } from './bpfStats.js';
import { workloadComms } from './bpftrace.js';
import { detectByAttaching } from './detect.js';
import type { HookTarget } from './hookpoints.js';
import type { Journal } from './journal.js';
import { lockdownMode } from './kernelBpf.js';
import { AS_WRITTEN, CHECKED, type Names } from './names.js';
import { spawnError, spawnJournaled, ToolOutput, type ToolProcess } from './toolProcess.js';
import { undoJournaled } from './undo.js';
import type { AttachContext, Mechanism, ProbeCount } from './types.js';

/**
 * The bare BPF family: one minimal C program per attach type (probes/bpf/<type>.bpf.c, all running the
 * body of count.bpf.h: a comm test, then one per-CPU array increment), compiled with clang and placed by
 * one small libbpf loader (probes/bpf/loader.c), like the kernel's own BPF `bench` with its trig-*
 * programs. What a cell measures is the attach type's cost, not a tool's program or start-up.
 */
export const BPF_ATTACH_TYPES = ['tp', 'raw_tp', 'tp_btf', 'kprobe', 'kretprobe', 'kprobe.multi', 'fentry', 'fexit', 'fmod_ret', 'lsm', 'uprobe'] as const;
export type BpfAttachType = (typeof BPF_ATTACH_TYPES)[number];

const LOADER = 'hb-bpf-loader';
const READY_TIMEOUT_MS = 60_000;
const COUNT_TIMEOUT_MS = 5_000;
/** x86-64 only, as the syscall table: where Debian keeps asm/types.h for a -target bpf build. */
const BPF_CFLAGS = ['-O2', '-g', '-Wall', '-Werror', '-target', 'bpf', '-D__TARGET_ARCH_x86', '-I/usr/include/x86_64-linux-gnu', '-c'];

const objectFile = (type: BpfAttachType) => `${type.replace('.', '_')}.bpf.o`;

export interface BareBpfBuild {
  loader: string;
  objects: Readonly<Record<BpfAttachType, string>>;
}

let built: Promise<BareBpfBuild> | null = null;

/** Builds the loader and every program into build/bpf-<key>/ (cached by source hash, as the workloads). */
export function buildBareBpf(): Promise<BareBpfBuild> {
  built ??= (async () => {
    const units: CompileUnit[] = [
      { binary: LOADER, sources: ['loader.c'], flags: COMMON_FLAGS, libs: ['-lbpf'] },
      ...BPF_ATTACH_TYPES.map((type) => ({ binary: objectFile(type), sources: [objectFile(type).replace(/\.o$/, '.c')], flags: BPF_CFLAGS, compiler: 'clang' })),
    ];
    const { paths } = await buildCached('bpf', units, {
      sourceDir: join(repoRoot(), 'probes', 'bpf'),
      buildDir: join(repoRoot(), 'build'),
      headers: ['count.bpf.h'],
      install: "run 'make setup' (clang and libbpf-dev)",
    });
    return { loader: paths[0]!, objects: Object.fromEntries(BPF_ATTACH_TYPES.map((type, i) => [type, paths[i + 1]!])) as Record<BpfAttachType, string> };
  })();
  built.catch(() => (built = null));
  return built;
}

/** One program to place: its attach type, the loader's target text for it, the syscall id it keeps (-1: every call). */
export interface BareBpfAttachment {
  type: BpfAttachType;
  target: string;
  syscallNr: number;
}

export interface BareBpfHandle extends ToolProcess {
  journal: Journal;
  process: JournaledChange;
  stats: JournaledChange | null;
  lines: ToolOutput<string>;
  startupMs: number;
  /** Per attachment, what it had counted when the workload was scoped. */
  atScope: number[];
  statsAtScope: ProgramStats | null;
}

/** What the kernel means by an errno for one attach type, where its source says so. */
const KNOWN_REFUSALS: Readonly<Record<string, string>> = {
  // bpf_kprobe_multi_link_attach is a stub returning -EOPNOTSUPP without fprobe.
  'kprobe.multi ENOTSUP': 'this kernel has no kprobe_multi links (CONFIG_FPROBE not set, or older than 5.18)',
};

/**
 * The kernel's or libbpf's words for a failure: the loader's `error:` line and libbpf's last warning
 * that says more than "failed to load", with the lockdown mode beside a refusal (EPERM).
 */
async function failureReason(stderr: string, otherwise: string): Promise<string> {
  const lines = stderr.split('\n').map((l) => l.trim());
  const error = lines.find((l) => l.startsWith('error: '))?.slice('error: '.length);
  const libbpf = lines
    // libbpf's guess at any EPERM ("try raising 'ulimit -l'") is not the kernel's reason: left out.
    .filter((l) => l.startsWith('libbpf: ') && !/failed to load( object|: -\d+$)|PROG LOAD LOG|-- END|ulimit -l/.test(l))
    .map((l) => l.slice('libbpf: '.length))
    .at(-1);
  const errno = /\((E[A-Z]+)\)$/.exec(error ?? '')?.[1];
  const known = errno && KNOWN_REFUSALS[`${error!.split(' ')[0]} ${errno}`];
  const said = [error ?? otherwise, known ?? libbpf].filter(Boolean).join(known ? ': ' : '; libbpf: ');
  if (errno !== 'EPERM') return said;
  const lockdown = await lockdownMode();
  return `${said}${lockdown ? ` (lockdown: ${lockdown})` : ''}`;
}

function loaderArgs(objects: BareBpfBuild['objects'], attachments: readonly BareBpfAttachment[], comms: readonly string[] | null): string[] {
  return [
    ...(comms ?? []).flatMap((comm) => ['--comm', comm]),
    ...attachments.flatMap((a) => ['--attach', objects[a.type], a.type, a.target, String(a.syscallNr)]),
  ];
}

/** Stops the loader (end of stdin, then the journal's SIGTERM/SIGKILL), then restores the stats sysctl. */
async function stop(h: Pick<BareBpfHandle, 'journal' | 'child' | 'process' | 'stats' | 'exited'>): Promise<void> {
  h.child.stdin?.end();
  await Promise.race([h.exited, new Promise((resolve) => setTimeout(resolve, 1_000))]);
  await undoJournaled(h.journal, h.process.id, h.process.entry);
  await h.exited;
  if (h.stats) await undoJournaled(h.journal, h.stats.id, h.stats.entry);
}

/**
 * Starts the loader on `attachments`, journaling the stats sysctl before it is written and the process
 * right after spawn; resolves once every program is attached. Any failure undoes both and says why.
 * Only validated names (names.ts) and the workload's comms reach its command line, never a shell.
 */
export async function startBareBpf(attachments: readonly BareBpfAttachment[], ctx: AttachContext, comms: readonly string[] | null): Promise<BareBpfHandle> {
  const { loader, objects } = await buildBareBpf();
  const stats = ctx.bpfStats === false ? null : enableBpfStats(ctx.journal);
  const started = performance.now();
  const { child, process: journaled, exited } = spawnJournaled(loader, loaderArgs(objects, attachments, comms), ['pipe', 'pipe', 'pipe'], ctx.journal);
  if (!journaled) {
    const err = await spawnError(child);
    if (stats) await undoJournaled(ctx.journal, stats.id, stats.entry);
    throw new Error(`cannot start ${LOADER}: ${err.message}`);
  }
  const running = { journal: ctx.journal, child, process: journaled, stats, exited };
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const lines = new ToolOutput(child, (line) => line, LOADER);
  try {
    await lines.next(afterPrefix('ready'), exited, READY_TIMEOUT_MS, "'ready'");
  } catch (err) {
    await stop(running);
    throw new Error(await failureReason(stderr, (err as Error).message));
  }
  return { ...running, lines, startupMs: performance.now() - started, atScope: attachments.map(() => 0), statsAtScope: null };
}

/** The rest of a line that starts with `prefix`. */
const afterPrefix =
  (prefix: string) =>
  (line: string): string | undefined =>
    line.startsWith(prefix) ? line.slice(prefix.length) : undefined;

/** Each attachment's count so far, read from the loader's per-CPU arrays. */
async function readCounts(h: BareBpfHandle): Promise<number[]> {
  const reply = h.lines.next(afterPrefix('count '), h.exited, COUNT_TIMEOUT_MS, "'count'");
  h.child.stdin!.write('count\n');
  return (await reply).split(' ').map(Number);
}

/** From now on only the workload's run counts: the loader's set-up calls and its own were before. */
export async function scopeBareBpf(h: BareBpfHandle): Promise<void> {
  h.atScope = await readCounts(h);
  h.statsAtScope = h.stats && processProgramStats(h.child.pid!);
}

/** Per attachment, the workload's events since scope; in-program ns per program run since then. */
export async function countBareBpf(h: BareBpfHandle): Promise<{ perAttachment: number[]; inProgramNs: number | null; startupMs: number }> {
  const now = await readCounts(h);
  const programNs = h.statsAtScope && inProgramNs(h.statsAtScope, processProgramStats(h.child.pid!));
  return { perAttachment: now.map((n, i) => n - h.atScope[i]!), inProgramNs: programNs ?? null, startupMs: h.startupMs };
}

export const stopBareBpf = (h: BareBpfHandle): Promise<void> => stop(h);

export interface BareBpfSpec {
  name: string;
  type: BpfAttachType;
  /** Where the program sits, for the summary. */
  where: string;
  /** The loader's target for this workload (names through `names` only) and the syscall id to keep. */
  attachment(target: HookTarget, names: Names): Promise<Omit<BareBpfAttachment, 'type'>> | Omit<BareBpfAttachment, 'type'>;
  /** The hook point as `hookbench list` shows it, where `attachment` needs more than names (uprobe). */
  hookPoint?(target: HookTarget): string;
  /** What the kernel must offer, checked first for a reason in its terms (BTF, PMU, active LSM). */
  precheck?(): Promise<void>;
}

function describe(type: BpfAttachType, a: Omit<BareBpfAttachment, 'type'>): string {
  return `${type}/${a.target}${a.syscallNr >= 0 ? ` (id == ${a.syscallNr})` : ''}`;
}

/** A bare BPF mechanism from its spec: one program of `type` per workload, one event per hooked call. */
export function bareBpfMechanism(spec: BareBpfSpec): Mechanism<BareBpfHandle> {
  const mechanism: Mechanism<BareBpfHandle> = {
    name: spec.name,
    family: 'bpf',
    summary: `bare ${spec.type} BPF program (clang + libbpf loader) ${spec.where}: the workload's calls (by comm) counted into a per-CPU array`,
    hookPoint: (t) => spec.hookPoint?.(t) ?? describe(spec.type, spec.attachment(t, AS_WRITTEN) as Omit<BareBpfAttachment, 'type'>),
    expectedPerOp: (t) => t.expectedPerOp,
    detect: (ctx) => detectByAttaching(mechanism, ctx),
    attach: async (t, ctx) => {
      // Names are checked before anything else: refused input never meets the kernel.
      const attachment = { type: spec.type, ...(await spec.attachment(t, CHECKED)) };
      await spec.precheck?.();
      return startBareBpf([attachment], ctx, workloadComms(t));
    },
    scope: (h) => scopeBareBpf(h),
    count: async (h): Promise<ProbeCount> => {
      const { perAttachment, inProgramNs, startupMs } = await countBareBpf(h);
      return { events: perAttachment[0]!, inProgramNs, startupMs };
    },
    detach: stopBareBpf,
  };
  return mechanism;
}
