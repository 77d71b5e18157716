import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync, appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HOOK_TARGETS } from '../probes/hookpoints.js';
import { parseWorkloadLine } from '../bench/perfstat.js';
import { repoRoot } from '../bench/repo.js';
import { buildWorkloads, defaultSourceDir, workloadArgv, type BuiltWorkloads } from '../workloads/build.js';
import { calibrateIterations, iterationsForDuration, MIN_ITERATIONS } from '../workloads/calibrate.js';
import { formatWorkloadList, WORKLOAD_NAMES, WORKLOADS } from '../workloads/registry.js';

/** Small enough to be quick, large enough to dwarf startup: execve ops cost ~0.7 ms, the rest ~1 us. */
const SMALL_N: Record<string, number> = { mprotect: 2000, execve: 10, null: 2000, open: 2000, 'hids-mix': 10, build: 1 };

const scratch = mkdtempSync(join(tmpdir(), 'hookbench-test-workloads-'));
let built: BuiltWorkloads;

beforeAll(async () => {
  built = await buildWorkloads();
});

afterAll(() => {
  rmSync(scratch, { recursive: true, force: true });
});

function run(argv: readonly string[], env: Record<string, string> = {}) {
  return execa(argv[0], argv.slice(1), { reject: false, env });
}

describe('registry', () => {
  it('lists the four workloads, each with a source and a hook target', () => {
    expect(WORKLOAD_NAMES).toEqual(['mprotect', 'execve', 'null', 'open', 'hids-mix', 'build']);
    for (const w of WORKLOADS) {
      for (const source of [w.source, ...w.artefacts.map((a) => a.source)]) {
        expect(statSync(join(defaultSourceDir(), source)).isFile()).toBe(true);
      }
      expect(HOOK_TARGETS[w.name]?.workload).toBe(w.name);
      // The kernel keeps 15 characters of a comm: probes can match the binary name exactly.
      for (const binary of [w.binary, ...w.artefacts.map((a) => a.binary)]) expect(binary.length).toBeLessThanOrEqual(15);
    }
    expect(formatWorkloadList().split('\n').map((l) => l.split(/\s+/)[0])).toEqual([...WORKLOAD_NAMES]);
  });

  it('finds the repository root from the module', () => {
    expect(JSON.parse(readFileSync(join(repoRoot(), 'package.json'), 'utf8')).name).toBe('hookbench');
  });
});

describe('each workload, run for real', () => {
  it.each(WORKLOAD_NAMES)('%s prints one valid line with ops == N and a plausible ns', async (name) => {
    const n = SMALL_N[name];
    const started = process.hrtime.bigint();
    const child = run(workloadArgv(built, name, n));
    const r = await child;
    const wallNs = Number(process.hrtime.bigint() - started);
    expect(r.exitCode, r.stderr).toBe(0);
    const line = parseWorkloadLine(r.stdout);
    expect(line.workload).toBe(name);
    expect(line.ops).toBe(n);
    expect(line.pid).toBe(child.pid);
    // No syscall takes under 20 ns; the timed loop is part of the process's lifetime.
    expect(line.ns).toBeGreaterThan(20 * n);
    expect(line.ns).toBeLessThan(wallNs);
  });

  const badCounts = ['0', '-1', '+5', ' 5', '5 ', '5x', '1e3', '0x10', '05', '', '1000000000001', '99999999999999999999'];
  it.each(WORKLOAD_NAMES)('%s rejects a bad command line with exit 2 and one line', async (name) => {
    const path = built[name].path;
    // execve, hids-mix and build take one optional argument (a helper, a directory).
    const extras = ['execve', 'hids-mix', 'build'].includes(name) ? ['a', 'b'] : ['a'];
    for (const args of [[], ...badCounts.map((c) => [c]), ['5', ...extras]]) {
      const r = await run([path, ...args]);
      expect(r.exitCode, `${name} ${JSON.stringify(args)}`).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(new RegExp(`^${name}: `));
    }
  });

  it('exits 1 naming the call when a syscall fails', async () => {
    const exec = await run([built.execve.path, '3', join(scratch, 'no-such-child')]);
    expect(exec.exitCode).toBe(1);
    expect(exec.stderr).toMatch(/execve .*no-such-child: No such file or directory/);
    expect(exec.stdout).toBe('');

    const open = await run([built.open.path, '3'], { TMPDIR: join(scratch, 'no-such-dir') });
    expect(open.exitCode).toBe(1);
    expect(open.stderr).toMatch(/^open: mkdtemp: No such file or directory/);
  });

  it('execve finds its child beside itself when not given', async () => {
    const r = await run([built.execve.path, '3']);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(parseWorkloadLine(r.stdout).ops).toBe(3);
  });
});

describe('open leaves no temp dir behind', () => {
  it('after a normal run', async () => {
    const tmp = mkdtempSync(join(scratch, 'open-ok-'));
    const r = await run(workloadArgv(built, 'open', 500), { TMPDIR: tmp });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(readdirSync(tmp)).toEqual([]);
  });

  it('after SIGTERM mid-loop', async () => {
    const tmp = mkdtempSync(join(scratch, 'open-term-'));
    const child = run(workloadArgv(built, 'open', 1e11), { TMPDIR: tmp });
    // Wait until the directory exists, i.e. the loop is running, then stop it.
    while (readdirSync(tmp).length === 0) await new Promise((resolve) => setTimeout(resolve, 10));
    child.kill('SIGTERM');
    const r = await child;
    expect(r.signal).toBe('SIGTERM');
    expect(readdirSync(tmp)).toEqual([]);
  });
});

/** Calls of `syscall` the whole process tree made, counted by strace. */
async function straceCount(argv: readonly string[], syscall: string): Promise<number> {
  const out = join(scratch, `strace-${syscall}-${argv[1]}.txt`);
  const r = await execa('strace', ['-f', '-c', '-e', `trace=${syscall}`, '-o', out, '--', ...argv], { reject: false });
  expect(r.exitCode, r.stderr).toBe(0);
  // Summary rows: % time, seconds, usecs/call, calls, [errors], syscall.
  const row = readFileSync(out, 'utf8')
    .split('\n')
    .map((l) => l.trim().split(/\s+/))
    .find((cols) => cols.at(-1) === syscall && /^\d+$/.test(cols[3] ?? ''));
  return row ? Number(row[3]) : 0;
}

describe('each op makes exactly the hooked syscalls probes/hookpoints.ts expects (strace)', () => {
  // Counting at N and 2N cancels what process startup (ld.so, libc) calls. Multi-syscall workloads
  // (a mix) are counted with perf in workloads-mix.test.ts: hids-mix traces a child of its own,
  // which strace -f cannot share.
  it.each(Object.values(HOOK_TARGETS).filter((t) => !t.mix))('$workload: $expectedPerOp $syscall per op', async (target) => {
    const n = SMALL_N[target.workload];
    const once = await straceCount(workloadArgv(built, target.workload, n), target.syscall);
    const twice = await straceCount(workloadArgv(built, target.workload, 2 * n), target.syscall);
    expect(twice - once).toBe(target.expectedPerOp * n);
  });

  it('null: one getppid per op', async () => {
    expect(await straceCount(workloadArgv(built, 'null', 500), 'getppid')).toBe(500);
  });

  it('execve: every execve of the run is the workload start plus one per op', async () => {
    expect(await straceCount(workloadArgv(built, 'execve', 7), 'execve')).toBe(1 + 7);
  });
});

describe('build', () => {
  it('reuses a cached build and rebuilds only what changed', async () => {
    const sources = join(scratch, 'src');
    cpSync(defaultSourceDir(), sources, { recursive: true });
    const buildDir = join(scratch, 'build-cache');

    const first = await buildWorkloads(buildDir, sources);
    expect(Object.values(first).every((b) => b.compiled)).toBe(true);
    const mtimes = Object.values(first).map((b) => statSync(b.path).mtimeMs);

    const second = await buildWorkloads(buildDir, sources);
    expect(Object.values(second).some((b) => b.compiled)).toBe(false);
    expect(Object.values(second).map((b) => b.path)).toEqual(Object.values(first).map((b) => b.path));
    expect(Object.values(second).map((b) => statSync(b.path).mtimeMs)).toEqual(mtimes);

    appendFileSync(join(sources, 'null.c'), '/* changed */\n');
    const third = await buildWorkloads(buildDir, sources);
    expect(Object.entries(third).filter(([, b]) => b.compiled).map(([name]) => name)).toEqual(['null']);
    expect(third.null.path).not.toBe(first.null.path);

    writeFileSync(join(sources, 'common.h'), readFileSync(join(sources, 'common.h'), 'utf8') + '/* shared */\n');
    const fourth = await buildWorkloads(buildDir, sources);
    expect(Object.values(fourth).every((b) => b.compiled)).toBe(true);
  });

  it('is safe to run concurrently and leaves no temporary files', async () => {
    const buildDir = join(scratch, 'build-concurrent');
    const [a, b] = await Promise.all([buildWorkloads(buildDir), buildWorkloads(buildDir)]);
    expect(Object.values(a).map((w) => w.path)).toEqual(Object.values(b).map((w) => w.path));
    for (const dir of readdirSync(buildDir)) expect(readdirSync(join(buildDir, dir)).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    const r = await run(workloadArgv(a, 'mprotect', 10));
    expect(r.exitCode, r.stderr).toBe(0);
  });

  it('fails with the compiler message on a broken source', async () => {
    const sources = join(scratch, 'src-broken');
    cpSync(defaultSourceDir(), sources, { recursive: true });
    writeFileSync(join(sources, 'mprotect.c'), 'int main(void) { int unused; return 0; }\n');
    await expect(buildWorkloads(join(scratch, 'build-broken'), sources)).rejects.toThrow(/unused/);
  });

  it('workloadArgv checks its inputs', () => {
    expect(workloadArgv(built, 'execve', 5)).toEqual([built.execve.path, '5', ...built.execve.artefacts]);
    expect(built.execve.artefacts).toHaveLength(1);
    expect(() => workloadArgv(built, 'nope', 5)).toThrow(/unknown workload/);
    expect(() => workloadArgv(built, 'constructor', 5)).toThrow(/unknown workload/);
    expect(() => workloadArgv(built, 'null', 0)).toThrow(/iterations/);
    expect(() => workloadArgv(built, 'null', 1.5)).toThrow(/iterations/);
  });
});

describe('calibration', () => {
  it('scales a pilot to the run length, rounded up to two figures, with a floor', () => {
    expect(iterationsForDuration({ ops: 1000, ns: 1e6 }, 200)).toBe(200_000);
    expect(iterationsForDuration({ ops: 100, ns: 63e6 }, 200)).toBe(320); // 317.5 -> 320
    expect(iterationsForDuration({ ops: 1e6, ns: 167e6 })).toBe(1_200_000); // default 200 ms
    expect(iterationsForDuration({ ops: 10, ns: 1e9 }, 200)).toBe(MIN_ITERATIONS);
    expect(iterationsForDuration({ ops: 10, ns: 10 }, 1)).toBe(1_000_000);
    expect(() => iterationsForDuration({ ops: 0, ns: 1e6 })).toThrow();
    expect(() => iterationsForDuration({ ops: 10, ns: 0 })).toThrow();
    expect(() => iterationsForDuration({ ops: 10, ns: 1e6 }, 0)).toThrow();
  });

  it('grows pilots tenfold until one lasts a tenth of the run', async () => {
    const asked: number[] = [];
    const n = await calibrateIterations(async (iterations) => {
      asked.push(iterations);
      return { ops: iterations, ns: iterations * 500 };
    }, 200);
    // One op first: an op as long as a whole run would be a run of one.
    expect(asked).toEqual([1, 10, 100, 1000, 10_000, 100_000]);
    expect(n).toBe(400_000);
  });

  it('gives a real run of about the asked length', async () => {
    const runMs = 50;
    const runNull = async (iterations: number) => {
      const r = await run(workloadArgv(built, 'null', iterations));
      expect(r.exitCode, r.stderr).toBe(0);
      return parseWorkloadLine(r.stdout);
    };
    const n = await calibrateIterations(runNull, runMs);
    // The median of 5 runs: one run on a noisy 2-vCPU guest can take several times its length. Generous
    // bounds still, but a wrong scale (x10) fails.
    const checks: number[] = [];
    for (let i = 0; i < 5; i++) checks.push((await runNull(n)).ns / 1e6);
    const medianMs = checks.sort((a, b) => a - b)[2]!;
    expect(medianMs, `runs of ${n} iterations took ${checks.map((ms) => ms.toFixed(1)).join(', ')} ms`).toBeGreaterThan(runMs / 3);
    expect(medianMs, `runs of ${n} iterations took ${checks.map((ms) => ms.toFixed(1)).join(', ')} ms`).toBeLessThan(runMs * 3);
  });
});
