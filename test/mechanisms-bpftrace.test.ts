import { afterAll, describe, expect, it } from 'vitest';
import { bpftraceKfunc } from '../probes/bpftrace-kfunc.js';
import { bpftraceKretfunc } from '../probes/bpftrace-kretfunc.js';
import { bpftraceKprobe } from '../probes/bpftrace-kprobe.js';
import { bpftraceKretprobe } from '../probes/bpftrace-kretprobe.js';
import { bpftraceLsm } from '../probes/bpftrace-lsm.js';
import { bpftraceRawtracepoint } from '../probes/bpftrace-rawtracepoint.js';
import { bpftraceTracepoint } from '../probes/bpftrace-tracepoint.js';
import { countingProgram } from '../probes/bpftrace.js';
import { hookTargetFor } from '../probes/hookpoints.js';
import type { AnyMechanism, Support } from '../probes/types.js';
import { undoAll } from '../probes/undo.js';
import { attachDetachTimes, toolChildrenGone, bpfStatsValue, expectNothingLeft, ITERATIONS, needsSupport, needsUnsupported, newContext, probedRun, support } from './mechanisms-harness.js';

/**
 * The bpftrace mechanisms, attached for real. Where bpftrace or the kernel cannot run one, detect()
 * must give bpftrace's or the kernel's own reason; the attach tests are skipped with it printed.
 */
const CASES: { mechanism: AnyMechanism; whyNot: RegExp }[] = [
  { mechanism: bpftraceTracepoint, whyNot: /sys_enter_mprotect|tracepoint|BPF|not permitted|cannot start bpftrace/ },
  { mechanism: bpftraceRawtracepoint, whyNot: /bpftrace .*(rawtracepoint|raw)/ },
  { mechanism: bpftraceKprobe, whyNot: /kprobe/ },
  { mechanism: bpftraceKretprobe, whyNot: /kprobe/ },
  { mechanism: bpftraceKfunc, whyNot: /kfunc/ },
  { mechanism: bpftraceKretfunc, whyNot: /kfunc|kretfunc/ },
  { mechanism: bpftraceLsm, whyNot: /BPF LSM is not active|bpftrace .*lsm/ },
];


const figures: Record<string, { startupMs: string; detachMs: string; inProgramNs: string }> = {};

const hosts = new Map<string, Support>();
for (const { mechanism, whyNot } of CASES) {
  const host = await support(mechanism);
  hosts.set(mechanism.name, host);

  describe(mechanism.name, () => {
    it('detect() gives bpftrace\'s or the kernel\'s reason, naming what is missing', (ctx) => {
      needsUnsupported(ctx, mechanism.name, host);
      // Every reason starts with bpftrace's version: what follows it must name the missing piece.
      expect(host.reason.replace(/^bpftrace v[0-9.]+: /, '')).toMatch(whyNot);
    });

    for (const workload of ['mprotect', 'open', 'execve']) {
      it(`counts 1 per op on ${workload}, reports start-up and in-program cost, then leaves nothing`, async (test) => {
        needsSupport(test, mechanism.name, host);
        const ctx = newContext();
        const stats = bpfStatsValue();
        const run = await probedRun(mechanism, workload, ITERATIONS[workload]!, ctx);
        const expected = mechanism.expectedPerOp(hookTargetFor(workload));
        console.log(
          `${mechanism.name} × ${workload}: ${run.count.events} events / ${run.ops} ops = ${run.perOp.toFixed(4)} per op; ` +
            `start-up ${run.count.startupMs?.toFixed(0)} ms, in-program ${run.count.inProgramNs?.toFixed(1)} ns/run`,
        );
        // Only the workload's own process tree counts (probes/types.ts): exact to 1 % both ways.
        expect(Math.abs(run.perOp - expected)).toBeLessThanOrEqual(0.01 * expected);
        expect(run.count.startupMs).toBeGreaterThan(0);
        expect(run.count.inProgramNs).toBeGreaterThan(0);
        expectNothingLeft(ctx, stats);
        if (workload === 'mprotect') {
          figures[mechanism.name] = {
            startupMs: run.count.startupMs!.toFixed(0),
            detachMs: run.detachMs.toFixed(1),
            inProgramNs: run.count.inProgramNs!.toFixed(1),
          };
        }
      });
    }

    it('journals everything it creates: undoing the journal alone (as cleanup does after SIGKILL) leaves nothing', async (test) => {
      needsSupport(test, mechanism.name, host);
      const ctx = newContext();
      const stats = bpfStatsValue();
      await mechanism.attach(hookTargetFor('mprotect'), ctx);
      expect(ctx.journal.pendingWithIds.length).toBeGreaterThan(0);
      expect(await undoAll(ctx.journal)).toEqual([]);
      // The journal's undo may end with SIGKILL (see probes/bpftrace.ts on SIGTERM) and does not wait for the death.
      await toolChildrenGone(2000);
      expectNothingLeft(ctx, stats);
    });

    it('counts nothing on null (getppid), then leaves nothing', async (test) => {
      needsSupport(test, mechanism.name, host);
      const ctx = newContext();
      const stats = bpfStatsValue();
      const run = await probedRun(mechanism, 'null', ITERATIONS.null!, ctx);
      console.log(`${mechanism.name} × null: ${run.count.events} events / ${run.ops} ops`);
      expect(run.perOp).toBeLessThanOrEqual(0.01);
      expectNothingLeft(ctx, stats);
    });
  });
}

afterAll(() => {
  if (Object.keys(figures).length) console.table(figures);
});

describe('bpftrace start-up and stop time (reported; never inside a timed run)', () => {
  for (const { mechanism } of CASES) {
    it(`${mechanism.name}: median of 5 cycles`, async (test) => {
      needsSupport(test, mechanism.name, hosts.get(mechanism.name));
      const t = await attachDetachTimes(mechanism, 5);
      console.log(`${mechanism.name}: start-up ${t.startupMs!.toFixed(0)} ms (attach ${t.attachMs.toFixed(0)} ms), stop ${t.detachMs.toFixed(0)} ms`);
      expect(t.startupMs).toBeGreaterThan(0);
      expect(t.startupMs).toBeLessThanOrEqual(t.attachMs);
    });
  }
});

describe('bpf stats', () => {
  it('stay as found and give no in-program figure when the context turns them off', async (test) => {
    needsSupport(test, 'bpftrace-tracepoint', hosts.get('bpftrace-tracepoint'));
    const ctx = { ...newContext(), bpfStats: false };
    const stats = bpfStatsValue();
    const handle = await bpftraceTracepoint.attach(hookTargetFor('mprotect'), ctx);
    expect(bpfStatsValue()).toBe(stats);
    expect(ctx.journal.pendingWithIds.map((e) => e.entry.kind)).toEqual(['process']);
    const count = await bpftraceTracepoint.count(handle, { pid: process.pid });
    await bpftraceTracepoint.detach(handle);
    expect(count.inProgramNs).toBeNull();
    expectNothingLeft(ctx, stats);
  });
});

describe('bpftrace start-up failures', () => {
  it('a bpftrace that cannot start restores the stats sysctl and says why', async () => {
    const ctx = newContext();
    const stats = bpfStatsValue();
    const path = process.env.PATH;
    process.env.PATH = '/nonexistent';
    try {
      await expect(bpftraceTracepoint.attach(hookTargetFor('mprotect'), ctx)).rejects.toThrow(/cannot start bpftrace: .*ENOENT/);
    } finally {
      process.env.PATH = path;
    }
    expectNothingLeft(ctx, stats);
  });
});

describe('bpftrace programs', () => {
  it('hold only validated names and numbers', () => {
    expect(countingProgram({ type: 'tracepoint', target: 'syscalls:sys_enter_mprotect' }, ['hb-mprotect'])).toBe(
      'BEGIN { printf("hookbench-ready\\n"); } tracepoint:syscalls:sys_enter_mprotect /comm == "hb-mprotect"/ { @hookbench = count(); }',
    );
    expect(countingProgram({ type: 'rawtracepoint', target: 'sys_enter', filter: 'arg1 == 10' }, ['hb-execve', 'hb-execve-child'])).toContain(
      '/(arg1 == 10) && (comm == "hb-execve" || comm == "hb-execve-child")/ {',
    );
    expect(countingProgram({ type: 'rawtracepoint', target: 'sys_enter', filter: 'arg1 == 10' }, null)).toContain('/arg1 == 10/ {');
    expect(() => countingProgram({ type: 'system', target: 'x' }, null)).toThrow(/refusing/);
    expect(() => countingProgram({ type: 'kprobe', target: 'vfs_read { system("id") }' }, null)).toThrow(/refusing/);
    expect(() => countingProgram({ type: 'kprobe', target: 'vfs_read', filter: 'arg0 == 1/ { system("id") } /1' }, null)).toThrow(/refusing/);
    expect(() => countingProgram({ type: 'kprobe', target: 'vfs_read' }, ['x" || 1 == 1 || comm == "y'])).toThrow(/refusing/);
  });
});
