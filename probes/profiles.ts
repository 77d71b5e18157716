import { detectByAttaching } from './detect.js';
import { mixOf, type HookTarget, type SyscallName } from './hookpoints.js';
import type { ProfileFile } from './profileSchema.js';
import { kernelHasFunction, kernelHasSyscall, REALISATIONS, realisationByName, type Realisation, type ResolvedHook } from './profileRealisations.js';
import type { AttachContext, Mechanism, ProbeCount, WorkloadProcess } from './types.js';

/**
 * Hook profiles: the set of hooks an agent enables, attached at once and measured as one cell, the
 * question users really ask ("will my agent's hooks stay under 5 % on my workload"). A profile is a
 * named list of hooks from HOOKS; each realisation (probes/profileRealisations.ts) attaches the whole
 * list with one mechanism family. A profile cell is a Mechanism named `<profile>/<realisation>`.
 */

/** A hook an agent enables, and what it is at each layer. */
export interface HookDefinition {
  /** Syscalls whose entry is this hook at the syscall layer; none: the hook is a kernel function only. */
  syscalls: readonly SyscallName[];
  /** The kernel function that is this hook at the function layer (kprobe, bpftrace-kprobe). */
  kernelFunction: string;
  /** Syscalls each call of which reaches `kernelFunction` once: what the function layer must count. */
  reachedBy: readonly SyscallName[];
}

const syscallHook = (syscalls: readonly SyscallName[], kernelFunction: string): HookDefinition => ({ syscalls, kernelFunction, reachedBy: syscalls });

/**
 * Elkeid's hooks (linux-tracing-evolution-article.txt, section 5.2) as this project can place them.
 * The syscall layer hooks every variant of a call (rename, renameat, renameat2): an agent that hooked
 * one would miss `mv`. Elkeid's in-handler conditions (ptrace only POKETEXT/POKEDATA, prctl only
 * PR_SET_NAME, update_cred only uid != 0 -> 0) are work after the hook fired: the hooks here fire, and
 * are counted, on every call. Elkeid reads DNS answers at udp_recvmsg; the syscall layer here sees the
 * query (and the stub's answer) leaving, at sendto/sendmsg/sendmmsg, and the function layer at
 * udp_sendmsg. Not placeable as a kernel hook, so absent: usb_device_event (a USB notifier),
 * privilege_escalation (a periodic scan), and the sandbox-only hooks.
 */
export const HOOKS = {
  connect: syscallHook(['connect'], '__sys_connect'),
  bind: syscallHook(['bind'], '__sys_bind'),
  execve: syscallHook(['execve', 'execveat'], 'bprm_execve'),
  rename: syscallHook(['rename', 'renameat', 'renameat2'], 'do_renameat2'),
  link: syscallHook(['link', 'linkat'], 'do_linkat'),
  chmod: syscallHook(['chmod', 'fchmod', 'fchmodat', 'fchmodat2'], 'chmod_common'),
  ptrace: syscallHook(['ptrace'], 'arch_ptrace'),
  setsid: syscallHook(['setsid'], 'ksys_setsid'),
  prctl: syscallHook(['prctl'], 'security_task_prctl'),
  mount: syscallHook(['mount'], 'path_mount'),
  memfd_create: syscallHook(['memfd_create'], '__x64_sys_memfd_create'),
  dns: { syscalls: ['sendto', 'sendmsg', 'sendmmsg'], kernelFunction: 'udp_sendmsg', reachedBy: ['sendto'] },
  // Elkeid hooks file creation at security_inode_create; the syscall layer sees every open that may
  // create (creat, openat), creating or not.
  create_file: { syscalls: ['creat', 'openat'], kernelFunction: 'security_inode_create', reachedBy: ['creat'] },
  load_module: syscallHook(['init_module', 'finit_module'], 'do_init_module'),
  // Every execve commits the new program's credentials.
  update_cred: { syscalls: [], kernelFunction: 'commit_creds', reachedBy: ['execve'] },
  call_usermodehelper_exec: { syscalls: [], kernelFunction: 'call_usermodehelper_exec', reachedBy: [] },
} as const satisfies Record<string, HookDefinition>;
export type HookName = keyof typeof HOOKS;
export const HOOK_NAMES = Object.keys(HOOKS) as HookName[];

export interface Profile {
  name: string;
  description: string;
  hooks: HookName[];
  /** Realisations a profile cell may use; all of REALISATIONS when absent. */
  realisations?: string[];
}

/** The hooks Elkeid enables by default (section 5.2, "开启"), those with a kernel hook point. */
export const ELKEID_DEFAULT: Profile = {
  name: 'elkeid-default',
  description: "Elkeid's default hook set: connect, bind, execve, rename, link, chmod, ptrace, setsid, prctl, mount, memfd_create, DNS query, file creation, module load, credential change, usermode helper",
  hooks: ['connect', 'bind', 'execve', 'rename', 'link', 'chmod', 'ptrace', 'setsid', 'prctl', 'mount', 'memfd_create', 'dns', 'create_file', 'load_module', 'update_cred', 'call_usermodehelper_exec'],
};

export const BUILTIN_PROFILES: readonly Profile[] = [ELKEID_DEFAULT];

/** Refused profile: one line saying what and why (the CLI turns it into exit code 2). */
export class ProfileError extends Error {}

/** Checks names against HOOKS and REALISATIONS: an unknown one is refused, never passed on. */
export function validateProfile(input: ProfileFile): Profile {
  for (const hook of input.hooks) {
    if (!Object.hasOwn(HOOKS, hook)) throw new ProfileError(`unknown hook '${hook}' in profile '${input.name}' (known: ${HOOK_NAMES.join(', ')})`);
  }
  if (new Set(input.hooks).size !== input.hooks.length) throw new ProfileError(`profile '${input.name}' names a hook twice`);
  for (const r of input.realisations ?? []) {
    if (!realisationByName(r)) throw new ProfileError(`unknown realisation '${r}' in profile '${input.name}' (known: ${REALISATIONS.map((x) => x.name).join(', ')})`);
  }
  const profile: Profile = { name: input.name, description: input.description, hooks: input.hooks as HookName[] };
  return input.realisations ? { ...profile, realisations: input.realisations } : profile;
}

// ---- registry: built-in profiles, plus those a run loaded from files ----

const loaded = new Map<string, Profile>(BUILTIN_PROFILES.map((p) => [p.name, p]));

/** Makes a validated profile's cells known to this process (a run registers its file profiles again on resume). */
export function registerProfile(profile: Profile): void {
  const existing = loaded.get(profile.name);
  if (existing && JSON.stringify(existing) !== JSON.stringify(profile)) {
    throw new ProfileError(`a different profile named '${profile.name}' is already known${BUILTIN_PROFILES.includes(existing) ? ' (built in)' : ''}`);
  }
  loaded.set(profile.name, profile);
}

export function profileByName(name: string): Profile | undefined {
  return loaded.get(name);
}

export function realisationsOf(profile: Profile): Realisation<any>[] {
  return REALISATIONS.filter((r) => !profile.realisations || profile.realisations.includes(r.name));
}

/** `<profile>/<realisation>` for each of its realisations: the mechanism names its cells run under. */
export function profileMechanismNames(profile: Profile): string[] {
  return realisationsOf(profile).map((r) => `${profile.name}/${r.name}`);
}

const mechanisms = new Map<string, ProfileMechanism>();

/** The composite mechanism named `<profile>/<realisation>`, if that profile is known. */
export function profileMechanismByName(name: string): ProfileMechanism | undefined {
  const cached = mechanisms.get(name);
  if (cached) return cached;
  const [profileName, realisationName, ...rest] = name.split('/');
  const profile = profileByName(profileName ?? '');
  const realisation = realisationByName(realisationName ?? '');
  if (!profile || !realisation || rest.length > 0 || !realisationsOf(profile).includes(realisation)) return undefined;
  const m = profileMechanism(profile, realisation);
  mechanisms.set(name, m);
  return m;
}

// ---- the composite mechanism ----

export interface ProfileHandle {
  inner: unknown;
}

export interface ProfileMechanism extends Mechanism<ProfileHandle> {
  readonly profile: Profile;
  readonly realisation: string;
  /** Events per op each hook must at least see on the target's workload (0: the workload never reaches it). */
  expectedPerHook(target: HookTarget): Record<string, number>;
}

export function isProfileMechanism(m: Mechanism<any>): m is ProfileMechanism {
  return 'expectedPerHook' in m;
}

/** The hook's definition at one layer, before asking the kernel. */
function atLayer(name: HookName, layer: Realisation<unknown>['layer']): ResolvedHook {
  const d = HOOKS[name];
  return { name, syscalls: layer === 'syscall' ? d.syscalls : [], kernelFunction: d.kernelFunction };
}

/** A hook, or part of one, that this kernel or the realisation's tool cannot attach, and why. */
export interface MissingHook {
  hook: string;
  /** True when the hook is attached without some of its syscalls. */
  partly: boolean;
  reason: string;
}

export const describeMissing = (missing: readonly MissingHook[]) => missing.map((m) => `${m.partly ? 'part of ' : ''}${m.hook} (${m.reason})`).join('; ');

/**
 * The profile's hooks as this kernel (and the realisation's tool) offers them: syscalls it cannot hook
 * are dropped from their hook, a hook left with nothing to attach is missing; both are reported.
 */
export async function resolveHooks(profile: Profile, realisation: Realisation<unknown>): Promise<{ hooks: ResolvedHook[]; missing: MissingHook[] }> {
  const hooks: ResolvedHook[] = [];
  const missing: MissingHook[] = [];
  for (const name of profile.hooks) {
    const hook = atLayer(name, realisation.layer);
    if (realisation.layer === 'function') {
      if (kernelHasFunction(hook.kernelFunction)) hooks.push(hook);
      else missing.push({ hook: name, partly: false, reason: `kernel function ${hook.kernelFunction} not on this kernel` });
      continue;
    }
    if (hook.syscalls.length === 0) {
      missing.push({ hook: name, partly: false, reason: 'a kernel function only: no syscall to hook' });
      continue;
    }
    const present: SyscallName[] = [];
    const refusals: string[] = [];
    for (const s of hook.syscalls) {
      const refused = (await kernelHasSyscall(s)) ? ((await realisation.syscallRefused?.(s)) ?? null) : `this kernel does not implement ${s}`;
      if (refused === null) present.push(s);
      else refusals.push(refused);
    }
    if (present.length > 0) hooks.push({ ...hook, syscalls: present });
    if (refusals.length > 0) missing.push({ hook: name, partly: present.length > 0, reason: refusals.join('; ') });
  }
  return { hooks, missing };
}

/** What each hook must see per op of `target`'s workload, from its mix. */
export function expectedPerHook(profile: Profile, realisation: Realisation<unknown>, target: HookTarget): Record<string, number> {
  const mix = mixOf(target);
  const calls = (syscalls: readonly SyscallName[]) => syscalls.reduce((n, s) => n + (mix[s] ?? 0), 0);
  return Object.fromEntries(
    profile.hooks.map((name) => {
      const d = HOOKS[name];
      return [name, realisation.layer === 'syscall' ? realisation.eventsPerCall * calls(d.syscalls) : calls(d.reachedBy)];
    }),
  );
}

/**
 * Why a probed run's per-hook counts disqualify it, or null: every hook the workload reaches must have
 * counted at least 0.99 of what its mix says (the same rule as a single mechanism's cell). Hooks it
 * never reaches are not checked: other processes may reach them.
 */
export function perHookInvalidReason(perHook: Readonly<Record<string, number>>, ops: number, expected: Readonly<Record<string, number>>): string | null {
  const short = Object.entries(expected)
    .filter(([hook, perOp]) => perOp > 0 && (perHook[hook] ?? 0) / ops < 0.99 * perOp)
    .map(([hook, perOp]) => `${hook} ${((perHook[hook] ?? 0) / ops).toFixed(3)}/op (expected ${perOp})`);
  return short.length === 0 ? null : `hooks that fired less than the workload's mix: ${short.join(', ')}`;
}

function profileMechanism(profile: Profile, realisation: Realisation<unknown>): ProfileMechanism {
  const name = `${profile.name}/${realisation.name}`;
  // What this kernel offers of the profile: resolved once per process (at detect, or the first attach).
  let resolution: Promise<Awaited<ReturnType<typeof resolveHooks>>> | null = null;
  let resolved: Awaited<ReturnType<typeof resolveHooks>> | null = null;
  const resolve = () => {
    resolution ??= resolveHooks(profile, realisation).then(
      (r) => ((resolved = r), r),
      (err: unknown) => {
        resolution = null;
        throw err;
      },
    );
    return resolution;
  };
  const declared = () => profile.hooks.map((h) => atLayer(h, realisation.layer)).filter((h) => realisation.layer === 'function' || h.syscalls.length > 0);
  const mechanism: ProfileMechanism = {
    name,
    family: realisation.family,
    summary: `hook profile ${profile.name} (${profile.hooks.length} hooks): ${realisation.summary}`,
    profile,
    realisation: realisation.name,
    // Once the kernel was asked (detect runs before any cell), the hook point is what is attached here
    // and names what the kernel lacks.
    hookPoint: () => {
      const lacking = (resolved?.missing ?? []).filter((m) => !m.partly).map((m) => m.hook);
      const attached = resolved && resolved.hooks.length > 0 ? resolved.hooks : declared();
      return `${realisation.describe(attached)}${lacking.length > 0 ? `; not on this kernel: ${lacking.join(', ')}` : ''}`;
    },
    expectedPerHook: (t) => expectedPerHook(profile, realisation, t),
    expectedPerOp: (t) => Object.values(expectedPerHook(profile, realisation, t)).reduce((a, b) => a + b, 0),
    detect: async (ctx) => {
      const { hooks, missing } = await resolve();
      if (hooks.length === 0) return { supported: false, reason: `none of the profile's hooks can be attached here: ${describeMissing(missing)}` };
      const support = await realisation.detect(ctx, () => detectByAttaching(mechanism, ctx));
      return support.supported && missing.length > 0 ? { ...support, reason: `${support.reason}; not hooked on this kernel: ${describeMissing(missing)}` } : support;
    },
    attach: async (target: HookTarget, ctx: AttachContext): Promise<ProfileHandle> => {
      const { hooks, missing } = await resolve();
      if (hooks.length === 0) throw new Error(`${name}: none of the profile's hooks can be attached here: ${describeMissing(missing)}`);
      return { inner: await realisation.attach(hooks, ctx, target) };
    },
    scope: (h: ProfileHandle, workload: WorkloadProcess) => realisation.scope(h.inner, workload),
    count: async (h: ProfileHandle, workload: WorkloadProcess): Promise<ProbeCount> => {
      const c = await realisation.count(h.inner, workload);
      return {
        events: c.events,
        perHook: c.perHook,
        ...(c.inProgramNs === undefined ? {} : { inProgramNs: c.inProgramNs }),
        ...(c.startupMs === undefined ? {} : { startupMs: c.startupMs }),
        ...(c.note ? { note: c.note } : {}),
      };
    },
    detach: (h) => realisation.detach(h.inner),
  };
  return mechanism;
}
