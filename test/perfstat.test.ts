import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { parsePerfStatCsv, parseWorkloadLine, runUnderPerfStat } from '../bench/perfstat.js';
import { PERF_COUNTERS } from '../bench/results.js';
import { buildWorkloads, workloadArgv, type BuiltWorkloads } from '../workloads/build.js';

/** Real `perf stat -x, -e <PERF_COUNTERS> -o FILE -- true` output from a development machine (no PMU). */
const fixture = readFileSync(join(import.meta.dirname, 'fixtures', 'perf-stat-true.csv'), 'utf8');

const GOOD_LINES = [
  '1.25,msec,task-clock,1250000,100.00,0.5,CPUs utilized',
  '3,,context-switches,1250000,100.00,2.4,K/sec',
  '0,,cpu-migrations,1250000,100.00,0.000,/sec',
  '120,,page-faults,1250000,100.00,96.0,K/sec',
  '4000000,,cycles,1250000,100.00,3.2,GHz',
  '<not counted>,,instructions,0,0.00,,',
];

describe('parsePerfStatCsv', () => {
  it('reads the real fixture: numbers where counted, null where <not supported>', () => {
    expect(parsePerfStatCsv(fixture)).toEqual({
      'task-clock': 0.76,
      'context-switches': 1,
      'cpu-migrations': 1,
      'page-faults': 49,
      cycles: null,
      instructions: null,
    });
  });

  it('takes <not counted> as null, strips event modifiers, skips comments, blanks and other events', () => {
    const text = ['# started on somewhen', '', ...GOOD_LINES.slice(0, 4), '4000000,,cycles:u,1,100.00,,', GOOD_LINES[5], '7,,major-faults,1,100.00,,'].join('\n');
    const counts = parsePerfStatCsv(text);
    expect(counts.cycles).toBe(4000000);
    expect(counts.instructions).toBeNull();
    expect(Object.keys(counts).sort()).toEqual([...PERF_COUNTERS].sort());
  });

  it('rejects malformed output', () => {
    const replace = (i: number, line: string) => GOOD_LINES.map((l, j) => (j === i ? line : l)).join('\n');
    expect(() => parsePerfStatCsv(GOOD_LINES.join('\n'))).not.toThrow();
    expect(() => parsePerfStatCsv(replace(1, '3'))).toThrow(/malformed line/);
    expect(() => parsePerfStatCsv(replace(1, 'three,,context-switches,1,100.00,,'))).toThrow(/unreadable value 'three'/);
    expect(() => parsePerfStatCsv(replace(1, ',,context-switches,1,100.00,,'))).toThrow(/unreadable value/);
    expect(() => parsePerfStatCsv(replace(0, '1250000,nsec,task-clock,1,100.00,,'))).toThrow(/task-clock in 'nsec'/);
    expect(() => parsePerfStatCsv(replace(2, GOOD_LINES[1]))).toThrow(/appears twice/);
    expect(() => parsePerfStatCsv(GOOD_LINES.slice(1).join('\n'))).toThrow(/no line for task-clock/);
    expect(() => parsePerfStatCsv('')).toThrow(/no line for/);
  });
});

describe('parseWorkloadLine', () => {
  it('accepts the workload line and nothing else', () => {
    expect(parseWorkloadLine('{"workload":"null","ops":10,"ns":1234,"pid":42,"cpuStart":0,"cpuEnd":1}\n')).toEqual({
      workload: 'null',
      ops: 10,
      ns: 1234,
      pid: 42,
      cpuStart: 0,
      cpuEnd: 1,
    });
    const bad = [
      '',
      'hello',
      '{"workload":"null","ops":10,"ns":1234,"pid":42,"cpuStart":0,"cpuEnd":0}\n{"workload":"null","ops":10,"ns":1234,"pid":42,"cpuStart":0,"cpuEnd":0}',
      '{"workload":"null","ops":0,"ns":1234,"pid":42,"cpuStart":0,"cpuEnd":0}',
      '{"workload":"null","ops":10,"ns":"1234","pid":42,"cpuStart":0,"cpuEnd":0}',
      '{"workload":"null","ops":10.5,"ns":1234,"pid":42,"cpuStart":0,"cpuEnd":0}',
      '{"workload":"null","ops":10,"ns":1234,"cpuStart":0,"cpuEnd":0}',
      '{"workload":"null","ops":10,"ns":1234,"pid":42,"cpuStart":0,"cpuEnd":0,"extra":1}',
      // The CPU fields: required, whole and not negative (-1 is common.c's "start_timing never called").
      '{"workload":"null","ops":10,"ns":1234,"pid":42}',
      '{"workload":"null","ops":10,"ns":1234,"pid":42,"cpuStart":0}',
      '{"workload":"null","ops":10,"ns":1234,"pid":42,"cpuStart":-1,"cpuEnd":0}',
      '{"workload":"null","ops":10,"ns":1234,"pid":42,"cpuStart":0,"cpuEnd":0.5}',
    ];
    for (const stdout of bad) expect(() => parseWorkloadLine(stdout), stdout).toThrow(/workload/);
  });
});

describe('runUnderPerfStat, for real', () => {
  let built: BuiltWorkloads;
  beforeAll(async () => {
    built = await buildWorkloads();
  });

  it('returns the workload line and real software counters', async () => {
    const started = performance.now();
    const r = await runUnderPerfStat(workloadArgv(built, 'mprotect', 20_000));
    const wallMs = performance.now() - started;
    expect(r.exitCode).toBe(0);
    const line = parseWorkloadLine(r.stdout);
    expect(line.ops).toBe(20_000);
    // CPU time in msec: one thread cannot use more than the wall time (on a busy machine it may use far less).
    expect(r.perf['task-clock']).toBeGreaterThan(0);
    expect(r.perf['task-clock']).toBeLessThan(wallMs);
    expect(r.perf['page-faults']).toBeGreaterThan(0);
    expect(r.perf['context-switches']).toBeGreaterThanOrEqual(0);
    // Hardware counters: a number where the machine has a PMU, null where perf says <not supported>.
    for (const hw of ['cycles', 'instructions'] as const) {
      const value = r.perf[hw];
      if (value !== null) expect(value).toBeGreaterThan(0);
    }
  });

  it("throws with the workload's stderr when it exits non-zero", async () => {
    await expect(runUnderPerfStat([built.mprotect.path, '0'])).rejects.toThrow(/exit 2.*iteration count is not a whole number/);
  });

  it('throws when the command is killed by a signal (perf itself exits 0 then)', async () => {
    await expect(runUnderPerfStat(['sh', '-c', 'kill -9 $$'])).rejects.toThrow(/killed: sh: Killed/);
  });

  it('throws when the command does not exist', async () => {
    await expect(runUnderPerfStat(['/nonexistent/hookbench-command'])).rejects.toThrow(/Workload failed: No such file/);
  });
});
