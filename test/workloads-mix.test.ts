import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseWorkloadLine } from '../bench/perfstat.js';
import { BUILD_SOURCES, hookTargetFor } from '../probes/hookpoints.js';
import { buildWorkloads, workloadArgv, type BuiltWorkloads } from '../workloads/build.js';
import { calibrateIterations } from '../workloads/calibrate.js';

/**
 * The mix workloads (hids-mix, build), run for real: hids-mix makes every syscall of its mix, as often as it says
 * (counted by the kernel's syscall tracepoints through perf, independently of the workload's own
 * counters; strace -f cannot be used, as hids-mix traces a child itself), and cleans up after itself;
 * build compiles its generated project, the same bytes and the same objects every time.
 */

const scratch = mkdtempSync(join(tmpdir(), 'hookbench-workloads-mix-'));
let built: BuiltWorkloads;
beforeAll(async () => {
  built = await buildWorkloads();
});
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** Calls of each syscall the whole process tree made, counted by syscall tracepoints (perf stat follows children). */
async function perfSyscallCounts(argv: readonly string[], syscalls: readonly string[], env: Record<string, string> = {}): Promise<{ counts: Record<string, number>; stdout: string }> {
  const out = join(scratch, `perf-${Math.random().toString(36).slice(2)}.csv`);
  const events = syscalls.map((s) => `syscalls:sys_enter_${s}`).join(',');
  const r = await execa('perf', ['stat', '-x,', '-e', events, '-o', out, '--', ...argv], { reject: false, env: { LC_ALL: 'C', ...env } });
  expect(r.exitCode, r.stderr).toBe(0);
  const counts: Record<string, number> = {};
  for (const line of readFileSync(out, 'utf8').split('\n')) {
    const [value, , event] = line.split(',');
    const m = /^syscalls:sys_enter_(\w+)$/.exec(event ?? '');
    if (m) counts[m[1]!] = Number(value);
  }
  return { counts, stdout: r.stdout };
}

describe('hids-mix', () => {
  const target = hookTargetFor('hids-mix');
  const mix = target.mix!;

  it('prints the usual line plus its mix, which is the hook table\'s row', async () => {
    const r = await execa(workloadArgv(built, 'hids-mix', 5)[0]!, workloadArgv(built, 'hids-mix', 5).slice(1));
    const line = parseWorkloadLine(r.stdout);
    expect(line).toMatchObject({ workload: 'hids-mix', ops: 5 });
    expect(line.mix).toEqual(mix);
    expect(target.expectedPerOp).toBe(mix.execve);
  });

  it('makes every syscall of its mix, that many times per op (kernel tracepoint counts at N and 2N)', async () => {
    const syscalls = Object.keys(mix);
    const n = 20;
    const once = await perfSyscallCounts(workloadArgv(built, 'hids-mix', n), syscalls);
    const twice = await perfSyscallCounts(workloadArgv(built, 'hids-mix', 2 * n), syscalls);
    const perOp = Object.fromEntries(syscalls.map((s) => [s, (twice.counts[s]! - once.counts[s]!) / n]));
    console.log(`hids-mix, syscalls per op counted by the kernel: ${JSON.stringify(perOp)}`);
    expect(perOp).toEqual(mix);
    // And nothing but set-up outside the loop: a handful of calls per run, whatever the run's length.
    for (const s of syscalls) expect(once.counts[s]! - n * mix[s as keyof typeof mix]!, s).toBeLessThanOrEqual(2);
  });

  it('leaves no temp dir and no mount behind, after a run and after SIGTERM mid-loop', async () => {
    const tmp = mkdtempSync(join(scratch, 'hids-'));
    const [bin, ...args] = workloadArgv(built, 'hids-mix', 5);
    const ok = await execa(bin!, args, { env: { TMPDIR: tmp } });
    expect(parseWorkloadLine(ok.stdout).ops).toBe(5);
    expect(readdirSync(tmp)).toEqual([]);

    const child = execa(bin!, [String(1e9), ...args.slice(1)], { env: { TMPDIR: tmp }, reject: false });
    while (readdirSync(tmp).length === 0) await new Promise((resolve) => setTimeout(resolve, 10));
    await new Promise((resolve) => setTimeout(resolve, 200));
    child.kill('SIGTERM');
    const r = await child;
    expect(r.signal).toBe('SIGTERM');
    expect(readdirSync(tmp)).toEqual([]);
    // The tmpfs lived in the workload's private mount namespace: never in ours.
    expect(readFileSync('/proc/mounts', 'utf8')).not.toMatch(/^hookbench /m);
  });

  it('exits 1 naming the call when its helper cannot be executed', async () => {
    const r = await execa(built['hids-mix']!.path, ['3', join(scratch, 'no-such-helper')], { reject: false });
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(/^hids-mix: helper .*no-such-helper: setsid or execve failed/m);
    expect(r.stdout).toBe('');
  });
});

/** sha256 of every file under `dir`, by relative path. */
function treeHashes(dir: string, under = ''): Record<string, string> {
  const hashes: Record<string, string> = {};
  for (const name of readdirSync(join(dir, under)).sort()) {
    const rel = join(under, name);
    if (statSync(join(dir, rel)).isDirectory()) Object.assign(hashes, treeHashes(dir, rel));
    else hashes[rel] = createHash('sha256').update(readFileSync(join(dir, rel))).digest('hex');
  }
  return hashes;
}

describe('build', () => {
  let first: Record<string, string>;
  let firstSeconds: number;

  it('compiles its generated project into a working program, one build per op', async () => {
    const dir = join(scratch, 'build-a');
    const { counts, stdout } = await perfSyscallCounts([built.build!.path, '1', dir], ['execve', 'openat']);
    const line = parseWorkloadLine(stdout);
    firstSeconds = line.ns / 1e9;
    console.log(`build: one op took ${firstSeconds.toFixed(1)} s wall; ${counts.execve} execve, ${counts.openat} openat`);
    expect(line).toMatchObject({ workload: 'build', ops: 1 });
    first = treeHashes(dir);
    expect(Object.keys(first).filter((f) => f.startsWith('src/'))).toHaveLength(BUILD_SOURCES);
    expect(Object.keys(first).filter((f) => f.startsWith('obj/') && f.endsWith('.o'))).toHaveLength(BUILD_SOURCES);
    const prog = await execa(join(dir, 'prog'));
    expect(prog.stdout).toMatch(/^\d+$/);
    // What the hook table promises as lower bounds; the toolchain does more (gcc 12: 607 execve).
    expect(counts.execve).toBeGreaterThanOrEqual(hookTargetFor('build').mix!.execve!);
    expect(counts.openat).toBeGreaterThanOrEqual(hookTargetFor('build').mix!.openat!);
  });

  it('is deterministic: the same sources and the same objects in another directory, another time', async () => {
    const dir = join(scratch, 'build-b');
    const r = await execa(built.build!.path, ['1', dir]);
    expect(parseWorkloadLine(r.stdout).ops).toBe(1);
    expect(treeHashes(dir)).toEqual(first);
  });

  it('removes its private project after a run', async () => {
    const tmp = mkdtempSync(join(scratch, 'build-tmp-'));
    const r = await execa(built.build!.path, ['1'], { env: { TMPDIR: tmp } });
    expect(parseWorkloadLine(r.stdout).ops).toBe(1);
    expect(readdirSync(tmp)).toEqual([]);
  });

  it('refuses to build into a directory that exists', async () => {
    const r = await execa(built.build!.path, ['1', scratch], { reject: false });
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(/^build: mkdir DIR: File exists/);
  });
});

describe('calibration of a workload whose op outlasts a run', () => {
  it('runs one op and makes it the run', async () => {
    const asked: number[] = [];
    const n = await calibrateIterations(async (iterations) => {
      asked.push(iterations);
      return { ops: iterations, ns: iterations * 6e9 };
    }, 200);
    expect(asked).toEqual([1]);
    expect(n).toBe(1);
  });

  it('hids-mix (~3 ms an op) still calibrates to a 200 ms run of many ops', async () => {
    const runOnce = async (iterations: number) => {
      const [bin, ...args] = workloadArgv(built, 'hids-mix', iterations);
      return parseWorkloadLine((await execa(bin!, args)).stdout);
    };
    const n = await calibrateIterations(runOnce, 200);
    expect(n).toBeGreaterThanOrEqual(10);
    const check = await runOnce(n);
    expect(check.ns / 1e6).toBeGreaterThan(200 / 3);
    expect(check.ns / 1e6).toBeLessThan(200 * 3);
  });
});
