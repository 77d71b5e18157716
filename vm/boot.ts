import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildInitramfs } from './initramfs.js';
import { MARKER } from './initScript.js';
import type { ResolvedKernel } from './kernels.js';
import { type Accel, guestLsmList, qemuArgs } from './qemu.js';
import { type QemuOutcome, runQemu } from './qemuProcess.js';

/** What the init announces, in order (see initScript.ts). */
export type Stage = 'init' | 'modules-loaded' | 'root-ready' | 'run-start' | 'run-exit';

export interface BootRequest {
  kernel: ResolvedKernel;
  accel: Accel;
  memoryMiB: number;
  cpus: number;
  resultsDir: string;
  consoleLog: string;
  timeoutS: number;
  /** Kill the guest as soon as it reaches this stage (the KVM probe needs no more than `init`). */
  stopAt?: Stage;
  /** Every console line that is not a marker. */
  onLine?: (line: string) => void;
}

export interface BootOutcome extends QemuOutcome {
  /** Seconds from qemu's start to each stage the init reached. */
  stages: Partial<Record<Stage, number>>;
  /** What the init said when it gave up (`hookbench-vm: error ...`), if it did. */
  initError: string | null;
  /** The first line that says the kernel panicked, if one did. */
  panicLine: string | null;
}

/** Boots the kernel with hookbench's initramfs and watches the console until qemu is gone. */
export async function bootGuest(req: BootRequest): Promise<BootOutcome> {
  const scratch = mkdtempSync(join(tmpdir(), 'hookbench-initramfs-'));
  const initramfs = join(scratch, 'initramfs.cpio');
  const stages: Partial<Record<Stage, number>> = {};
  let initError: string | null = null;
  let panicLine: string | null = null;
  try {
    writeFileSync(initramfs, buildInitramfs(req.kernel.modulesDir, req.kernel.configFile));
    const lsm = req.kernel.configFile ? guestLsmList(readFileSync(req.kernel.configFile, 'utf8')) : null;
    const args = qemuArgs({ accel: req.accel, kernelImage: req.kernel.bootImage, initramfs, memoryMiB: req.memoryMiB, cpus: req.cpus, resultsDir: req.resultsDir, lsm });
    const outcome = await runQemu(args, {
      consoleLog: req.consoleLog,
      timeoutS: req.timeoutS,
      onLine: (line, elapsedS) => {
        if (panicLine === null && /Kernel panic/.test(line)) panicLine = line.trim();
        const at = line.indexOf(MARKER);
        if (at < 0) return req.onLine?.(line);
        const [stage, ...rest] = line.slice(at + MARKER.length).trim().split(' ');
        if (stage === 'error') initError = rest.join(' ');
        else stages[stage as Stage] ??= elapsedS;
        return stage === req.stopAt ? 'stop' : undefined;
      },
    });
    return { ...outcome, stages, initError, panicLine };
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}
