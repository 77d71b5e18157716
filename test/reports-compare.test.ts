import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { compareCommand, type CommandIo } from '../reports/cli.js';
import { compareExitCode, compareResults } from '../reports/compare.js';
import { mannWhitney, medianDifferenceCi } from '../reports/compareStats.js';
import { syntheticResults } from './fixtures/reports-synthetic.js';

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

describe('bootstrap CI of the difference of medians', () => {
  const noise = (seed: number) => Array.from({ length: 30 }, (_, i) => Math.sin(i * 12.9898 + seed) * 2);

  test('a sample against itself: CI around 0', () => {
    const ci = medianDifferenceCi(noise(1), noise(1), { seed: 3, resamples: 5000 });
    expect(ci.value).toBe(0);
    expect(ci.ciLow).toBeLessThan(0);
    expect(ci.ciHigh).toBeGreaterThan(0);
  });

  test('a shift of 10 is found with a CI that contains it; the same seed gives the same CI', () => {
    const shifted = noise(1).map((x) => x + 10);
    const ci = medianDifferenceCi(noise(1), shifted, { seed: 3, resamples: 5000 });
    expect(ci.value).toBeCloseTo(10, 9);
    expect(ci.ciLow).toBeLessThan(10);
    expect(ci.ciHigh).toBeGreaterThan(10);
    expect(ci.ciLow).toBeGreaterThan(7);
    expect(medianDifferenceCi(noise(1), shifted, { seed: 3, resamples: 5000 })).toEqual(ci);
  });
});

const options = { noise: 1, seed: 7, resamples: 2000, confidence: 0.95 };

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
    // Cells measured to within a few pp must show the shift; a +1100 % audit cell, whose rounds
    // scatter by tens of pp, honestly cannot tell 10 pp from noise.
    const precise = measured.filter((c) => c.base!.stats!.ciHalfWidth < 3);
    expect(precise.length).toBeGreaterThan(5);
    for (const cell of precise) {
      expect(cell.status, `${cell.mechanism} × ${cell.workload}`).toBe('regressed');
      expect(cell.rankTest!.p).toBeLessThan(0.01);
    }
    const audit = comparison.cells.find((c) => c.mechanism === 'audit' && c.workload === 'mprotect')!;
    expect(audit.base!.stats!.ciHalfWidth).toBeGreaterThan(5);
    expect(audit.status).toBe('no significant change');
    const invalid = comparison.cells.find((c) => c.mechanism === 'bpftrace' && c.workload === 'open')!;
    expect(invalid.status).toBe('not comparable');
    expect(invalid.reason).toContain('BASE is INVALID');
    expect(compareExitCode(comparison)).toBe(1);
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
    const base = await writeJson(dir, 'base.json', syntheticResults());
    const next = await writeJson(dir, 'new.json', syntheticResults({ shiftPp: 10 }));
    const io = capture();
    expect(await compareCommand(base, next, { out: dir }, io)).toBe(1);
    const text = io.stdout.join('');
    expect(text).toContain('REGRESSED beyond the ±1 pp noise allowance: tracepoint × mprotect');
    expect(text).toMatch(/tracepoint × mprotect\s+\+19\.\d % \[.*\]\s+\+29\.\d % \[.*\]\s+\+(9\.\d\d|10\.\d) pp \[/);
    const md = await readFile(join(dir, 'compare.md'), 'utf8');
    expect(md).toContain('| tracepoint × mprotect |');
    expect(md).toContain('![Change in overhead](charts/compare.png)');
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
