import { accessSync, constants, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bootGuest } from './boot.js';
import { VmEnvironmentError } from './errors.js';
import type { ResolvedKernel } from './kernels.js';
import type { Accel } from './qemu.js';

export const ACCEL_CHOICES = ['auto', 'kvm', 'tcg'] as const;
export type AccelChoice = (typeof ACCEL_CHOICES)[number];

export interface AccelDecision {
  accel: Accel;
  /** Why, in one line: printed to the user and kept with the results. */
  reason: string;
}

/**
 * Seconds a KVM guest gets to reach the init. Under KVM that takes about a second; where nested
 * virtualisation is broken (this machine) the guest spins at "Booting from ROM" forever.
 */
export const KVM_PROBE_TIMEOUT_S = 10;

export interface KvmProbe {
  works: boolean;
  detail: string;
}

/** A short KVM boot of the kernel, killed as soon as the init announces itself or the time is up. */
export async function probeKvm(kernel: ResolvedKernel): Promise<KvmProbe> {
  try {
    accessSync('/dev/kvm', constants.R_OK | constants.W_OK);
  } catch {
    return { works: false, detail: '/dev/kvm is not usable' };
  }
  const scratch = mkdtempSync(join(tmpdir(), 'hookbench-kvm-probe-'));
  try {
    const boot = await bootGuest({
      kernel,
      accel: 'kvm',
      memoryMiB: 512,
      cpus: 1,
      resultsDir: scratch,
      consoleLog: join(scratch, 'console.log'),
      timeoutS: KVM_PROBE_TIMEOUT_S,
      stopAt: 'init',
    });
    const at = boot.stages.init;
    if (at !== undefined) return { works: true, detail: `a KVM guest reached its init in ${at.toFixed(1)} s` };
    if (boot.timedOut) return { works: false, detail: `a KVM guest did not reach its init within ${KVM_PROBE_TIMEOUT_S} s` };
    return { works: false, detail: `qemu -accel kvm failed: ${boot.tail.at(-1) ?? `exit ${boot.exitCode}`}` };
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

/**
 * KVM only when a probe boot proves it works; TCG otherwise, with the reason. An explicit `--accel kvm`
 * that fails its probe is an error, never a silent downgrade.
 */
export async function chooseAccel(choice: AccelChoice, kernel: ResolvedKernel): Promise<AccelDecision> {
  if (choice === 'tcg') return { accel: 'tcg', reason: 'TCG as requested (--accel tcg)' };
  const probe = await probeKvm(kernel);
  if (probe.works) return { accel: 'kvm', reason: probe.detail };
  if (choice === 'kvm') throw new VmEnvironmentError(`--accel kvm: ${probe.detail}`);
  return { accel: 'tcg', reason: `TCG, because ${probe.detail}` };
}
