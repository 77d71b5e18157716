import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, test } from 'vitest';
import type { Results } from '../bench/results.js';
import { compareCommand, reportCommand, type CommandIo } from '../reports/cli.js';
import { eventsPerOp, nsWithCi, percentWithCi } from '../reports/format.js';
import { sequentialPlan } from '../bench/statistics.js';
import { placementLine } from '../reports/environment.js';
import { loadResults } from '../reports/load.js';
import { confidenceText } from '../reports/method.js';
import { hasOverhead } from '../reports/model.js';
import { blocksText } from '../reports/summaryRows.js';
import { ensureCliBuilt, hookbench, newJournalDir } from './cliHarness.js';

/**
 * Reports of a real short run on this kernel (tracepoint on mprotect and null): the CSV and the
 * Markdown must say exactly what the results JSON holds, and compare must judge a run against itself
 * and against a shifted copy correctly.
 */

let runDir: string;
let results: Results;

beforeAll(async () => {
  await ensureCliBuilt();
  runDir = join(await mkdtemp(join(tmpdir(), 'hookbench-real-')), 'run');
  const run = await hookbench(['run', '--mechanisms', 'tracepoint', '--workloads', 'mprotect,null', '--max-time', '20', '--out', runDir], { journalDir: newJournalDir() });
  expect([0, 1, 3], `hookbench run failed:\n${run.stderr}`).toContain(run.exitCode);
  results = (await loadResults(runDir)).results;
}, 300_000);

function capture(): CommandIo & { stdout: string[]; stderr: string[] } {
  const stdout: string[] = [];
  const stderr: string[] = [];
  return { stdout, stderr, out: (t) => void stdout.push(t), err: (t) => void stderr.push(t), colour: false };
}

const mprotectCell = () => results.cells.find((c) => c.workload === 'mprotect')!;

describe('hookbench report on a real run', () => {
  let files: Record<string, string>;

  beforeAll(async () => {
    const io = capture();
    expect(await reportCommand([runDir], {}, io)).toBe(0);
    expect(io.stdout.join('')).toMatch(new RegExp(`wrote \\d+ files to ${runDir}`));
    for (const ext of ['vl.json', 'svg', 'png']) await readFile(join(runDir, 'charts', `overhead.${ext}`));
    const read = (name: string) => readFile(join(runDir, name), 'utf8');
    files = { csv: await read('results.csv'), md: await read('summary.md'), html: await read('report.html') };
  });

  test('the probe fired on mprotect: a measured cell, about one event per op', () => {
    const cell = mprotectCell();
    expect(cell.verdict).toMatch(/^(PASS|FAIL|INCONCLUSIVE)$/);
    expect(cell.stats!.eventsPerOp.median).toBeGreaterThanOrEqual(0.99);
  });

  test('results.csv holds every run of the JSON, figure for figure', () => {
    const [header, ...rows] = files.csv.trimEnd().split('\n');
    const columns = header.split(',');
    const records = rows.map((line) => Object.fromEntries(line.split(',').map((v, i) => [columns[i], v])));
    expect(records).toHaveLength(2 * results.cells.reduce((n, c) => n + c.rounds.length, 0));
    for (const cell of results.cells) {
      for (const round of cell.rounds) {
        for (const arm of ['baseline', 'probed'] as const) {
          const record = records.find((r) => r.workload === cell.workload && r.round === String(round.index) && r.arm === arm)!;
          expect(Number(record.ns_per_op)).toBe(round[arm].nsPerOp);
          expect(Number(record.ns)).toBe(round[arm].ns);
          expect(record.events).toBe(round[arm].events === undefined ? '' : String(round[arm].events));
          expect(record.perf_task_clock).toBe(String(round[arm].perf['task-clock'] ?? ''));
          expect(record.kernel).toBe(results.environment.kernelRelease);
          expect(Number(record.block)).toBe(round.block);
          expect(Number(record.cpu)).toBe(round.cpu);
          expect(record.blocks).toBe(cell.stats ? String(cell.stats.blocks) : '');
          expect(record.migrated_runs).toBe(cell.stats ? String(cell.stats.migratedRuns) : '');
        }
      }
    }
  });

  test('summary.md states each cell as the JSON does', () => {
    for (const cell of results.cells) {
      const line = files.md.split('\n').find((l) => l.startsWith(`| tracepoint × ${cell.workload} |`))!;
      expect(line).toContain(`**${cell.verdict}**`);
      if (!cell.stats) continue;
      expect(line).toContain(percentWithCi(cell.stats.overheadMedian));
      expect(line).toContain(eventsPerOp(cell.stats.eventsPerOp.median));
      if (cell.stats.nsPerEvent) expect(line).toContain(nsWithCi(cell.stats.nsPerEvent));
      if (hasOverhead(cell)) expect(line).toContain(`| ${percentWithCi(cell.stats.overheadMedian)} | ${blocksText(cell.stats)} |`);
      if (cell.stats.migratedRuns > 0) expect(line).toContain(`${cell.stats.migratedRuns} migrated run`);
    }
    expect(files.md).toContain(`Linux ${results.environment.kernelRelease}`);
    expect(files.md).toContain(`**Placement:** ${placementLine(results.placement)}`);
    const { looks, lookConfidence } = sequentialPlan(results.options);
    expect(files.md).toContain(`looked at after ${looks.join(', ')} blocks at ${confidenceText(lookConfidence)} per look`);
  });

  test('report.html links the JSON and the CSV beside it', () => {
    expect(files.html).toContain('href="results.json"');
    expect(files.html).toContain('href="results.csv"');
    expect(files.html).toContain(results.environment.cpuModel);
  });
});

describe('hookbench compare on a real run', () => {
  test('the run against itself: no significant change, exit 0', async () => {
    const io = capture();
    const out = await mkdtemp(join(tmpdir(), 'hookbench-real-compare-'));
    expect(await compareCommand(runDir, runDir, { out }, io)).toBe(0);
    const text = io.stdout.join('');
    expect(text).toContain('Same kernel, machine and hookbench version.');
    for (const cell of results.cells.filter((c) => c.stats)) expect(text).toMatch(new RegExp(`tracepoint × ${cell.workload} .* no significant change`));
  });

  test('a copy with every round shifted well beyond the noise: regressed, exit 1', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hookbench-real-shifted-'));
    const cell = mprotectCell();
    // Beyond the run's own noise: 10 pp plus three widths of its CI.
    const shift = 10 + 3 * (cell.stats!.overheadMedian.ciHigh - cell.stats!.overheadMedian.ciLow);
    const shifted: Results = structuredClone(results);
    for (const c of shifted.cells) {
      if (!c.stats) continue;
      c.stats.overheadPerRound = c.stats.overheadPerRound.map((o) => o + shift);
      c.stats.blockOverheads = c.stats.blockOverheads.map((o) => o + shift);
      c.stats.overheadByCpu = c.stats.overheadByCpu.map((cpu) => ({ ...cpu, blockOverheads: cpu.blockOverheads.map((o) => o + shift) }));
      const m = c.stats.overheadMedian;
      c.stats.overheadMedian = { value: m.value + shift, ciLow: m.ciLow + shift, ciHigh: m.ciHigh + shift };
    }
    await writeFile(join(dir, 'results.json'), JSON.stringify(shifted));
    const io = capture();
    expect(await compareCommand(runDir, dir, {}, io)).toBe(1);
    expect(io.stdout.join('')).toMatch(/tracepoint × mprotect .* regressed/);
    expect(await readFile(join(dir, 'compare.md'), 'utf8')).toContain('REGRESSED beyond the ±1 pp noise allowance: tracepoint × mprotect');
  });
});
