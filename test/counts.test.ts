import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { runUnderPerfStat } from '../bench/perfstat.js';
import { workloadComms } from '../probes/bpftrace.js';
import { cleanup } from '../probes/cleanup.js';
import { hookTargetFor } from '../probes/hookpoints.js';
import { Journal, JOURNAL_DIR, readJournals } from '../probes/journal.js';
import { none } from '../probes/none.js';
import { MECHANISMS } from '../probes/registry.js';
import { hookbenchDynamicEvents, TRACEFS } from '../probes/tracefs.js';
import type { AnyMechanism, ProbeCount } from '../probes/types.js';
import { buildWorkloads, workloadArgv } from '../workloads/build.js';
import { bpfStatsValue, expectNothingLeft, ITERATIONS, needsSupport, newContext, support } from './mechanisms-harness.js';

/**
 * Counts are the workload's own process tree's and nothing else's (probes/types.ts `count`), so events
 * per op are exact, to 1 % either way: the workload runs as the runner runs it, under `perf stat`
 * (and under `taskset`, whose PATH search makes execve calls in the workload's own pid before it is the
 * workload), while hookbench's own process and an unrelated shell loop make the same calls.
 */

const built = await buildWorkloads();

interface Run {
  ops: number;
  pid: number;
}

/**
 * How the workload is launched: `perf stat -- hb-<workload> N` ('plain'), `perf stat -- taskset -c CPU
 * hb-<workload> N` ('taskset': taskset's PATH search and exec happen in the workload's own pid), or the
 * runner's pinned form, `taskset -c CPU perf stat -- hb-<workload> N` ('pinned').
 */
type Launch = 'plain' | 'taskset' | 'pinned';

/** The runner's way, under perf stat, gated: `onReady` scopes the probe. The workload's line is read for ops and pid only. */
async function runLikeTheRunner(workload: string, iterations: number, launch: Launch, onReady: (pid: number) => Promise<void>): Promise<Run> {
  const argv = workloadArgv(built, workload, iterations);
  const cpu = availableParallelism() - 1;
  const out =
    launch === 'pinned'
      ? await runUnderPerfStat(argv, { cpu, onReady })
      : await runUnderPerfStat(launch === 'taskset' ? ['taskset', '-c', String(cpu), ...argv] : argv, { onReady });
  const line = JSON.parse(out.stdout.trim()) as Run;
  return { ops: line.ops, pid: line.pid };
}

/** An unrelated process tree making the hooked calls (execve, and its loader's mprotect and openat) meanwhile. */
function busyShell() {
  return execa('sh', ['-c', 'for i in $(seq 200); do /bin/true; done']);
}

async function probed(m: AnyMechanism, workload: string, launch: Launch): Promise<{ count: ProbeCount; run: Run; perOp: number }> {
  const ctx = newContext();
  const stats = bpfStatsValue();
  const handle = await m.attach(hookTargetFor(workload), { ...ctx, bpfStats: false });
  let result: { count: ProbeCount; run: Run };
  try {
    const noise = busyShell();
    const run = await runLikeTheRunner(workload, ITERATIONS[workload]!, launch, (pid) => m.scope(handle, { pid }));
    await noise;
    result = { count: await m.count(handle, { pid: run.pid }), run };
  } finally {
    await m.detach(handle);
  }
  expectNothingLeft(ctx, stats);
  return { ...result, perOp: result.count.events / result.run.ops };
}

const COUNTED = MECHANISMS.filter((m) => m.family === 'tracefs' || m.family === 'bpf' || m.family === 'bpftrace' || m.family === 'uprobe');

for (const m of COUNTED) {
  const host = await support(m);
  describe(`${m.name} counts exactly the workload's own calls`, () => {
    const cases: [string, Launch][] = [
      ['execve', 'plain'],
      ['execve', 'taskset'],
      ['execve', 'pinned'],
      ['mprotect', 'taskset'],
      ['open', 'taskset'],
    ];
    for (const [workload, launch] of cases) {
      it(`${workload} (${launch}): within 1 % of expected, with a shell loop running beside it`, async (ctx) => {
        needsSupport(ctx, m.name, host);
        const expected = m.expectedPerOp(hookTargetFor(workload));
        const { count, run, perOp } = await probed(m, workload, launch);
        console.log(`${m.name} × ${workload} (${launch}): ${count.events} events / ${run.ops} ops = ${perOp.toFixed(4)} per op (expected ${expected})`);
        expect(count.note).toBeUndefined();
        expect(Math.abs(perOp - expected), `${perOp} events/op, expected ${expected}`).toBeLessThanOrEqual(0.01 * expected);
      });
    }

    it('null: none of the workload\'s calls reach the hook', async (ctx) => {
      needsSupport(ctx, m.name, host);
      const { count, run, perOp } = await probed(m, 'null', 'taskset');
      console.log(`${m.name} × null (taskset): ${count.events} events / ${run.ops} ops`);
      expect(perOp).toBeLessThanOrEqual(0.01);
      // What is left is the workload's own dynamic loader (a few mprotect calls before main), not the loop.
      expect(count.events).toBeLessThan(20);
    });
  });
}

describe('which processes are the workload\'s', () => {
  it('bpftrace: the workload\'s comms, the execve child\'s included; build is not filtered', () => {
    expect(workloadComms(hookTargetFor('execve'))).toEqual(['hb-execve', 'hb-execve-child']);
    expect(workloadComms(hookTargetFor('mprotect'))).toEqual(['hb-mprotect']);
    expect(workloadComms(hookTargetFor('build'))).toBeNull();
  });
});

describe('none: the whole procedure with nothing attached', () => {
  const instances = () => (readdirSync(join(TRACEFS, 'instances')) as string[]).sort();

  it('attach is journaled in /run/hookbench, count is 0, detach leaves nothing pending and nothing in tracefs', async () => {
    expect(none.family).toBe('none');
    expect(none.hookPoint(hookTargetFor('mprotect'))).toBe('(nothing attached)');
    for (const w of ['mprotect', 'null', 'execve', 'open']) expect(none.expectedPerOp(hookTargetFor(w))).toBe(0);
    expect(none.summary).toMatch(/CI must contain 0/);
    const [instancesBefore, eventsBefore] = [instances(), hookbenchDynamicEvents()];
    const journal = new Journal(JOURNAL_DIR, process.pid);
    const ctx = { journal, tag: `hookbench-${process.pid}-none` };
    expect(await none.detect(ctx)).toMatchObject({ supported: true });
    expect(journal.pendingWithIds).toEqual([]);
    const handle = await none.attach(hookTargetFor('mprotect'), ctx);
    expect(journal.pendingWithIds.map((p) => p.entry)).toEqual([{ kind: 'none', tag: ctx.tag }]);
    expect(readJournals().find((j) => j.pid === process.pid)?.entries.map((e) => e.entry.kind)).toEqual(['none']);
    const run = await runLikeTheRunner('mprotect', 10_000, 'pinned');
    expect(await none.count(handle, { pid: run.pid })).toEqual({ events: 0 });
    await none.detach(handle);
    expect(journal.pendingWithIds).toEqual([]);
    expect(readJournals().find((j) => j.pid === process.pid)?.entries).toEqual([]);
    journal.close();
    expect(readJournals().some((j) => j.pid === process.pid)).toBe(false);
    expect([instances(), hookbenchDynamicEvents()]).toEqual([instancesBefore, eventsBefore]);
  });

  it('`hookbench cleanup` undoes a dead run\'s none entry (a no-op) and removes its journal', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hookbench-journal-'));
    // A pid that is certainly dead: a process that has exited.
    const dead = (await execa('sh', ['-c', 'echo $$'])).stdout.trim();
    writeFileSync(join(dir, `${dead}.json`), JSON.stringify({ pid: Number(dead), startTime: '1', entries: [{ id: 1, entry: { kind: 'none', tag: `hookbench-${dead}-1` } }] }));
    const report = await cleanup(dir);
    expect(report.errors).toEqual([]);
    expect(report.undone).toContain(`hookbench-${dead}-1 (mechanism none: nothing attached)`);
    expect(readdirSync(dir)).toEqual([]);
  });
});
