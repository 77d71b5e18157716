import { mkdirSync, mkdtempSync, readFileSync, rmdirSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_OPTIONS } from '../bench/planner.js';
import { ResultsSchema, type Cell, type Results } from '../bench/results.js';
import { runMatrix } from '../bench/runner.js';
import { LOG_FILE, LogLineSchema } from '../bench/store.js';
import { ensureTracefs } from '../probes/tracefs.js';
import { kernelState, USER_INSTANCE, USER_RULE, type KernelState } from './kernelState.js';

/**
 * runMatrix end to end, for real on this kernel: tracepoint and audit on mprotect (the
 * probe fired once per op, the overhead is positive) and on null (nothing fired), and afterwards the
 * kernel exactly as before, a user's own audit rule and tracefs instance included.
 */
describe('runMatrix on this kernel', () => {
  let before: KernelState;
  let results: Results;
  let outDir: string;
  const cell = (mechanism: string, workload: string): Cell => results.cells.find((c) => c.mechanism === mechanism && c.workload === workload)!;

  beforeAll(async () => {
    await ensureTracefs();
    await execa('auditctl', ['-a', 'always,exit', '-F', 'arch=b64', '-S', 'sethostname', ...USER_RULE.slice(4)]).catch(() => {});
    await execa('auditctl', USER_RULE);
    if (!existsSync(USER_INSTANCE)) mkdirSync(USER_INSTANCE);
    before = await kernelState();
    outDir = join(mkdtempSync(join(tmpdir(), 'hookbench-core-')), 'results');
    results = await runMatrix(
      { ...DEFAULT_OPTIONS, mechanisms: ['tracepoint', 'audit'], workloads: ['mprotect', 'null'], runMs: 30, maxTimeS: 20, minRounds: 15, maxRounds: 15 },
      { outDir },
    );
  }, 300_000);

  afterAll(async () => {
    await execa('auditctl', ['-d', 'always,exit', '-F', 'arch=b64', '-S', 'sethostname', ...USER_RULE.slice(4)], { reject: false });
    await execa('auditctl', ['-W', ...USER_RULE.slice(1)], { reject: false });
    if (existsSync(USER_INSTANCE)) rmdirSync(USER_INSTANCE);
  });

  it('leaves the kernel exactly as it found it, the user rules and instance included', async () => {
    const after = await kernelState();
    expect(after).toEqual(before);
    expect(after.auditRules.some((r) => r.includes('key=user-owned'))).toBe(true);
    expect(after.instances).toContain('user-owned');
  });

  it.each(['tracepoint', 'audit'])('%s on mprotect fired once per op and costs something', (mechanism) => {
    const c = cell(mechanism, 'mprotect');
    expect(c.verdict, c.reason ?? '').not.toMatch(/INVALID|ERROR|UNSUPPORTED/);
    expect(c.stats!.eventsPerOp.median).toBeGreaterThanOrEqual(0.99);
    expect(c.stats!.eventsPerOp.median).toBeLessThan(1.05);
    expect(c.stats!.overheadMedian.value).toBeGreaterThan(0);
    expect(c.stats!.nsPerEvent!.value).toBeGreaterThan(0);
  });

  it('audit costs more per mprotect than a tracepoint (an audit record is written by auditd)', () => {
    expect(cell('audit', 'mprotect').stats!.addedNsPerOp.value).toBeGreaterThan(cell('tracepoint', 'mprotect').stats!.addedNsPerOp.value);
  });

  it.each(['tracepoint', 'audit'])('%s on null counted no hooked event', (mechanism) => {
    const c = cell(mechanism, 'null');
    expect(c.verdict).not.toMatch(/INVALID|ERROR|UNSUPPORTED/);
    expect(c.stats!.eventsPerOp.max).toBeLessThanOrEqual(0.01);
    expect(c.stats!.nsPerEvent).toBeNull();
  });

  it('keeps every raw sample, in a document valid against the schema', () => {
    const onDisk = ResultsSchema.parse(JSON.parse(readFileSync(join(outDir, 'results.json'), 'utf8')));
    expect(onDisk.cells).toHaveLength(4);
    for (const c of onDisk.cells) {
      expect(c.rounds.length).toBe(c.stats!.rounds);
      expect(c.rounds.length).toBeGreaterThanOrEqual(5);
      // Blocks of five, each pinned to one CPU that every run of the block reports.
      expect(c.rounds.map((r) => r.block)).toEqual(c.rounds.map((_, i) => Math.floor(i / 5)));
      expect(c.stats!.blocks).toBe(Math.ceil(c.rounds.length / 5));
      for (const r of c.rounds) expect([r.baseline.cpuStart, r.probed.cpuStart]).toEqual([r.cpu, r.cpu]);
      for (const r of c.rounds) {
        expect(r.baseline.ops).toBe(c.iterations);
        expect(r.probed.ops).toBe(c.probedIterations ?? c.iterations);
        expect(r.probed.events).toBeTypeOf('number');
        expect(r.probed.perf['task-clock']).toBeGreaterThan(0);
      }
    }
    expect(onDisk.environment.kernelRelease).toBeTruthy();
    expect(onDisk.placement.measurementCpus.length).toBeGreaterThan(0);
  });

  it('logs one JSONL line per calibration, warm-up run, round and finished cell', () => {
    const lines = readFileSync(join(outDir, LOG_FILE), 'utf8').trim().split('\n').map((l) => LogLineSchema.parse(JSON.parse(l)));
    const rounds = results.cells.reduce((n, c) => n + c.rounds.length, 0);
    expect(lines.filter((l) => l.type === 'round')).toHaveLength(rounds);
    expect(lines.filter((l) => l.type === 'warmup')).toHaveLength(2 * results.cells.length);
    expect(lines.filter((l) => l.type === 'calibration')).toHaveLength(2);
    expect(lines.filter((l) => l.type === 'cell')).toHaveLength(4);
  });
});
