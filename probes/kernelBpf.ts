import { existsSync, readFileSync } from 'node:fs';
import { execa } from 'execa';

/**
 * What the kernel must offer before a BPF program of a given attach type can be placed, checked up
 * front so an unsupported attach type is reported in the kernel's terms rather than as a bare errno.
 */
const SECURITYFS = '/sys/kernel/security';
export const VMLINUX_BTF = '/sys/kernel/btf/vmlinux';

function isSecurityfsMounted(): boolean {
  return readFileSync('/proc/mounts', 'utf8')
    .split('\n')
    .some((line) => line.split(' ')[1] === SECURITYFS && line.split(' ')[2] === 'securityfs');
}

/** securityfs is mounted if needed and left mounted, like tracefs: it changes no security state. */
async function ensureSecurityfs(): Promise<void> {
  if (isSecurityfsMounted()) return;
  const r = await execa('mount', ['-t', 'securityfs', 'securityfs', SECURITYFS], { reject: false });
  if (r.exitCode !== 0) throw new Error(`cannot mount securityfs: ${r.stderr.trim() || r.exitCode}`);
}

/** BPF LSM programs run only where `bpf` is among the active LSMs (the lsm= boot parameter). */
export async function assertBpfLsmActive(): Promise<void> {
  await ensureSecurityfs();
  const active = readFileSync(`${SECURITYFS}/lsm`, 'utf8').trim();
  if (!active.split(',').includes('bpf')) throw new Error(`BPF LSM is not active: 'bpf' is not in ${SECURITYFS}/lsm (${active}); boot with lsm=...,bpf`);
}

/** Attach types resolved against the kernel's BTF (tp_btf, fentry, fexit, fmod_ret, lsm) need it. */
export async function assertVmlinuxBtf(): Promise<void> {
  if (!existsSync(VMLINUX_BTF)) throw new Error(`no ${VMLINUX_BTF}: the kernel was built without CONFIG_DEBUG_INFO_BTF`);
}

/**
 * kprobe and uprobe programs through the kernel's perf PMU, whose events die with their fd. Without
 * the PMU libbpf falls back to legacy events in tracefs's kprobe_events/uprobe_events, which are not
 * tagged hookbench and would outlive a SIGKILL: that fallback is refused.
 */
export async function assertProbePmu(pmu: 'kprobe' | 'uprobe'): Promise<void> {
  const type = `/sys/bus/event_source/devices/${pmu}/type`;
  if (!existsSync(type)) {
    const config = pmu === 'kprobe' ? 'CONFIG_KPROBE_EVENTS' : 'CONFIG_UPROBE_EVENTS';
    throw new Error(`no ${pmu} PMU (${type} is absent; ${config} not set): libbpf would fall back to legacy tracefs events, which outlive a SIGKILL`);
  }
}

/** The kernel lockdown mode in force (`[integrity]` etc.), or null where securityfs has no lockdown file. */
export async function lockdownMode(): Promise<string | null> {
  try {
    await ensureSecurityfs();
    return /\[(\w+)\]/.exec(readFileSync(`${SECURITYFS}/lockdown`, 'utf8'))?.[1] ?? null;
  } catch {
    return null;
  }
}
