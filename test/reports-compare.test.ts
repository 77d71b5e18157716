import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { compareCommand, type CommandIo } from '../reports/cli.js';
import { compareExitCode, compareResults } from '../reports/compare.js';
import { blockDifferenceCi, mannWhitney, overheadChangeCi, seededRandom } from '../bench/statistics.js';
import { studentTQuantile } from '../bench/studentT.js';
import { syntheticResults } from './fixtures/reports-synthetic.js';
import { percentWithCi } from '../reports/format.js';

describe('rank test', () => {
  // scipy.stats.mannwhitneyu documentation example (males vs females).
  const males = [19, 22, 16, 29, 24];
  const females = [20, 11, 17, 12];

  test('exact p-value for small samples without ties, as scipy', () => {
    expect(mannWhitney(males, females)).toEqual({ u: 17, p: expect.closeTo(0.1111111111, 9), method: 'exact' });
    expect(mannWhitney([1, 2, 3], [4, 5, 6]).p).toBeCloseTo(0.1, 12);
  });

  test('normal approximation with continuity correction, as scipy asymptotic', () => {
    expect(mannWhitney(males, females, 'normal').p).toBeCloseTo(0.11134688653314041, 6);
  });

  test('ties fall back to the corrected normal approximation; identical samples give p = 1', () => {
    const result = mannWhitney([1, 2, 2, 3], [2, 3, 3, 4]);
    expect(result.method).toBe('normal');
    expect(mannWhitney([5, 5, 5], [5, 5, 5]).p).toBe(1);
  });
});

describe('Welch t interval of the difference of block means', () => {
  test('hand-computed example with Welch–Satterthwaite degrees of freedom (scipy agrees)', () => {
    // base = [0, 2, 7]: mean 3, s^2 = (9 + 1 + 16) / 2 = 13, s^2/n = 13/3.
    // next = [6, 8, 9, 11]: mean 8.5, s^2 = (6.25 + 0.25 + 0.25 + 6.25) / 3 = 13/3, s^2/n = 13/12.
    // difference 8.5 - 3 = 5.5; SE^2 = 13/3 + 13/12 = 65/12, SE = 2.3273733.
    // df = (65/12)^2 / ((13/3)^2 / 2 + (13/12)^2 / 3) = (4225/144) / (4225/432) = 3 exactly
    // (a pooled t would use 5). t(0.975, 3) = 3.1824463 (table), half-width 3.1824463 * 2.3273733 = 7.4067407.
    // scipy.stats.ttest_ind([6, 8, 9, 11], [0, 2, 7], equal_var=False).confidence_interval(0.95)
    //   = (-1.9067406888978793, 12.90674068889788).
    const ci = blockDifferenceCi([0, 2, 7], [6, 8, 9, 11], 0.95);
    expect(ci.value).toBe(5.5);
    expect(ci.ciLow).toBeCloseTo(-1.9067406889, 7);
    expect(ci.ciHigh).toBeCloseTo(12.9067406889, 7);
  });

  test('non-integer degrees of freedom, other confidences, as scipy', () => {
    // scipy.stats.ttest_ind(next, base, equal_var=False): df = 11.534392501749164;
    // confidence_interval(0.90) = (0.9184405785658207, 3.181559421434181),
    // confidence_interval(0.99) = (0.10292860540965565, 3.9970713945903458).
    const base = [1.2, 0.4, 2.9, 1.7, 0.8, 1.1];
    const next = [3.1, 2.2, 4.9, 2.7, 6.3, 1.9, 3.3, 2.8];
    const ninety = blockDifferenceCi(base, next, 0.9);
    expect(ninety.value).toBeCloseTo(2.05, 12);
    expect(ninety.ciLow).toBeCloseTo(0.9184405786, 7);
    expect(ninety.ciHigh).toBeCloseTo(3.1815594214, 7);
    const ninetyNine = blockDifferenceCi(base, next, 0.99);
    expect(ninetyNine.ciLow).toBeCloseTo(0.1029286054, 7);
    expect(ninetyNine.ciHigh).toBeCloseTo(3.9970713946, 7);
  });

  test('covers the true difference about 95 % of the time, with unequal spreads and block counts', () => {
    // 8 blocks of sd 1 against 4 of sd 3, true difference 3. Welch's interval covers ~94.4 % here
    // (scipy/numpy simulation); a pooled-variance t gives ~85 %, a normal 1.96 ~88 %, a t with
    // n_base + n_next - 2 df ~91 %: all outside the band below.
    const random = seededRandom(20261202);
    const gaussian = () => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
    const pairs = 4000;
    let covered = 0;
    for (let i = 0; i < pairs; i++) {
      const base = Array.from({ length: 8 }, () => 10 + gaussian());
      const next = Array.from({ length: 4 }, () => 13 + 3 * gaussian());
      const ci = blockDifferenceCi(base, next, 0.95);
      if (ci.ciLow <= 3 && 3 <= ci.ciHigh) covered++;
    }
    expect(covered / pairs).toBeGreaterThan(0.935);
    expect(covered / pairs).toBeLessThan(0.965);
  });

  test('a sample against itself: difference 0 inside the CI; no spread at all: the point', () => {
    const blocks = [20.1, 19.4, 21.3, 20.6];
    const ci = blockDifferenceCi(blocks, blocks, 0.95);
    expect(ci.value).toBe(0);
    expect(ci.ciLow).toBeLessThan(0);
    expect(ci.ciHigh).toBeGreaterThan(0);
    expect(ci.ciHigh).toBeCloseTo(-ci.ciLow, 12);
    expect(blockDifferenceCi([2, 2], [5, 5, 5], 0.95)).toEqual({ value: 3, ciLow: 3, ciHigh: 3 });
  });

  test('a cell whose hook costs more on one CPU: the change is taken within CPUs, as each side\'s CI', () => {
    // Both runs: CPU 0 near 80, CPU 1 near 40, 3 blocks each; NEW is 2 pp dearer on both CPUs.
    const base = [{ cpu: 0, blockOverheads: [79, 80, 81] }, { cpu: 1, blockOverheads: [39, 40, 41] }];
    const next = base.map((c) => ({ cpu: c.cpu, blockOverheads: c.blockOverheads.map((v) => v + 2) }));
    const change = overheadChangeCi(base, next, 0.95);
    expect(change.value).toBeCloseTo(2, 12);
    // Each side: pooled within-CPU variance 1, se^2 = 1/4 * (1/3 + 1/3) = 1/6; df 4 a side, 8 in all.
    expect(change.ciHigh - change.value).toBeCloseTo(studentTQuantile(0.975, 8) * Math.sqrt(2 / 6), 9);
    expect(change.ciLow).toBeGreaterThan(0);
    // Over all blocks, the 40 pp split between CPUs would swamp the 2 pp change.
    const flat = blockDifferenceCi(base.flatMap((c) => c.blockOverheads), next.flatMap((c) => c.blockOverheads), 0.95);
    expect(flat.ciLow).toBeLessThan(-20);
    // With 2 blocks on a CPU, the sides are taken over all their blocks, as their CIs were.
    const short = base.map((c) => ({ cpu: c.cpu, blockOverheads: c.blockOverheads.slice(0, 2) }));
    expect(overheadChangeCi(short, short, 0.95)).toEqual(blockDifferenceCi([79, 80, 39, 40], [79, 80, 39, 40], 0.95));
  });

  test('fewer than 2 values on a side is refused', () => {
    expect(() => blockDifferenceCi([1], [1, 2], 0.95)).toThrow(/at least 2 values a side/);
    expect(() => blockDifferenceCi([1, 2], [], 0.95)).toThrow(/at least 2 values a side/);
  });
});

const options = { noise: 1, confidence: 0.95 };

describe('compareResults (SYNTHETIC results)', () => {
  const base = syntheticResults();

  test('a run against itself: no significant change anywhere, exit 0', () => {
    const comparison = compareResults(base, base, options);
    const statuses = new Set(comparison.cells.map((c) => c.status));
    expect(statuses).toEqual(new Set(['no significant change', 'not comparable']));
    expect(comparison.contextChanges).toEqual([]);
    expect(compareExitCode(comparison)).toBe(0);
  });

  test('every round 10 pp worse: regressed, exit 1; cells without an overhead are not comparable', () => {
    const comparison = compareResults(base, syntheticResults({ shiftPp: 10 }), options);
    const measured = comparison.cells.filter((c) => c.base!.stats && ['PASS', 'FAIL', 'INCONCLUSIVE'].includes(c.base!.verdict));
    // Cells whose blocks agree to within a few pp must show the shift; a +1100 % audit cell, whose
    // blocks scatter by tens of pp, honestly cannot tell 10 pp from noise.
    const precise = measured.filter((c) => c.base!.stats!.betweenBlockSd < 5);
    expect(precise.length).toBeGreaterThan(5);
    for (const cell of precise) {
      const name = `${cell.mechanism} × ${cell.workload}`;
      expect(cell.status, name).toBe('regressed');
      // The change is the difference of the cells' own overheads (means of block medians), its CI
      // the Welch interval over the blocks.
      expect(cell.change, name).toEqual(overheadChangeCi(cell.base!.stats!.overheadByCpu, cell.next!.stats!.overheadByCpu, 0.95));
      expect(cell.change!.value).toBeCloseTo(cell.next!.stats!.overheadMedian.value - cell.base!.stats!.overheadMedian.value, 9);
      // The rank test is on the 4 blocks a side, not the 20 rounds: every NEW block above every BASE
      // block is U = 16, exact p = 2 / C(8, 4) = 2/70, the smallest 4 against 4 can give.
      expect(cell.rankTest, name).toEqual({ u: 16, p: expect.closeTo(2 / 70, 12), method: 'exact' });
    }
    const audit = comparison.cells.find((c) => c.mechanism === 'audit' && c.workload === 'mprotect')!;
    expect(audit.base!.stats!.ciHalfWidth).toBeGreaterThan(5);
    expect(audit.status).toBe('no significant change');
    const invalid = comparison.cells.find((c) => c.mechanism === 'bpftrace' && c.workload === 'open')!;
    expect(invalid.status).toBe('not comparable');
    expect(invalid.reason).toContain('BASE is INVALID');
    expect(compareExitCode(comparison)).toBe(1);
  });

  test('a cell with fewer than 2 blocks on either side is not comparable, and says why', () => {
    const cells = { mechanisms: ['tracepoint'], workloads: ['mprotect'] };
    const short = syntheticResults({ ...cells, rounds: 5 });
    expect(short.cells[0]!.stats!.blocks).toBe(1);
    const full = syntheticResults(cells);
    const forward = compareResults(full, short, options).cells[0]!;
    expect(forward).toMatchObject({ status: 'not comparable', change: null, rankTest: null });
    expect(forward.reason).toBe('NEW has only 1 block, a change needs at least 2 on each side');
    const both = compareResults(short, short, options).cells[0]!;
    expect(both.reason).toBe('BASE has only 1 block, a change needs at least 2 on each side; NEW has only 1 block, a change needs at least 2 on each side');
    expect(compareResults(short, full, options).cells[0]!.status).toBe('not comparable');
  });

  test('improvements, one-sided cells and a different kernel are all reported', () => {
    const better = syntheticResults({ shiftPp: -10, kernelRelease: '6.19.0-synthetic', workloads: ['mprotect', 'null', 'read'] });
    const comparison = compareResults(base, better, options);
    expect(comparison.contextChanges).toContain('kernel: 6.18.0-synthetic → 6.19.0-synthetic');
    expect(comparison.cells.find((c) => c.mechanism === 'tracepoint' && c.workload === 'mprotect')!.status).toBe('improved');
    expect(comparison.cells.find((c) => c.mechanism === 'tracepoint' && c.workload === 'open')!.status).toBe('only in BASE');
    expect(comparison.cells.find((c) => c.mechanism === 'tracepoint' && c.workload === 'read')!.status).toBe('only in NEW');
    expect(compareExitCode(comparison)).toBe(0);
  });
});

function capture(): CommandIo & { stdout: string[]; stderr: string[] } {
  const stdout: string[] = [];
  const stderr: string[] = [];
  return { stdout, stderr, out: (t) => void stdout.push(t), err: (t) => void stderr.push(t), colour: false };
}

async function writeJson(dir: string, name: string, value: unknown): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, typeof value === 'string' ? value : JSON.stringify(value));
  return path;
}

describe('hookbench compare (command)', () => {
  test('writes compare.md and compare.html with its chart; exit 1 on a regression', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hookbench-compare-'));
    const baseResults = syntheticResults();
    const nextResults = syntheticResults({ shiftPp: 10 });
    const base = await writeJson(dir, 'base.json', baseResults);
    const next = await writeJson(dir, 'new.json', nextResults);
    const overheadOf = (r: typeof baseResults) => percentWithCi(r.cells.find((c) => c.mechanism === 'tracepoint' && c.workload === 'mprotect')!.stats!.overheadMedian);
    const escape = (t: string) => t.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    const io = capture();
    expect(await compareCommand(base, next, { out: dir }, io)).toBe(1);
    const text = io.stdout.join('');
    expect(text).toContain('REGRESSED beyond the ±1 pp noise allowance: tracepoint × mprotect');
    expect(text).toMatch(new RegExp(`tracepoint × mprotect\\s+${escape(overheadOf(baseResults))}\\s+${escape(overheadOf(nextResults))}\\s+\\+(9\\.\\d\\d|10\\.\\d) pp \\[`));
    const md = await readFile(join(dir, 'compare.md'), 'utf8');
    expect(md).toContain('| tracepoint × mprotect |');
    expect(md).toContain('![Change in overhead](charts/compare.png)');
    expect(md).toContain('mean of its block medians');
    expect(md).toContain('95 % Welch t interval from each side\'s standard error as its own CI took it');
    expect(md).toContain('Mann-Whitney U test on the block medians');
    expect(md).not.toMatch(/bootstrap|per-round overheads/);
    const html = await readFile(join(dir, 'compare.html'), 'utf8');
    expect(html).toContain('id="chart-compare"');
    await readFile(join(dir, 'charts', 'compare.png'));
  });

  test('--noise wide enough turns a change into no significant change', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hookbench-compare-'));
    const base = await writeJson(dir, 'base.json', syntheticResults());
    const next = await writeJson(dir, 'new.json', syntheticResults({ shiftPp: 3 }));
    expect(await compareCommand(base, next, { out: dir, noise: '50' }, capture())).toBe(0);
  });

  const badInputs: [string, unknown][] = [
    ['corrupt JSON', '{"schemaVersion": 1, "tool": "hookb'],
    ['foreign JSON', { name: 'some-package', version: '1.0.0' }],
    ['a JSON array', [1, 2, 3]],
    ['another schema version', { ...syntheticResults({ mechanisms: ['tracepoint'], workloads: ['null'] }), schemaVersion: 99 }],
    ['a broken hookbench document', { ...syntheticResults({ mechanisms: ['tracepoint'], workloads: ['null'] }), cells: [{ mechanism: 'x' }] }],
  ];
  for (const [label, content] of badInputs) {
    test(`${label} -> exit 2 with one clear line, no stack trace`, async () => {
      const dir = await mkdtemp(join(tmpdir(), 'hookbench-compare-'));
      const good = await writeJson(dir, 'good.json', syntheticResults({ mechanisms: ['tracepoint'], workloads: ['null'] }));
      const bad = await writeJson(dir, 'bad.json', content);
      const io = capture();
      expect(await compareCommand(good, bad, { out: dir }, io)).toBe(2);
      const message = io.stderr.join('');
      expect(message.split('\n').filter(Boolean)).toHaveLength(1);
      expect(message).toMatch(/^hookbench: .*bad\.json: /);
      expect(message).not.toMatch(/\n\s+at /);
      expect(io.stdout).toEqual([]);
    });
  }

  test('a missing file, a directory without results.json and a bad --noise -> exit 2', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hookbench-compare-'));
    const good = await writeJson(dir, 'good.json', syntheticResults({ mechanisms: ['tracepoint'], workloads: ['null'] }));
    for (const [base, next, noise, expected] of [
      [good, join(dir, 'missing.json'), '1', 'no such file or directory'],
      [good, tmpdir(), '1', 'no results.json in this directory'],
      [good, good, 'lots', "--noise must be a non-negative number of percentage points, got 'lots'"],
      [good, good, '-1', 'got \'-1\''],
    ]) {
      const io = capture();
      expect(await compareCommand(base, next, { noise, out: dir }, io)).toBe(2);
      expect(io.stderr.join('')).toContain(expected);
    }
  });
});
