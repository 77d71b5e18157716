import { execa } from 'execa';
import { readdir, readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { hookbenchManifest, repoRoot } from './repo.js';
import type { Environment } from './results.js';

/**
 * The machine a run measured: kernel, its hook-related config, CPU, virtualisation and tool
 * versions. Every probe is best effort: anything this machine does not have or will not tell is
 * null (or absent from a map), and collecting never throws: each file read and each command goes
 * through `orNull`.
 */

/** Kernel config symbols that decide which hook mechanisms can exist (every PREEMPT* is added). */
export const CONFIG_FLAGS = [
  'KPROBES',
  'KPROBE_EVENTS',
  'UPROBES',
  'UPROBE_EVENTS',
  'FTRACE',
  'FUNCTION_TRACER',
  'DYNAMIC_FTRACE',
  'FTRACE_SYSCALLS',
  'BPF_SYSCALL',
  'BPF_EVENTS',
  'BPF_JIT',
  'BPF_LSM',
  'DEBUG_INFO_BTF',
  'AUDIT',
  'AUDITSYSCALL',
  'SECURITY',
  'FPROBE',
  'PREEMPT',
  'PREEMPT_DYNAMIC',
  'PREEMPT_RT',
] as const;

const TOOL_TIMEOUT_MS = 5_000;
const SECURITYFS = '/sys/kernel/security';
const CPU_SYSFS = '/sys/devices/system/cpu';

async function orNull<T>(probe: () => Promise<T | null>): Promise<T | null> {
  try {
    return await probe();
  } catch {
    return null;
  }
}

async function readTrimmed(file: string): Promise<string | null> {
  return orNull(async () => (await readFile(file, 'utf8')).trim());
}

/** First line a command prints (stdout, else stderr), or null when it is missing or fails silently. */
async function firstLineOf(command: string, args: readonly string[], cwd?: string): Promise<string | null> {
  return orNull(async () => {
    const result = await execa(command, args, { cwd, reject: false, timeout: TOOL_TIMEOUT_MS, stdin: 'ignore' });
    const line = `${result.stdout}\n${result.stderr}`.trim().split('\n')[0]?.trim();
    return line && !result.failed ? line : null;
  });
}

/**
 * `CONFIG_X=v` -> X: v; `# CONFIG_X is not set` -> X: 'n'. Quotes around string values are kept
 * off. Used for /proc/config.gz and /boot/config-*.
 */
export function parseKernelConfig(text: string): Map<string, string> {
  const symbols = new Map<string, string>();
  for (const line of text.split('\n')) {
    const set = /^CONFIG_(\w+)=(.*)$/.exec(line);
    if (set) symbols.set(set[1], set[2].replace(/^"(.*)"$/, '$1'));
    const unset = /^# CONFIG_(\w+) is not set$/.exec(line);
    if (unset) symbols.set(unset[1], 'n');
  }
  return symbols;
}

async function readKernelConfig(): Promise<Map<string, string> | null> {
  const fromProc = await orNull(async () => gunzipSync(await readFile('/proc/config.gz')).toString('utf8'));
  const text = fromProc ?? (await readTrimmed(`/boot/config-${os.release()}`));
  return text === null ? null : parseKernelConfig(text);
}

/**
 * The hook-relevant flags. With a readable config a symbol it does not mention is 'n': Kconfig
 * leaves out symbols whose dependencies are unmet (KPROBE_EVENTS without KPROBES) or that this
 * kernel version does not have. Null means the config itself could not be read.
 */
export function selectConfigFlags(config: Map<string, string> | null): Record<string, string | null> {
  const preempt = config ? [...config.keys()].filter((symbol) => symbol.startsWith('PREEMPT')) : [];
  const flags: Record<string, string | null> = {};
  for (const symbol of new Set([...CONFIG_FLAGS, ...preempt].sort())) flags[symbol] = config ? (config.get(symbol) ?? 'n') : null;
  return flags;
}

/** `none [integrity] confidentiality` -> 'integrity'. */
export function parseLockdown(text: string): string | null {
  return /\[(\w+)\]/.exec(text)?.[1] ?? null;
}

async function securityfsMounted(): Promise<boolean> {
  const mounts = (await readTrimmed('/proc/self/mounts')) ?? '';
  return mounts.split('\n').some((line) => line.split(' ')[1] === SECURITYFS);
}

/** Lockdown mode; securityfs is mounted first if it is not (harmless, and left mounted). */
async function lockdownMode(): Promise<string | null> {
  if (!(await securityfsMounted())) await firstLineOf('mount', ['-t', 'securityfs', 'securityfs', SECURITYFS]);
  const text = await readTrimmed(path.join(SECURITYFS, 'lockdown'));
  return text === null ? null : parseLockdown(text);
}

async function cpuModel(): Promise<string> {
  const fromNode = os.cpus()[0]?.model?.trim();
  if (fromNode) return fromNode;
  const cpuinfo = (await readTrimmed('/proc/cpuinfo')) ?? '';
  return /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1]?.trim() ?? 'unknown';
}

async function detectVirt(kind: '--vm' | '--container'): Promise<string | null> {
  const answer = await firstLineOf('systemd-detect-virt', [kind]);
  return answer && answer !== 'none' ? answer : null;
}

/**
 * Without systemd-detect-virt, the cpuinfo `hypervisor` flag says there is one, and the DMI vendor
 * (QEMU, VMware, ...) may say which; the vendor alone proves nothing, bare metal has one too.
 */
async function flaggedHypervisor(): Promise<string | null> {
  const cpuinfo = (await readTrimmed('/proc/cpuinfo')) ?? '';
  if (!/^flags\s*:.*\bhypervisor\b/m.test(cpuinfo)) return null;
  const vendor = await readTrimmed('/sys/class/dmi/id/sys_vendor');
  return vendor ? `hypervisor (DMI vendor ${vendor})` : 'hypervisor (unidentified)';
}

/** E.g. 'kvm', 'kvm, container docker', 'hypervisor (DMI vendor QEMU)'; null on bare metal. */
async function virtualization(): Promise<string | null> {
  const [vm, container] = await Promise.all([detectVirt('--vm'), detectVirt('--container')]);
  const hypervisor = vm ?? (await flaggedHypervisor());
  const parts = [hypervisor, container && `container ${container}`].filter((part): part is string => Boolean(part));
  return parts.length > 0 ? parts.join(', ') : null;
}

/** Each file under /sys/devices/system/cpu/vulnerabilities: the kernel's own one-line status. */
async function mitigations(): Promise<Record<string, string>> {
  const dir = path.join(CPU_SYSFS, 'vulnerabilities');
  const names = (await orNull(() => readdir(dir))) ?? [];
  const entries = await Promise.all(names.sort().map(async (name) => [name, await readTrimmed(path.join(dir, name))] as const));
  return Object.fromEntries(entries.filter((entry): entry is readonly [string, string] => entry[1] !== null));
}

/** The cpufreq governor; several distinct ones are joined with ','; null without cpufreq (most VMs). */
async function governor(): Promise<string | null> {
  const cpus = ((await orNull(() => readdir(CPU_SYSFS))) ?? []).filter((name) => /^cpu\d+$/.test(name));
  const governors = await Promise.all(cpus.map((cpu) => readTrimmed(path.join(CPU_SYSFS, cpu, 'cpufreq/scaling_governor'))));
  const distinct = [...new Set(governors.filter((g): g is string => g !== null))];
  return distinct.length > 0 ? distinct.join(',') : null;
}

async function tools(): Promise<Record<string, string | null>> {
  const [perf, bpftrace, auditctl, cc] = await Promise.all([
    firstLineOf('perf', ['--version']),
    firstLineOf('bpftrace', ['--version']),
    firstLineOf('auditctl', ['-v']),
    firstLineOf('cc', ['--version']),
  ]);
  return { perf, bpftrace, auditctl, node: process.version, cc };
}

async function hookbenchIdentity(): Promise<Environment['hookbench']> {
  const root = await orNull(async () => repoRoot());
  if (root === null) return { version: 'unknown', commit: null };
  const commit = await firstLineOf('git', ['rev-parse', 'HEAD'], root);
  return { version: hookbenchManifest().version ?? 'unknown', commit: commit && /^[0-9a-f]{40}$/.test(commit) ? commit : null };
}

export async function collectEnvironment(): Promise<Environment> {
  const [config, lockdown, model, virt, mitigationStates, cpufreqGovernor, toolVersions, hookbench] = await Promise.all([
    readKernelConfig(),
    lockdownMode(),
    cpuModel(),
    virtualization(),
    mitigations(),
    governor(),
    tools(),
    hookbenchIdentity(),
  ]);
  return {
    hostname: os.hostname(),
    kernelRelease: os.release(),
    kernelVersion: os.version(),
    arch: os.machine(),
    config: selectConfigFlags(config),
    lockdown,
    cpuModel: model,
    vcpus: os.cpus().length,
    memoryMiB: Math.round(os.totalmem() / 2 ** 20),
    virtualization: virt,
    accel: process.env.HOOKBENCH_ACCEL || null,
    mitigations: mitigationStates,
    governor: cpufreqGovernor,
    tools: toolVersions,
    hookbench,
  };
}
