import { HOST_ROOT_TAG, RESULTS_TAG } from './initScript.js';

export const ACCELS = ['kvm', 'tcg'] as const;
export type Accel = (typeof ACCELS)[number];

export const QEMU_BINARY = 'qemu-system-x86_64';

export interface QemuConfig {
  accel: Accel;
  /** A bzImage, or an ELF vmlinux with a PVH entry note. */
  kernelImage: string;
  initramfs: string;
  memoryMiB: number;
  cpus: number;
  /** Host directory the guest mounts read-write at GUEST_RESULTS_DIR. */
  resultsDir: string;
  /** The guest's active LSMs (`lsm=`), or null for the kernel's built-in list (guestLsmList). */
  lsm?: string | null;
}

/** An LSM list as the kernel's lsm= takes it: names, commas, nothing else. */
const LSM_LIST = /^[a-z]+(,[a-z]+)*$/;

/**
 * The kernel's own LSM order (CONFIG_LSM), with bpf added at the end where it lacks it (Debian's has it),
 * so BPF LSM programs can be measured in the guest; null where the kernel has no BPF LSM (CONFIG_BPF_LSM) or its config does not say.
 */
export function guestLsmList(config: string): string | null {
  if (!/^CONFIG_BPF_LSM=y$/m.test(config)) return null;
  const order = /^CONFIG_LSM="([^"]*)"$/m.exec(config)?.[1];
  if (order === undefined || (order !== '' && !LSM_LIST.test(order))) return null;
  const names = order === '' ? [] : order.split(',');
  return names.includes('bpf') ? order : [...names, 'bpf'].join(',');
}

/** qemu's option syntax splits on commas; a literal comma in a value is written twice. */
const optionValue = (value: string): string => value.replace(/,/g, ',,');

/**
 * The kernel command line. `loglevel=5` keeps the slow emulated serial port for warnings and worse (a
 * stuck CPU's backtrace among them). `panic=-1` with -no-reboot turns a panic into qemu exiting, and
 * `softlockup_panic=1` a guest CPU stuck in the kernel (seen under TCG) into a panic: a clear failure
 * with its backtrace in half a minute instead of a silent hang until the timeout.
 */
export function kernelAppend(accel: Accel, lsm: string | null = null): string {
  if (lsm !== null && !LSM_LIST.test(lsm)) throw new Error(`refusing LSM list ${JSON.stringify(lsm)}`);
  return `console=ttyS0 loglevel=5 panic=-1 softlockup_panic=1 hookbench.accel=${accel}${lsm ? ` lsm=${lsm}` : ''}`;
}

/**
 * `-accel tcg,thread=single` runs every vCPU on one host thread. Multi-threaded TCG lets one vCPU run
 * code another has just live-patched (text_poke of jump labels, kprobes, ftrace): Debian's 6.12 died
 * here of "Oops: int3" in __schedule and 6.1 of a soft lockup while hookbench attached probes.
 */
const accelOption = (accel: Accel): string => (accel === 'tcg' ? 'tcg,thread=single' : 'kvm');

/**
 * The qemu command line. Under TCG `-cpu max` gives the guest every feature TCG emulates; under KVM the
 * default model, because here `host` and `max` abort on MSR 0x10a (kernel-facts.md).
 */
export function qemuArgs(c: QemuConfig): string[] {
  return [
    '-accel', accelOption(c.accel),
    ...(c.accel === 'tcg' ? ['-cpu', 'max'] : []),
    '-m', String(c.memoryMiB),
    '-smp', String(c.cpus),
    '-nographic',
    '-nodefaults',
    '-serial', 'stdio',
    '-no-reboot',
    '-kernel', c.kernelImage,
    '-initrd', c.initramfs,
    '-append', kernelAppend(c.accel, c.lsm ?? null),
    '-virtfs', `local,path=/,mount_tag=${HOST_ROOT_TAG},security_model=none,readonly=on,multidevs=remap`,
    '-virtfs', `local,path=${optionValue(c.resultsDir)},mount_tag=${RESULTS_TAG},security_model=none`,
  ];
}
