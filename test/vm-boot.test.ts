import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ResultsSchema } from '../bench/results.js';
import { KVM_PROBE_TIMEOUT_S, probeKvm } from '../vm/accel.js';
import { defaultKernelCache } from '../vm/debianKernel.js';
import { VmRunError } from '../vm/errors.js';
import { hookbenchGuestCommand } from '../vm/guestCommand.js';
import { GUEST_RESULTS_DIR } from '../vm/initScript.js';
import { parseKernelSpecs, resolveKernel, type ResolvedKernel } from '../vm/kernels.js';
import { runInVm, type VmRunRequest } from '../vm/run.js';

/**
 * Real guests under TCG: Debian's 6.1 booted with the host's root, a kprobe that fires in it, a real
 * `hookbench run` of kprobe, kretprobe and ftrace inside, and every way a guest can fail, each leaving
 * no qemu behind.
 */
let kernel: ResolvedKernel;
const scratch = (): string => mkdtempSync(join(tmpdir(), 'hookbench-vm-boot-'));

/** Processes whose command line mentions this (unique) path: the qemu of one test, if it survived. */
function processesMentioning(path: string): number[] {
  return readdirSync('/proc')
    .filter((p) => /^\d+$/.test(p) && Number(p) !== process.pid)
    .filter((p) => {
      try {
        return readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(path);
      } catch {
        return false;
      }
    })
    .map(Number);
}

const request = (resultsDir: string, guestCommand: string[], timeoutS = 120): VmRunRequest => ({
  kernel,
  memoryMiB: 2048,
  cpus: 2,
  accel: 'tcg',
  guestCommand,
  resultsDir,
  timeoutS,
});

beforeAll(async () => {
  kernel = await resolveKernel(parseKernelSpecs(['6.1'], [])[0]!, { cacheDir: defaultKernelCache(), log: () => {} });
}, 300_000);

describe('a Debian 6.1 guest under TCG', () => {
  it('runs a command on the host root with a working tracefs kprobe and brings its files back', async () => {
    const dir = scratch();
    const script = [
      'set -e',
      'T=/sys/kernel/tracing',
      'echo "p:hbvmtest do_mprotect_pkey" >> $T/kprobe_events',
      'echo 1 > $T/events/kprobes/hbvmtest/enable',
      '/bin/true',
      'echo 0 > $T/events/kprobes/hbvmtest/enable',
      `awk '$1 == "hbvmtest" { print $2 }' $T/kprobe_profile > ${GUEST_RESULTS_DIR}/hits`,
      'echo "-:hbvmtest" >> $T/kprobe_events',
      `cat $T/kprobe_events > ${GUEST_RESULTS_DIR}/left`,
      `node -e 'require("fs").writeFileSync("${GUEST_RESULTS_DIR}/guest.json", JSON.stringify({ release: require("os").release(), accel: process.env.HOOKBENCH_ACCEL, cwd: process.cwd() }))'`,
    ].join('\n');
    const r = await runInVm(request(dir, ['/bin/sh', '-c', script]));
    expect(r.exitCode, r.consoleTail.join('\n')).toBe(0);
    const guest = JSON.parse(readFileSync(join(dir, 'guest.json'), 'utf8'));
    expect(guest).toEqual({ release: kernel.release, accel: 'tcg', cwd: process.cwd() });
    expect(Number(readFileSync(join(dir, 'hits'), 'utf8'))).toBeGreaterThan(0);
    expect(readFileSync(join(dir, 'left'), 'utf8')).toBe('');
    expect(r.bootS).toBeGreaterThan(0);
    expect(r.bootS).toBeLessThan(30);
    expect(r.runS).toBeGreaterThan(0);
    expect(existsSync(r.consoleLog)).toBe(true);
    expect(processesMentioning(dir)).toEqual([]);
  }, 150_000);

  it('runs one short hookbench cell each of kprobe, kretprobe and ftrace on mprotect, and they fire', async () => {
    const dir = scratch();
    const args = ['run', '--mechanisms', 'kprobe,kretprobe,ftrace', '--workloads', 'mprotect', '--min-rounds', '15', '--max-rounds', '15', '--max-time', '5', '--run-ms', '50', '--out', GUEST_RESULTS_DIR];
    const r = await runInVm(request(dir, hookbenchGuestCommand(args), 280));
    expect([0, 1, 3], r.consoleTail.join('\n')).toContain(r.exitCode);
    const results = ResultsSchema.parse(JSON.parse(readFileSync(join(dir, 'results.json'), 'utf8')));
    expect(results.environment.kernelRelease).toBe(kernel.release);
    expect(results.environment.accel).toBe('tcg');
    expect(results.cells.map((c) => c.mechanism).sort()).toEqual(['ftrace', 'kprobe', 'kretprobe']);
    for (const cell of results.cells) {
      expect(cell.verdict, `${cell.mechanism}: ${cell.reason}`).not.toMatch(/UNSUPPORTED|ERROR|INVALID/);
      expect(cell.rounds.length).toBeGreaterThan(0);
      for (const round of cell.rounds) expect(round.probed.events! / round.probed.ops, cell.mechanism).toBeGreaterThanOrEqual(0.99);
    }
    expect(existsSync(join(dir, 'rounds.jsonl'))).toBe(true);
  }, 300_000);
});

describe('a guest that cannot run', () => {
  it('fails cleanly on a file that is not a kernel, naming it, with no qemu left', async () => {
    const dir = scratch();
    const notKernel = join(dir, 'vmlinuz');
    writeFileSync(notKernel, 'this is not a kernel\n'.repeat(1000));
    const err = await runInVm({ ...request(join(dir, 'results'), ['/bin/true']), kernel: { ...kernel, label: notKernel, bootImage: notKernel } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(VmRunError);
    expect((err as VmRunError).kind).toBe('qemu-failed');
    expect((err as VmRunError).message).toContain(notKernel);
    expect((err as VmRunError).consoleTail.join('\n')).toMatch(/qemu/);
    expect(processesMentioning(dir)).toEqual([]);
  });

  // The guest command never ends, so the timeout is certain; where it struck depends on how fast this
  // machine boots under TCG (a fast CI machine reached init and ran a command within 3 s).
  it('times out, kills qemu and says where the guest was', async () => {
    const dir = scratch();
    const started = Date.now();
    const err = await runInVm(request(dir, ['/bin/sleep', '600'], 3)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(VmRunError);
    expect((err as VmRunError).kind).toBe('timeout');
    expect((err as VmRunError).message).toMatch(new RegExp(`kernel ${kernel.label}: timed out after 3 s (before the guest command started|while the guest command ran); qemu killed`));
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(processesMentioning(dir)).toEqual([]);
  });

  it('leaves no qemu behind when the host process is SIGKILLed mid-boot', async () => {
    const dir = scratch();
    const script = `
      import { runInVm } from ${JSON.stringify(join(process.cwd(), 'dist/vm/run.js'))};
      await runInVm(${JSON.stringify(request(dir, ['/bin/sleep', '60']))});`;
    const host = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: 'ignore' });
    const deadline = Date.now() + 20_000;
    while (processesMentioning(dir).filter((p) => p !== host.pid).length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(processesMentioning(dir).filter((p) => p !== host.pid).length).toBeGreaterThan(0);
    host.kill('SIGKILL');
    const gone = Date.now() + 5_000;
    while (processesMentioning(dir).length > 0 && Date.now() < gone) await new Promise((r) => setTimeout(r, 100));
    expect(processesMentioning(dir)).toEqual([]);
  });
});

describe('the KVM probe', () => {
  it('decides within its timeout and leaves no qemu behind', async () => {
    const started = Date.now();
    const probe = await probeKvm(kernel);
    expect(Date.now() - started).toBeLessThan((KVM_PROBE_TIMEOUT_S + 5) * 1000);
    expect(probe.detail).toMatch(probe.works ? /reached its init/ : /KVM|kvm/);
    expect(processesMentioning('hookbench-kvm-probe-')).toEqual([]);
  }, 30_000);
});
