import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { execa } from 'execa';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { UsageError } from '../bench/errors.js';
import { predictCommand, registerPredictCommand, type RawPredictOptions } from '../bench/predict.js';
import { compareWithMeasured, mechanismCosts, predictOverhead, profileHookSets, syscallHookSet, type MechanismCosts } from '../bench/predictModel.js';
import type { Cell, Results, Round } from '../bench/results.js';
import { cellStats, decideVerdict } from '../bench/statistics.js';
import { parseCountingCsv, parseDuration, RATES_FORMAT, recordMachine, recordWorkload, type SyscallRates } from '../bench/syscallRates.js';
import { hookTargetFor } from '../probes/hookpoints.js';
import { ELKEID_DEFAULT } from '../probes/profiles.js';
import { buildWorkloads, workloadArgv } from '../workloads/build.js';
import { syntheticResults } from './fixtures/reports-synthetic.js';

/**
 * Issue 6, `hookbench predict`: the model's arithmetic on fixed inputs (costs made of rounds with
 * known added ns, rates with known counts), its bootstrap CI and verdict, the command's inputs, and
 * recording syscall rates for real on this machine.
 */

const scratch = mkdtempSync(join(tmpdir(), 'hookbench-issue6-predict-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** Rounds whose probed runs add `added[i]` ns per op to a 1000 ns baseline (alternating order). */
function rounds(added: readonly number[], expectedPerOp: number): Round[] {
  let clock = 1_800_000_000_000;
  const run = (arm: 'baseline' | 'probed', nsPerOp: number) => ({
    arm,
    startedAt: (clock += 1000),
    ops: 1000,
    ns: nsPerOp * 1000,
    nsPerOp,
    perf: {},
    ...(arm === 'probed' ? { events: expectedPerOp * 1000, inProgramNs: null } : {}),
  });
  return added.map((ns, index) => {
    const baseline = run('baseline', 1000);
    const probed = run('probed', 1000 + ns);
    return { index, order: ['baseline', 'probed'], baseline, probed };
  });
}

function cell(mechanism: string, workload: string, added: readonly number[]): Cell {
  const expectedPerOp = hookTargetFor(workload).expectedPerOp;
  const r = rounds(added, expectedPerOp);
  const options = { expectedPerOp, precision: 1, confidence: 0.95, resamples: 1000, seed: 1, budget: 5, minRounds: 2 };
  const measures = cellStats(r, options);
  const { verdict, reason } = decideVerdict(measures, options);
  return { mechanism, workload, hookPoint: '-', expectedEventsPerOp: expectedPerOp, iterations: 1000, warmup: [], rounds: r, stats: { ...measures, stopReason: 'precision' }, verdict, reason, elapsedS: 1 };
}

/** A valid results document (the envelope of the synthetic fixture) holding exactly these cells. */
function resultsWith(cells: Cell[]): Results {
  return { ...syntheticResults({ mechanisms: ['tracepoint'], workloads: ['mprotect'], rounds: 3 }), cells };
}

const FIXED_COSTS = resultsWith([
  cell('tracepoint', 'mprotect', [500, 500, 500, 500]),
  cell('tracepoint', 'null', [20, 20, 20, 20]),
  cell('tracepoint', 'execve', [5000, 5000, 5000, 5000]),
]);

const RATES: SyscallRates = {
  format: RATES_FORMAT,
  source: 'fixed',
  recordedAt: '2026-11-25T00:00:00Z',
  host: 'test',
  durationS: 1,
  cpuS: 1,
  ops: null,
  totalCalls: 10_000,
  calls: { execve: 100, mprotect: 1000, openat: 500, connect: 50 },
};

const OPTIONS = { budget: 5, resamples: 2000, confidence: 0.95, seed: 1 };

describe('predict: the model on fixed inputs', () => {
  it('hooked calls at their own cell\'s cost (or mprotect\'s), every other call at the null cost, over CPU time', () => {
    const costs = mechanismCosts(FIXED_COSTS, 'tracepoint') as MechanismCosts;
    expect([...costs.hit.keys()].sort()).toEqual(['execve', 'mprotect']);
    const p = predictOverhead(RATES, costs, { name: 'set', mechanism: 'tracepoint', hits: new Map([['execve', 1], ['openat', 1]]) }, OPTIONS);
    // 100 execve x 5000 ns + 500 openat x 500 ns (mprotect's) + (10000 - 600) other x 20 ns, per 1 CPU-s.
    const addedNs = 100 * 5000 + 500 * 500 + 9400 * 20;
    expect(p.overhead.value).toBeCloseTo((addedNs / 1e9) * 100, 10);
    // Constant costs: every resample gives the same prediction.
    expect(p.overhead.ciLow).toBeCloseTo(p.overhead.value, 10);
    expect(p.overhead.ciHigh).toBeCloseTo(p.overhead.value, 10);
    expect(p.verdict).toBe('PASS');
    expect(p.hookedPerCpuS).toBe(600);
    expect(p.otherPerCpuS).toBe(9400);
    expect(p.sources.sort()).toEqual(['tracepoint x execve', 'tracepoint x mprotect', 'tracepoint x null']);
  });

  it('a workload run: added time over its wall time, or its CPU time when it fills more than one CPU', () => {
    const costs = mechanismCosts(FIXED_COSTS, 'tracepoint') as MechanismCosts;
    const set = syscallHookSet('tracepoint', ['execve']);
    const machine = predictOverhead(RATES, costs, set, OPTIONS).overhead.value;
    const sequential = predictOverhead({ ...RATES, ops: 100, cpuS: 0.5, durationS: 1 }, costs, set, OPTIONS).overhead.value;
    const parallel = predictOverhead({ ...RATES, ops: 100, cpuS: 2, durationS: 1 }, costs, set, OPTIONS).overhead.value;
    expect(sequential).toBeCloseTo(machine, 10);
    expect(parallel).toBeCloseTo(machine / 2, 10);
  });

  it('a hook reached twice per call (execve: bprm_execve and commit_creds) costs twice', () => {
    const costs = mechanismCosts(FIXED_COSTS, 'tracepoint') as MechanismCosts;
    const once = predictOverhead(RATES, costs, { name: 'a', mechanism: 'tracepoint', hits: new Map([['execve', 1]]) }, OPTIONS);
    const twice = predictOverhead(RATES, costs, { name: 'b', mechanism: 'tracepoint', hits: new Map([['execve', 2]]) }, OPTIONS);
    expect(twice.overhead.value - once.overhead.value).toBeCloseTo(((100 * 5000) / 1e9) * 100, 10);
  });

  it('the CI comes from resampling the rounds: it holds the estimate, widens with noise, and decides the verdict', () => {
    const noisy = resultsWith([cell('audit', 'mprotect', [9000, 11000, 10000, 12000, 8000, 10500]), cell('audit', 'null', [100, 300, 200, 250, 150, 200])]);
    const costs = mechanismCosts(noisy, 'audit') as MechanismCosts;
    const rates = { ...RATES, cpuS: 0.5 };
    const p = predictOverhead(rates, costs, syscallHookSet('audit', ['mprotect']), OPTIONS);
    // 1000 x median 10250 + 9000 x median 200, per 0.5 CPU-s.
    expect(p.overhead.value).toBeCloseTo(((1000 * 10250 + 9000 * 200) / 0.5e9) * 100, 10);
    expect(p.overhead.ciLow).toBeLessThan(p.overhead.value);
    expect(p.overhead.ciHigh).toBeGreaterThan(p.overhead.value);
    expect(p.verdict).toBe('PASS');
    expect(predictOverhead(rates, costs, syscallHookSet('audit', ['mprotect']), { ...OPTIONS, budget: 1 }).verdict).toBe('FAIL');
    expect(predictOverhead(rates, costs, syscallHookSet('audit', ['mprotect']), { ...OPTIONS, budget: p.overhead.value }).verdict).toBe('INCONCLUSIVE');
    // Same seed, same CI.
    expect(predictOverhead(rates, costs, syscallHookSet('audit', ['mprotect']), OPTIONS).overhead).toEqual(p.overhead);
  });

  it('falls back to the open cell\'s cost where the mprotect cell is unusable', () => {
    const invalid = { ...cell('audit', 'mprotect', [1, 2]), verdict: 'INVALID' as const };
    const costs = mechanismCosts(resultsWith([invalid, cell('audit', 'open', [700, 700]), cell('audit', 'null', [5, 5])]), 'audit') as MechanismCosts;
    expect(costs.defaultHit.cell).toBe('audit x open');
  });

  it('says which cells a mechanism lacks instead of predicting', () => {
    expect(mechanismCosts(resultsWith([cell('audit', 'mprotect', [1, 2])]), 'audit')).toEqual({ missing: 'audit: the results hold no usable null cell' });
    expect(mechanismCosts(FIXED_COSTS, 'kprobe')).toEqual({ missing: 'kprobe: the results hold no usable mprotect, open, execve and null cell' });
  });

  it('profile hook sets: syscalls at the syscall layer, reached-by at the function layer', () => {
    const sets = new Map(profileHookSets(ELKEID_DEFAULT).map((s) => [s.name, s]));
    const tp = sets.get('elkeid-default/tracepoint')!;
    expect(tp.mechanism).toBe('tracepoint');
    expect(tp.hits.get('openat')).toBe(1);
    expect(tp.hits.get('renameat2')).toBe(1);
    expect(tp.hits.has('commit_creds' as never)).toBe(false);
    const kp = sets.get('elkeid-default/kprobe')!;
    // execve reaches bprm_execve (execve hook) and commit_creds (update_cred hook).
    expect(kp.hits.get('execve')).toBe(2);
    expect(kp.hits.has('openat')).toBe(false);
  });

  it('puts each prediction beside the measured cell of the recorded workload', () => {
    const measured = resultsWith([...FIXED_COSTS.cells, cell('tracepoint', 'hids-mix', [30, 30, 30])]);
    const costs = mechanismCosts(measured, 'tracepoint') as MechanismCosts;
    const p = predictOverhead(RATES, costs, syscallHookSet('tracepoint', ['execve']), OPTIONS);
    const [c] = compareWithMeasured([p], measured, 'hids-mix');
    expect(c!.measured!.value).toBeCloseTo(3, 10);
    expect(c!.errorPp).toBeCloseTo(p.overhead.value - 3, 10);
    expect(compareWithMeasured([p], measured, 'build')[0]!.measured).toBeNull();
  });
});

describe('predict: the command', () => {
  const resultsDir = join(scratch, 'results');
  mkdirSync(resultsDir);
  writeFileSync(join(resultsDir, 'results.json'), JSON.stringify(resultsWith([...FIXED_COSTS.cells, cell('audit', 'mprotect', [1, 2])])));
  const ratesFile = join(scratch, 'rates.json');
  writeFileSync(ratesFile, JSON.stringify(RATES));
  const base: RawPredictOptions = { results: resultsDir, rates: ratesFile, profile: 'elkeid-default', budget: '5', resamples: '1000', seed: '1' };

  it('predicts the profile\'s realisations that have costs and the single mechanisms on --syscalls, and names the rest', async () => {
    const report = await predictCommand({ ...base, syscalls: 'execve,openat' });
    const names = report.comparisons.map((c) => c.prediction.name);
    expect(names).toEqual(['tracepoint', 'elkeid-default/tracepoint']);
    expect(report.skipped).toContain('audit: audit: the results hold no usable null cell');
    expect(report.skipped).toContain('elkeid-default/kprobe: kprobe: the results hold no usable mprotect, open, execve and null cell');
  });

  it('prints a table through the registered command, exit code as run\'s (0: every prediction passes)', async () => {
    let code = -1;
    const program = registerPredictCommand(new Command().exitOverride(), (c) => (code = c)).parent!;
    const out: string[] = [];
    const spy = vi.spyOn(process.stdout, 'write').mockImplementation((s) => (out.push(String(s)), true));
    try {
      await program.parseAsync(['predict', '--results', resultsDir, '--rates', ratesFile, '--mechanisms', 'tracepoint'], { from: 'user' });
    } finally {
      spy.mockRestore();
    }
    expect(out.join('')).toMatch(/^elkeid-default\/tracepoint\s+\d+\s+\+0\.\d\d \[/m);
    expect(code).toBe(0);
  });

  const refused: [string, Partial<RawPredictOptions>, RegExp][] = [
    ['no source of rates', { rates: undefined }, /exactly one of --record/],
    ['two sources', { record: '10s' }, /exactly one of/],
    ['a bad duration', { rates: undefined, record: '10 minutes' }, /--record must be a duration/],
    ['an unknown workload', { rates: undefined, workload: 'nope' }, /unknown workload 'nope'/],
    ['a syscall outside the table', { syscalls: 'execve;reboot' }, /--syscalls: invalid syscall/],
    ['an unknown profile', { profile: 'elkeid-sandbox' }, /unknown profile/],
    ['a rates file that is not one', { rates: join(resultsDir, 'results.json') }, /not a hookbench rates file/],
    ['no results', { results: join(scratch, 'none') }, /no such file or directory/],
    ['a bad budget', { budget: '5%' }, /--budget must be a number/],
  ];
  it.each(refused)('refuses %s with one line (exit 2)', async (_what, change, message) => {
    const err = await predictCommand({ ...base, ...change }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect(['UsageError', 'ResultsInputError']).toContain((err as Error).constructor.name);
    expect((err as Error).message).toMatch(message);
  });

  it('parses durations and perf counting output strictly', () => {
    expect(parseDuration('10s')).toBe(10);
    expect(parseDuration('2.5')).toBe(2.5);
    expect(() => parseDuration('0s')).toThrow(UsageError);
    expect(() => parseDuration('-1s')).toThrow(UsageError);
    const csv = '# started\n\n12,,syscalls:sys_enter_execve,100,100.00,,\n<not counted>,,raw_syscalls:sys_enter,0,0,,\n';
    expect(() => parseCountingCsv(csv, ['syscalls:sys_enter_execve', 'raw_syscalls:sys_enter'])).toThrow(/not counted/);
    expect(parseCountingCsv(csv, ['syscalls:sys_enter_execve']).get('syscalls:sys_enter_execve')).toBe(12);
    expect(() => parseCountingCsv(csv, ['syscalls:sys_enter_mount'])).toThrow(/no count for syscalls:sys_enter_mount/);
  });
});

describe('predict: recording syscall rates for real on this machine', () => {
  it('--record: every CPU, every process, while a hids-mix runs beside it', async () => {
    const built = await buildWorkloads();
    const [bin, ...args] = workloadArgv(built, 'hids-mix', 300);
    const recording = recordMachine(1.5);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const workload = await execa(bin!, args);
    const rates = await recording;
    console.log(`--record 1.5s: ${rates.totalCalls} syscalls, ${rates.cpuS} CPU-s busy, execve ${rates.calls.execve}, connect ${rates.calls.connect}, mount ${rates.calls.mount}`);
    expect(workload.exitCode).toBe(0);
    expect(rates.durationS).toBeGreaterThanOrEqual(1.5);
    expect(rates.cpuS).toBeGreaterThan(0);
    expect(rates.cpuS).toBeLessThanOrEqual(rates.durationS * 2 + 0.05);
    // The part of the workload's 300 ops that fell inside the window: some, never more than all.
    expect(rates.calls.mount).toBeGreaterThan(0);
    expect(rates.calls.connect).toBeGreaterThanOrEqual(2 * rates.calls.mount! - 4);
    expect(rates.totalCalls).toBeGreaterThan(Object.values(rates.calls).reduce((a, b) => a + b, 0));
  });

  it('--workload: one run\'s process tree, its mix times its ops (plus set-up)', async () => {
    const rates = await recordWorkload(await buildWorkloads(), 'hids-mix', 40);
    expect(rates.ops).toBe(40);
    const mix = hookTargetFor('hids-mix').mix!;
    for (const [s, perOp] of Object.entries(mix)) {
      expect(rates.calls[s]! - 40 * perOp!, s).toBeGreaterThanOrEqual(0);
      expect(rates.calls[s]! - 40 * perOp!, s).toBeLessThanOrEqual(3);
    }
    expect(rates.cpuS).toBeGreaterThan(0);
  });
});
