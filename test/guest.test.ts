import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../bench/repo.js';
import { defaultKernelCache } from '../vm/debianKernel.js';
import { shellQuote } from '../vm/guestCommand.js';
import { GUEST_RESULTS_DIR } from '../vm/initScript.js';
import { parseKernelSpecs, resolveKernel, type ResolvedKernel } from '../vm/kernels.js';
import { runInVm, type VmRunResult } from '../vm/run.js';

/**
 * The kernel-dependent test files again, inside a stock Debian kernel booted by `hookbench vm`'s own
 * machinery (TCG, the host's root read-only under a tmpfs overlay). There kprobe, kretprobe and ftrace
 * exist, and BPF trampolines (fentry, fexit, fmod_ret, lsm), so their tests run rather than skip: exact
 * counts on mprotect, none on null, the journal's undo alone leaving nothing, and `hookbench cleanup`
 * after a real SIGKILL of a run. `make test-guest` runs this
 * file alone; HOOKBENCH_TEST_GUEST_KERNEL picks another Debian line or package (default 6.1).
 */
const KERNEL = process.env.HOOKBENCH_TEST_GUEST_KERNEL || '6.1';
/**
 * What runs in the guest. The bpftrace files and the fault trials stay on the host: under TCG a
 * bpftrace start takes tens of seconds and a CLI run about a minute, and they have dozens of each.
 * cleanup.test.ts is the guest's share of the fault trials: a real SIGKILL per mechanism, then cleanup.
 */
const GUEST_TEST_FILES = ['test/mechanisms.test.ts', 'test/mechanisms-bare-bpf.test.ts', 'test/profiles.test.ts', 'test/cleanup.test.ts', 'test/environment.test.ts'];
/** The mechanisms the guest exists for: the host kernel may lack them; Debian's kernels have them. */
const GUEST_MECHANISMS = ['kprobe', 'kretprobe', 'ftrace', 'uprobe'];
/** Bare BPF attach types every Debian kernel from 6.1 on has (kprobe.multi needs 6.12's CONFIG_FPROBE). */
const GUEST_BARE_BPF = ['bpf-tp', 'bpf-raw-tp', 'bpf-tp-btf', 'bpf-kprobe', 'bpf-kretprobe', 'bpf-fentry', 'bpf-fexit', 'bpf-fmod-ret', 'bpf-lsm', 'bpf-uprobe'];
const TIMEOUT_S = 40 * 60;

interface AssertionResult {
  ancestorTitles: string[];
  title: string;
  fullName: string;
  status: 'passed' | 'failed' | 'skipped' | 'pending' | 'todo' | 'disabled';
}
interface VitestJson {
  numPassedTests: number;
  numFailedTests: number;
  numPendingTests: number;
  testResults: { name: string; assertionResults: AssertionResult[] }[];
}

let kernel: ResolvedKernel;
let run: VmRunResult;
let report: VitestJson;
let release: string;

/** One test's status in the guest's report, by file and a pattern on its full name. */
function statuses(file: string, fullName: RegExp): string[] {
  const results = report.testResults.find((r) => r.name === resolve(repoRoot(), file))?.assertionResults ?? [];
  return results.filter((a) => fullName.test(a.fullName)).map((a) => a.status);
}

beforeAll(async () => {
  kernel = await resolveKernel(parseKernelSpecs([KERNEL], [])[0]!, { cacheDir: defaultKernelCache(), log: (l) => console.log(l) });
  const dir = mkdtempSync(join(tmpdir(), 'hookbench-guest-tests-'));
  const vitest = resolve(repoRoot(), 'node_modules/vitest/vitest.mjs');
  const reporters = ['--reporter=default', '--reporter=./test/endReporter.ts', '--reporter=json', `--outputFile.json=${GUEST_RESULTS_DIR}/vitest.json`];
  const script = [`uname -r > ${GUEST_RESULTS_DIR}/release`, `exec ${[process.execPath, vitest, 'run', ...GUEST_TEST_FILES, ...reporters].map(shellQuote).join(' ')}`].join('\n');
  run = await runInVm({
    kernel,
    memoryMiB: 3072,
    cpus: 2,
    accel: 'tcg',
    guestCommand: ['/bin/sh', '-c', script],
    guestCwd: repoRoot(),
    resultsDir: dir,
    timeoutS: TIMEOUT_S,
    // The guest's own test output, as it runs: its skip list and failures are read here.
    onConsoleLine: (line) => process.stdout.write(`guest| ${line}\n`),
  });
  report = JSON.parse(readFileSync(join(dir, 'vitest.json'), 'utf8')) as VitestJson;
  release = readFileSync(join(dir, 'release'), 'utf8').trim();
  console.log(`guest test run on ${kernel.label} (${release}): boot ${run.bootS.toFixed(1)} s, tests ${(run.runS / 60).toFixed(1)} min; ${report.numPassedTests} passed, ${report.numFailedTests} failed, ${report.numPendingTests} skipped`);
}, (TIMEOUT_S + 300) * 1000);

describe(`the kernel-dependent tests in a Debian ${KERNEL} guest`, () => {
  it('ran on the guest kernel and all passed', () => {
    if (kernel.release) expect(release).toBe(kernel.release);
    expect(report.testResults.map((r) => r.name).sort()).toEqual(GUEST_TEST_FILES.map((f) => resolve(repoRoot(), f)).sort());
    expect(report.numFailedTests).toBe(0);
    expect(run.exitCode).toBe(0);
  });

  for (const name of GUEST_MECHANISMS) {
    it(`${name}: exact count on mprotect, none on null, the journal's undo and cleanup after SIGKILL ran there (not skipped) and passed`, () => {
      const file = 'test/mechanisms.test.ts';
      expect(statuses(file, new RegExp(`^${name} fires .* per op on mprotect`))).toEqual(['passed']);
      expect(statuses(file, new RegExp(`^${name} does not fire on null`))).toEqual(['passed']);
      expect(statuses(file, new RegExp(`^${name} journals everything it creates`))).toEqual(['passed']);
      expect(statuses('test/cleanup.test.ts', new RegExp(`^a run SIGKILLed while its probe is attached ${name}: `))).toEqual(['passed']);
    });
  }

  for (const name of GUEST_BARE_BPF) {
    it(`${name}: exact counts on mprotect, open and execve, none on null, the journal's undo ran there (not skipped) and passed`, () => {
      const file = 'test/mechanisms-bare-bpf.test.ts';
      expect(statuses(file, new RegExp(`^${name} counts 1 per op on`))).toEqual(['passed', 'passed', 'passed']);
      expect(statuses(file, new RegExp(`^${name} counts nothing on null`))).toEqual(['passed']);
      expect(statuses(file, new RegExp(`^${name} journals its loader`))).toEqual(['passed']);
    });
  }

  it('bpf-kprobe-multi: measured there, or refused with the kernel\'s reason', () => {
    const file = 'test/mechanisms-bare-bpf.test.ts';
    const measured = statuses(file, /^bpf-kprobe-multi counts 1 per op on mprotect/);
    const refused = statuses(file, /^bpf-kprobe-multi detect\(\) gives/);
    expect([...measured, ...refused].sort()).toEqual(['passed', 'skipped']);
  });

  it('elkeid-default realised with kprobes, tracefs and bare BPF, counted per hook there', () => {
    expect(statuses('test/profiles.test.ts', /elkeid-default\/kprobe: every hook/)).toEqual(['passed']);
    expect(statuses('test/profiles.test.ts', /elkeid-default\/bpf-kprobe: every hook/)).toEqual(['passed']);
  });
});
