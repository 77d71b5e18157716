import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { type BootOutcome, bootGuest } from './boot.js';
import { VmRunError } from './errors.js';
import { commandScript } from './guestCommand.js';
import { COMMAND_FILE, EXIT_STATUS_FILE, VM_META_DIR } from './initScript.js';
import type { ResolvedKernel } from './kernels.js';
import type { Accel } from './qemu.js';

export interface VmRunRequest {
  kernel: ResolvedKernel;
  memoryMiB: number;
  cpus: number;
  accel: Accel;
  /** argv run inside the guest (root = the host's root, read-only under a tmpfs overlay). */
  guestCommand: readonly string[];
  /** Working directory of the guest command; the host's current directory by default. */
  guestCwd?: string;
  /** Host directory the guest sees read-write at GUEST_RESULTS_DIR. Created if missing. */
  resultsDir: string;
  timeoutS: number;
  /** Console lines of the guest, markers excluded (the guest command's output among them). */
  onConsoleLine?: (line: string) => void;
}

export interface VmRunResult {
  /** The guest command's exit status, as the init wrote it into the results share. */
  exitCode: number;
  /** qemu start to the guest command's start: never part of any measurement. */
  bootS: number;
  /** The guest command's own duration. */
  runS: number;
  accel: Accel;
  consoleTail: string[];
  consoleLog: string;
  resultsDir: string;
}

function failure(kernel: string, boot: BootOutcome, timeoutS: number): VmRunError {
  const tail = boot.tail;
  if (boot.interrupted) return new VmRunError(kernel, 'interrupted', 'interrupted; qemu killed', tail);
  if (boot.timedOut) {
    const where = boot.stages['run-start'] !== undefined ? 'while the guest command ran' : 'before the guest command started';
    return new VmRunError(kernel, 'timeout', `timed out after ${timeoutS} s ${where}; qemu killed`, tail);
  }
  if (boot.panicLine) return new VmRunError(kernel, 'panic', `the guest kernel panicked: ${boot.panicLine}`, tail);
  if (boot.initError) return new VmRunError(kernel, 'never-ran', `the guest init failed: ${boot.initError}`, tail);
  if (boot.stages.init === undefined) {
    const how = boot.exitCode === 0 ? 'qemu exited before the guest init started' : `qemu failed (exit ${boot.exitCode})`;
    return new VmRunError(kernel, 'qemu-failed', `${how}; is it a bootable x86-64 kernel?`, tail);
  }
  if (boot.stages['run-exit'] !== undefined) {
    return new VmRunError(kernel, 'never-ran', 'the guest command ended but its exit status never reached the results share', tail);
  }
  return new VmRunError(kernel, 'never-ran', 'the guest stopped before its command finished', tail);
}

/**
 * Boots one kernel, runs one command in it and brings its exit status back. Throws VmRunError, naming
 * the kernel and showing the last console lines, whenever the command did not run to its end.
 */
export async function runInVm(req: VmRunRequest): Promise<VmRunResult> {
  const resultsDir = resolve(req.resultsDir);
  const metaDir = join(resultsDir, VM_META_DIR);
  mkdirSync(metaDir, { recursive: true });
  const statusFile = join(metaDir, EXIT_STATUS_FILE);
  rmSync(statusFile, { force: true });
  writeFileSync(join(metaDir, COMMAND_FILE), commandScript(req.guestCommand, req.guestCwd ?? process.cwd()));
  const consoleLog = join(metaDir, 'console.log');

  const boot = await bootGuest({
    kernel: req.kernel,
    accel: req.accel,
    memoryMiB: req.memoryMiB,
    cpus: req.cpus,
    resultsDir,
    consoleLog,
    timeoutS: req.timeoutS,
    onLine: req.onConsoleLine,
  });
  const start = boot.stages['run-start'];
  const end = boot.stages['run-exit'];
  if (boot.timedOut || boot.interrupted || !existsSync(statusFile) || start === undefined || end === undefined) {
    throw failure(req.kernel.label, boot, req.timeoutS);
  }
  return {
    exitCode: Number.parseInt(readFileSync(statusFile, 'utf8').trim(), 10),
    bootS: start,
    runS: end - start,
    accel: req.accel,
    consoleTail: boot.tail,
    consoleLog,
    resultsDir,
  };
}
