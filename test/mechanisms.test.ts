import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';
import { functionFileOffset, importedFunctions, readElf } from '../probes/elf.js';
import { ftrace } from '../probes/ftrace.js';
import { hookTargetFor, type HookTarget } from '../probes/hookpoints.js';
import { kprobe } from '../probes/kprobe.js';
import { kretprobe } from '../probes/kretprobe.js';
import { rawSyscalls } from '../probes/raw-syscalls.js';
import { MECHANISMS } from '../probes/registry.js';
import { kernelFunction, syscallNumber } from '../probes/symbols.js';
import { uprobe } from '../probes/uprobe.js';
import type { AnyMechanism, Support } from '../probes/types.js';
import { undoAll } from '../probes/undo.js';
import { attachDetachTimes, bpfStatsValue, expectNothingLeft, ITERATIONS, INJECTIONS, needsSupport, needsUnsupported, newContext, probedRun, support } from './mechanisms-harness.js';

/**
 * The tracefs mechanisms (raw-syscalls, kprobe, kretprobe, ftrace) and uprobe, attached for real on
 * this kernel. Those the kernel lacks must say why in the kernel's words; their attach tests are
 * skipped with that reason (test/guest.test.ts runs this file again in a Debian kernel that has them).
 */
const CASES: { mechanism: AnyMechanism; whyNot: RegExp }[] = [
  { mechanism: rawSyscalls, whyNot: /raw_syscalls/ },
  { mechanism: kprobe, whyNot: /kprobe_events/ },
  { mechanism: kretprobe, whyNot: /kprobe_events/ },
  { mechanism: ftrace, whyNot: /^function tracer: .*(set_ftrace_filter|current_tracer)/ },
  { mechanism: uprobe, whyNot: /uprobe_events/ },
];


const timings: Record<string, { attachMs: string; detachMs: string }> = {};

const hosts = new Map<string, Support>();
for (const { mechanism, whyNot } of CASES) {
  const host = await support(mechanism);
  hosts.set(mechanism.name, host);

  describe(mechanism.name, () => {
    it('detect() gives the kernel\'s reason', (ctx) => {
      needsUnsupported(ctx, mechanism.name, host);
      expect(host.reason).toMatch(whyNot);
    });

    for (const workload of ['mprotect', 'open', 'execve']) {
      it(`fires ${mechanism.expectedPerOp(hookTargetFor(workload))} per op on ${workload}, then leaves nothing`, async (test) => {
        needsSupport(test, mechanism.name, host);
        const ctx = newContext();
        const stats = bpfStatsValue();
        const run = await probedRun(mechanism, workload, ITERATIONS[workload]!, ctx);
        const expected = mechanism.expectedPerOp(hookTargetFor(workload));
        console.log(`${mechanism.name} × ${workload}: ${run.count.events} events / ${run.ops} ops = ${run.perOp.toFixed(4)} per op`);
        // Only the workload's own process tree counts (probes/types.ts): exact to 1 % both ways.
        expect(Math.abs(run.perOp - expected)).toBeLessThanOrEqual(0.01 * expected);
        expectNothingLeft(ctx, stats);
        if (workload === 'mprotect') timings[mechanism.name] = { attachMs: run.attachMs.toFixed(1), detachMs: run.detachMs.toFixed(1) };
      });
    }

    it('journals everything it creates: undoing the journal alone (as cleanup does after SIGKILL) leaves nothing', async (test) => {
      needsSupport(test, mechanism.name, host);
      const ctx = newContext();
      const stats = bpfStatsValue();
      await mechanism.attach(hookTargetFor('mprotect'), ctx);
      expect(ctx.journal.pendingWithIds.length).toBeGreaterThan(0);
      expect(await undoAll(ctx.journal)).toEqual([]);
      expectNothingLeft(ctx, stats);
    });

    it('does not fire on null (getppid), then leaves nothing', async (test) => {
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
  if (Object.keys(timings).length) console.table(timings);
});

// How long attach and detach take is a benchmark figure (`hookbench doctor --latency`, README), not a
// timed test: what a test can hold is that cycling leaks nothing and leaves the mechanism working.
describe('repeated attach → detach cycles', () => {
  for (const { mechanism } of CASES) {
    it(`${mechanism.name}: 10 cycles leave nothing each time, then it still counts exactly`, async (test) => {
      needsSupport(test, mechanism.name, hosts.get(mechanism.name));
      await attachDetachTimes(mechanism, 10);
      const ctx = newContext();
      const stats = bpfStatsValue();
      const run = await probedRun(mechanism, 'mprotect', ITERATIONS.mprotect!, ctx);
      const expected = mechanism.expectedPerOp(hookTargetFor('mprotect'));
      expect(Math.abs(run.perOp - expected)).toBeLessThanOrEqual(0.01 * expected);
      expectNothingLeft(ctx, stats);
    });
  }
});

describe('hook points (what `hookbench list` prints)', () => {
  it('every mechanism names one for every workload, from the hook table alone', () => {
    const table = Object.fromEntries(MECHANISMS.map((m) => [m.name, ['mprotect', 'null', 'execve', 'open'].map((w) => m.hookPoint(hookTargetFor(w)))]));
    console.table(table);
    expect(table['raw-syscalls']![0]).toBe('raw_syscalls:sys_enter,sys_exit (id == 10)');
    expect(table['kprobe']![2]).toBe('p:bprm_execve');
    expect(table['ftrace']![3]).toBe('function:do_sys_openat2');
    expect(table['uprobe']![3]).toBe('uprobe:libc:open');
    expect(table['bpftrace-rawtracepoint']![3]).toBe('rawtracepoint:sys_enter /arg1 == 257/');
    expect(table['bpftrace-lsm']![2]).toBe('lsm:bprm_check_security');
    expect(table['bpf-raw-tp']![3]).toBe('raw_tp/sys_enter (id == 257)');
    expect(table['bpf-tp']![2]).toBe('tp/syscalls/sys_enter_execve');
    expect(table['bpf-fmod-ret']![2]).toBe('fmod_ret/security_bprm_check');
    expect(table['bpf-kprobe-multi']![0]).toBe('kprobe.multi/do_mprotect_pkey');
    expect(table['bpf-uprobe']![3]).toBe('uprobe/libc:open');
    // null hooks what mprotect hooks: its events are what the hook costs other syscalls.
    for (const points of Object.values(table)) expect(points[1]).toBe(points[0]);
  });
});

describe('hook target validation', () => {
  const evil = (value: string): HookTarget => ({
    workload: 'mprotect',
    syscall: value as HookTarget['syscall'],
    kernelFunction: value,
    lsmHook: value,
    securityFunction: value,
    pathTracepoint: null,
    expectedPerOp: 1,
  });

  // `none` attaches nothing, whatever the target: there is nothing to inject into.
  for (const mechanism of MECHANISMS.filter((m) => !m.name.startsWith('audit') && m.name !== 'tracepoint' && m.family !== 'none')) {
    it(`${mechanism.name} refuses injection attempts before touching the kernel`, async () => {
      for (const value of INJECTIONS) {
        const ctx = newContext();
        const stats = bpfStatsValue();
        await expect(mechanism.attach(evil(value), ctx)).rejects.toThrow(/invalid|refus|not in hookbench's syscall table/);
        expectNothingLeft(ctx, stats);
      }
    });
  }

  it('accepts only kernel functions this kernel lists', () => {
    expect(kernelFunction('do_mprotect_pkey')).toBe('do_mprotect_pkey');
    expect(() => kernelFunction('hookbench_no_such_function')).toThrow(/is not in (\/proc\/kallsyms|.*available_filter_functions)/);
    expect(() => kernelFunction('vfs_read;')).toThrow(/not a C identifier/);
  });

  it('takes syscall numbers from the fixed table only', () => {
    expect(syscallNumber('mprotect')).toBe(10);
    expect(() => syscallNumber('toString')).toThrow(/not in hookbench's syscall table/);
  });
});

describe('ELF reader', () => {
  it('finds libc symbols where nm does, and a workload\'s imports', async () => {
    const { stdout } = await execa('ldd', ['/bin/true']);
    const libc = /libc\.so\.6 => (\S+)/.exec(stdout)![1]!;
    const elf = readElf(libc);
    const nm = await execa('nm', ['-D', '--defined-only', libc]);
    for (const name of ['mprotect', 'open', 'execve']) {
      const line = nm.stdout.split('\n').find((l) => l.endsWith(` ${name}@@GLIBC_2.2.5`) || l.endsWith(` ${name}`))!;
      const vaddr = Number.parseInt(line.split(' ')[0]!, 16);
      expect(elf.symbols.find((s) => s.name === name && s.defined)?.value).toBe(vaddr);
      expect(functionFileOffset(elf, name)).toBeGreaterThan(0);
    }
    expect(importedFunctions(readElf('/bin/true'))).toContain('__libc_start_main');
    expect(() => readElf('/etc/hostname')).toThrow(/not an ELF file/);
  });
});
