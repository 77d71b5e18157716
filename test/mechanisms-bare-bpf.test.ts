import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { BPF_ATTACH_TYPES, buildBareBpf } from '../probes/bareBpf.js';
import { hookTargetFor } from '../probes/hookpoints.js';
import { MECHANISMS } from '../probes/registry.js';
import type { AnyMechanism, Support } from '../probes/types.js';
import { hasEnded, undoAll } from '../probes/undo.js';
import { ensureCliBuilt, hookbench, journalFiles, newJournalDir, sleep, startHookbench } from './cliHarness.js';
import { bpfStatsValue, childrenOf, expectNothingLeft, ITERATIONS, needsSupport, needsUnsupported, newContext, probedRun, support, toolChildrenGone } from './mechanisms-harness.js';

/**
 * The bare BPF family (probes/bareBpf.ts): one minimal program per attach type, placed by hookbench's
 * libbpf loader. Where the kernel refuses an attach type, detect() must say so in the kernel's or
 * libbpf's terms; every supported one must count exactly the workload's calls and leave no program,
 * link or loader behind. Short enough to run in a guest (test/guest.test.ts), where fentry, fexit,
 * lsm and kprobe are placeable.
 */
const BARE = MECHANISMS.filter((m) => m.family === 'bpf');

/**
 * A reason names the attach type, its target, the step and the errno (the loader's words), or the
 * piece of kernel that is missing.
 */
const REASON = /^([a-z_.]+ \S+: [a-z .()_]+: .+ \(E[A-Z]+\)|no \/sys\/kernel\/btf\/vmlinux|no (kprobe|uprobe) PMU|BPF LSM is not active|kernel function \S+ is not in)/;

const hosts = new Map<string, Support>();
for (const m of BARE) hosts.set(m.name, await support(m));
const firstSupported = (): AnyMechanism | undefined => BARE.find((m) => hosts.get(m.name)?.supported);

/** Programs of hookbench's loader still loaded in the kernel (their names are count.bpf.h's hb_*). */
function loadedHookbenchPrograms(): string[] {
  const r = spawnSync('bpftool', ['prog', 'show', '--json'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`bpftool prog show: ${r.stderr}`);
  return (JSON.parse(r.stdout) as { name?: string }[]).map((p) => p.name ?? '').filter((n) => n.startsWith('hb_'));
}

/** The kernel frees a program after its last link and fd close, from a work queue: wait for it. */
async function programsGone(ms: number): Promise<string[]> {
  for (const start = Date.now(); Date.now() - start < ms; await sleep(20)) if (loadedHookbenchPrograms().length === 0) return [];
  return loadedHookbenchPrograms();
}

const figures: Record<string, { events: number; ops: number; startupMs: string; inProgramNs: string }> = {};
afterAll(() => {
  if (Object.keys(figures).length) console.table(figures);
});

it('every attach type is one mechanism of the family', () => {
  expect(BARE.map((m) => m.hookPoint(hookTargetFor('mprotect')).split('/')[0])).toEqual([...BPF_ATTACH_TYPES]);
});

for (const mechanism of BARE) {
  const host = hosts.get(mechanism.name)!;
  describe(mechanism.name, () => {
    it('detect() gives the kernel\'s or libbpf\'s reason: the step and errno, or what the kernel lacks', (ctx) => {
      needsUnsupported(ctx, mechanism.name, host);
      expect(host.reason).toMatch(REASON);
    });

    for (const workload of ['mprotect', 'open', 'execve']) {
      it(`counts 1 per op on ${workload}, with start-up and in-program cost, then leaves no program behind`, async (test) => {
        needsSupport(test, mechanism.name, host);
        const ctx = newContext();
        const stats = bpfStatsValue();
        const run = await probedRun(mechanism, workload, ITERATIONS[workload]!, ctx);
        const expected = mechanism.expectedPerOp(hookTargetFor(workload));
        console.log(`${mechanism.name} × ${workload}: ${run.count.events} events / ${run.ops} ops = ${run.perOp.toFixed(4)}; in-program ${run.count.inProgramNs?.toFixed(1)} ns/run`);
        // Only the workload's calls since it was scoped count: exact to 1 % both ways.
        expect(Math.abs(run.perOp - expected)).toBeLessThanOrEqual(0.01 * expected);
        expect(run.count.startupMs).toBeGreaterThan(0);
        expect(run.count.inProgramNs).toBeGreaterThan(0);
        expectNothingLeft(ctx, stats);
        expect(await programsGone(2_000)).toEqual([]);
        if (workload === 'mprotect') {
          figures[mechanism.name] = { events: run.count.events, ops: run.ops, startupMs: run.count.startupMs!.toFixed(1), inProgramNs: run.count.inProgramNs!.toFixed(1) };
        }
      });
    }

    it('counts nothing on null (getppid)', async (test) => {
      needsSupport(test, mechanism.name, host);
      const ctx = newContext();
      const stats = bpfStatsValue();
      const run = await probedRun(mechanism, 'null', ITERATIONS.null!, ctx);
      expect(run.count.events).toBe(0);
      expectNothingLeft(ctx, stats);
    });

    it('journals its loader: undoing the journal alone (as cleanup does after SIGKILL) leaves nothing', async (test) => {
      needsSupport(test, mechanism.name, host);
      const ctx = newContext();
      const stats = bpfStatsValue();
      await mechanism.attach(hookTargetFor('mprotect'), ctx);
      expect(loadedHookbenchPrograms().length).toBeGreaterThan(0);
      expect(ctx.journal.pendingWithIds.map((e) => e.entry.kind).sort()).toEqual(['process', 'sysctl']);
      expect(await undoAll(ctx.journal)).toEqual([]);
      await toolChildrenGone(2_000);
      expectNothingLeft(ctx, stats);
      expect(await programsGone(2_000)).toEqual([]);
    });
  });
}

describe('bpf stats', () => {
  it('stay as found and give no in-program figure when the context turns them off', async (test) => {
    const mechanism = firstSupported();
    if (!mechanism) return test.skip('no bare BPF attach type is supported on this kernel');
    const ctx = { ...newContext(), bpfStats: false };
    const stats = bpfStatsValue();
    const handle = await mechanism.attach(hookTargetFor('mprotect'), ctx);
    expect(bpfStatsValue()).toBe(stats);
    expect(ctx.journal.pendingWithIds.map((e) => e.entry.kind)).toEqual(['process']);
    await mechanism.scope(handle, { pid: process.pid });
    const count = await mechanism.count(handle, { pid: process.pid });
    await mechanism.detach(handle);
    expect(count.inProgramNs).toBeNull();
    expectNothingLeft(ctx, stats);
  });
});

describe('the loader', () => {
  it('refuses a malformed command line with exit 2 and loads nothing', async () => {
    const { loader, objects } = await buildBareBpf();
    for (const args of [[], ['--attach', objects.tp, 'tp', 'syscalls/sys_enter_mprotect'], ['--attach', objects.tp, 'tp', 'x/y', '1; reboot'], ['--comm', 'a-name-of-16-chr', '--attach', objects.tp, 'tp', 'x/y', '-1']]) {
      const r = await execa(loader, args, { reject: false, input: '' });
      expect(r.exitCode, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(/^error: usage: /m);
    }
    expect(loadedHookbenchPrograms()).toEqual([]);
  });

  it('dies with its parent: a SIGKILLed run leaves no loader and no program, and cleanup only removes its journal', async (test) => {
    const mechanism = firstSupported();
    if (!mechanism) return test.skip('no bare BPF attach type is supported on this kernel');
    await ensureCliBuilt();
    const journalDir = newJournalDir();
    const out = mkdtempSync(join(tmpdir(), 'hookbench-bare-kill-'));
    try {
      // Probed runs of 1 s: a loader lives from attach to detach around each, long enough to be caught loaded.
      const run = startHookbench(['run', '--mechanisms', mechanism.name, '--workloads', 'mprotect', '--run-ms', '1000', '--max-time', '600', '--no-report', '--out', out], { journalDir });
      const deadline = Date.now() + 120_000;
      // A loader that was running both before and after programs were seen loaded (one that has only just
      // started has none yet, under TCG for a while; one that is leaving may still show its programs).
      let loaders: number[] = [];
      while (!run.exited() && Date.now() < deadline && loaders.length === 0) {
        const before = loaderChildrenOf(run.pid);
        if (before.length > 0 && loadedHookbenchPrograms().length > 0) loaders = loaderChildrenOf(run.pid).filter((p) => before.includes(p));
        if (loaders.length === 0) await sleep(5);
      }
      expect(loaders.length, 'the run never had a loader with its programs loaded').toBeGreaterThan(0);
      process.kill(run.pid, 'SIGKILL');
      expect((await run.done).signal).toBe('SIGKILL');
      // PR_SET_PDEATHSIG: the kernel kills the loader, which frees its programs and links.
      for (const start = Date.now(); loaders.some(alive) && Date.now() - start < 2_000; ) await sleep(20);
      expect(loaders.filter(alive)).toEqual([]);
      expect(await programsGone(2_000)).toEqual([]);
      expect(journalFiles(journalDir)).toEqual([`${run.pid}.json`]);
      const cleanup = await hookbench(['cleanup'], { journalDir });
      expect(cleanup.exitCode, cleanup.stderr).toBe(0);
      expect(journalFiles(journalDir)).toEqual([]);
    } finally {
      rmSync(out, { recursive: true, force: true });
      rmSync(journalDir, { recursive: true, force: true });
    }
  }, 240_000);
});

const alive = (pid: number): boolean => !hasEnded(pid);

/** hb-bpf-loader processes whose parent is `pid`. */
const loaderChildrenOf = (pid: number): number[] => childrenOf(pid, new Set(['hb-bpf-loader']));
