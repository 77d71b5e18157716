import { readFileSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { execa } from 'execa';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  confineHarness,
  formatCpuList,
  harnessCpus,
  measureCpuSpeeds,
  onlineCpus,
  parseCpuList,
  pinnedArgv,
  threadAffinities,
} from '../bench/cpus.js';
import { UsageError } from '../bench/errors.js';
import { parseWorkloadLine, runUnderPerfStat } from '../bench/perfstat.js';
import { buildWorkloads, workloadArgv, type BuiltWorkloads } from '../workloads/build.js';

/** The kernel's own list grammar, parsed independently of bench/cpus.ts. */
function kernelList(text: string): number[] {
  return text
    .trim()
    .split(',')
    .filter((p) => p !== '')
    .flatMap((p) => {
      const [a, b = a] = p.split('-').map(Number);
      return Array.from({ length: b - a + 1 }, (_, i) => a + i);
    });
}
const ownAllowed = () => kernelList(/Cpus_allowed_list:\s*(\S+)/.exec(readFileSync('/proc/self/status', 'utf8'))![1]);

const online = onlineCpus();
const singleCpu = online.length < 2;

let built: BuiltWorkloads;
beforeAll(async () => {
  built = await buildWorkloads();
});

describe('onlineCpus', () => {
  it('is /sys/devices/system/cpu/online within this process allowed set, ascending', () => {
    const sys = kernelList(readFileSync('/sys/devices/system/cpu/online', 'utf8'));
    const allowed = new Set(ownAllowed());
    expect(online.length).toBeGreaterThan(0);
    expect(online).toEqual(sys.filter((c) => allowed.has(c)));
    expect([...online].sort((a, b) => a - b)).toEqual(online);
  });
});

describe('parseCpuList', () => {
  const four = [0, 1, 2, 3];

  it.each([
    ['1', [1]],
    ['0,1', [0, 1]],
    ['0-3', [0, 1, 2, 3]],
    ['0-1,3', [0, 1, 3]],
    ['3,1,1', [1, 3]],
    ['2-2', [2]],
  ])('accepts %s', (text, cpus) => {
    expect(parseCpuList(text, four)).toEqual(cpus);
  });

  it.each([
    ['0;reboot', /not a CPU list/],
    ['-1', /not a CPU list/],
    ['1-0', /range 1-0 runs backwards/],
    ['4096', /CPU 4096 is not online here/],
    ['0-4096', /CPU 4096 is not online here/],
    ['99999999', /not a CPU list/],
    ['', /not a CPU list/],
    [' 1', /not a CPU list/],
    ['1 ', /not a CPU list/],
    ['1\n', /not a CPU list/],
    ['1,', /not a CPU list/],
    [',1', /not a CPU list/],
    ['0,,1', /not a CPU list/],
    ['01', /not a CPU list/],
    ['+1', /not a CPU list/],
    ['0-3:2', /not a CPU list/],
    ['$(reboot)', /not a CPU list/],
    ['1`id`', /not a CPU list/],
    ['0x1', /not a CPU list/],
    ['1.0', /not a CPU list/],
    ['١', /not a CPU list/],
  ])('rejects %j with a one-line UsageError', (text, why) => {
    let error: unknown;
    try {
      parseCpuList(text, four);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(UsageError);
    const message = (error as Error).message;
    expect(message).toMatch(why);
    expect(message).toMatch(/^--cpu /);
    expect(message).toContain('online: 0-3');
    expect(message).not.toMatch(/[\n\r]/);
  });

  it("checks against this machine's online CPUs by default", () => {
    for (const cpu of online) expect(parseCpuList(String(cpu))).toEqual([cpu]);
    expect(parseCpuList(formatCpuList(online))).toEqual(online);
    expect(() => parseCpuList('4096')).toThrow(UsageError);
    expect(() => parseCpuList(String(Math.max(...online) + 1))).toThrow(/is not online here/);
  });

  it('formatCpuList writes what parseCpuList reads', () => {
    expect(formatCpuList([3, 0, 1, 1, 5, 6, 7])).toBe('0-1,3,5-7');
    expect(parseCpuList(formatCpuList([0, 1, 3]), four)).toEqual([0, 1, 3]);
  });
});

describe('pinnedArgv and harnessCpus', () => {
  it('puts taskset -c CPU in front of the command', () => {
    expect(pinnedArgv(1, ['/bin/true', 'x'])).toEqual(['taskset', '-c', '1', '/bin/true', 'x']);
    expect(() => pinnedArgv(-1, ['/bin/true'])).toThrow(/whole number/);
    expect(() => pinnedArgv(0.5, ['/bin/true'])).toThrow(/whole number/);
    expect(() => pinnedArgv(0, [])).toThrow(/empty/);
  });

  it('gives the harness every CPU but the measurement one, or the only one there is', () => {
    expect(harnessCpus(0, [0, 1])).toEqual([1]);
    expect(harnessCpus(1, [0, 1, 2, 3])).toEqual([0, 2, 3]);
    expect(harnessCpus(0, [0])).toEqual([0]);
    expect(() => harnessCpus(2, [0, 1])).toThrow(/not online/);
  });
});

describe('a pinned real workload run stays on its CPU', () => {
  it.each(online)('CPU %i: mprotect and execve (children inherit) report cpuStart === cpuEnd === CPU, perf counts 0 migrations', async (cpu) => {
    for (const [workload, n] of [
      ['mprotect', 50_000],
      ['execve', 20],
    ] as const) {
      const r = await runUnderPerfStat(workloadArgv(built, workload, n), { cpu });
      const line = parseWorkloadLine(r.stdout);
      expect({ workload, cpuStart: line.cpuStart, cpuEnd: line.cpuEnd }).toEqual({ workload, cpuStart: cpu, cpuEnd: cpu });
      expect(r.perf['cpu-migrations'], workload).toBe(0);
    }
  });

  it.each(online)('CPU %i: taskset inside perf (pinnedArgv as the command) pins the loop as well', async (cpu) => {
    const r = await runUnderPerfStat(pinnedArgv(cpu, workloadArgv(built, 'mprotect', 50_000)));
    const line = parseWorkloadLine(r.stdout);
    expect([line.cpuStart, line.cpuEnd]).toEqual([cpu, cpu]);
    // taskset's own move may be counted here (the next describe pins down when): at most that one.
    expect(r.perf['cpu-migrations']).toBeLessThanOrEqual(1);
  });
});

describe('confineHarness', () => {
  let restore: (() => Promise<void>) | undefined;
  afterEach(async () => {
    await restore?.();
    restore = undefined;
  });

  it('refuses no CPUs and an offline CPU, and changes nothing then', async () => {
    const before = await threadAffinities();
    await expect(confineHarness([])).rejects.toThrow(/no CPUs/);
    await expect(confineHarness([4096])).rejects.toThrow(/CPU 4096 is not online/);
    expect(await threadAffinities()).toEqual(before);
  });

  it(
    'keeps every thread and every later process off the measurement CPU, and restore puts it back',
    async (ctx) => {
      if (singleCpu) ctx.skip('one online CPU: nothing can be isolated');
      const measurement = online[online.length - 1];
      const harness = harnessCpus(measurement, online);
      const before = await threadAffinities();
      expect(before.size).toBeGreaterThan(1); // node has threads besides the main one
      for (const allowed of before.values()) expect(allowed).toContain(measurement);

      restore = await confineHarness(harness);
      // A worker started now inherits the confinement (it is created by a confined thread).
      const worker = new Worker('setInterval(() => {}, 1000)', { eval: true });
      await new Promise((resolve) => worker.once('online', resolve));
      const confined = await threadAffinities();
      expect(confined.size).toBeGreaterThan(before.size);
      for (const [tid, allowed] of confined) expect({ tid, allowed }).toEqual({ tid, allowed: harness });
      // Processes started now (perf, bpftrace, readers) inherit it too.
      const child = await execa('grep', ['Cpus_allowed_list', '/proc/self/status']);
      expect(kernelList(child.stdout.split(':')[1])).toEqual(harness);
      // The measurement CPU is still a CPU a workload can be pinned to.
      expect(onlineCpus()).toEqual(online);

      // Under confinement, perf starts off the measurement CPU: taskset inside perf is counted as one
      // migration (its own move), the same run with perf pinned counts none.
      const inside = await runUnderPerfStat(pinnedArgv(measurement, workloadArgv(built, 'mprotect', 20_000)));
      const outside = await runUnderPerfStat(workloadArgv(built, 'mprotect', 20_000), { cpu: measurement });
      for (const r of [inside, outside]) expect(parseWorkloadLine(r.stdout)).toMatchObject({ cpuStart: measurement, cpuEnd: measurement });
      expect(inside.perf['cpu-migrations']).toBe(1);
      expect(outside.perf['cpu-migrations']).toBe(0);

      await worker.terminate();
      await restore();
      restore = undefined;
      const after = await threadAffinities();
      for (const [tid, allowed] of before) if (after.has(tid)) expect({ tid, allowed: after.get(tid) }).toEqual({ tid, allowed });
      expect(ownAllowed()).toEqual(before.get(process.pid));
      const child2 = await execa('grep', ['Cpus_allowed_list', '/proc/self/status']);
      expect(kernelList(child2.stdout.split(':')[1])).toEqual(before.get(process.pid));
    },
  );
});

describe('measureCpuSpeeds', () => {
  it('times mprotect on every online CPU, interleaved and pinned', async () => {
    const speeds = await measureCpuSpeeds({ runs: 3, runMs: 50, built });
    expect(speeds.workload).toBe('mprotect');
    expect(speeds.runsPerCpu).toBe(3);
    expect(speeds.iterations).toBeGreaterThanOrEqual(10);
    expect(speeds.cpus.map((s) => s.cpu)).toEqual(online);
    for (const s of speeds.cpus) {
      expect(s.nsPerOp).toHaveLength(3);
      expect(s.medianNsPerOp).toBeGreaterThan(0);
      expect(s.nsPerOp.every((x) => x > 0)).toBe(true);
      expect(s.cv).toBeGreaterThanOrEqual(0);
      expect(s.migrated).toBe(0);
      expect(s.perfMigrations).toBe(0);
    }
    const medians = speeds.cpus.map((s) => s.medianNsPerOp);
    expect(speeds.slowestToFastest).toBeCloseTo(Math.max(...medians) / Math.min(...medians), 10);
    expect(speeds.slowestToFastest).toBeGreaterThanOrEqual(1);
  });

  it('refuses fewer than two runs', async () => {
    await expect(measureCpuSpeeds({ runs: 1, built })).rejects.toThrow(/runs must be/);
  });
});
