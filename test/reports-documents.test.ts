import { mkdtemp, readdir, readFile, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { buildCharts } from '../reports/charts/index.js';
import { resultsCsv } from '../reports/csv.js';
import { nsWithCi, percentWithCi } from '../reports/format.js';
import { writeReports } from '../reports/index.js';
import { reportHtml } from '../reports/html.js';
import { summaryMarkdown } from '../reports/markdown.js';
import { cellTable } from '../reports/table.js';
import { syntheticResults } from './fixtures/reports-synthetic.js';

// Document structure on SYNTHETIC results (see the fixture); reports-real.test.ts checks a real run.
const results = syntheticResults();
const matrix = [results, syntheticResults({ kernelRelease: '6.1.0-56-amd64', seed: 2 })];

function parseCsv(text: string): Record<string, string>[] {
  const [header, ...lines] = text.trimEnd().split('\n');
  const columns = header.split(',');
  return lines.map((line) => Object.fromEntries(line.split(',').map((v, i) => [columns[i], v])));
}

describe('results.csv', () => {
  test('one row per round and arm with the raw figures; empty where there is no value', () => {
    const rows = parseCsv(resultsCsv([results]));
    const totalRounds = results.cells.reduce((n, c) => n + c.rounds.length, 0);
    expect(rows).toHaveLength(2 * totalRounds);
    const cell = results.cells[0];
    const round = cell.rounds[4];
    const probed = rows.find((r) => r.mechanism === cell.mechanism && r.workload === cell.workload && r.round === '4' && r.arm === 'probed')!;
    expect(Number(probed.ns_per_op)).toBe(round.probed.nsPerOp);
    expect(Number(probed.ops)).toBe(round.probed.ops);
    expect(Number(probed.events)).toBe(round.probed.events);
    expect(Number(probed.order_position)).toBe(round.order.indexOf('probed') + 1);
    expect(Number(probed.perf_page_faults)).toBe(round.probed.perf['page-faults']);
    expect(probed.perf_cycles).toBe('');
    expect(probed.kernel).toBe('6.18.0-synthetic');
    const baseline = rows.find((r) => r.mechanism === cell.mechanism && r.workload === cell.workload && r.round === '4' && r.arm === 'baseline')!;
    expect(baseline.events).toBe('');
  });

  test('a kernel matrix tells runs apart by kernel', () => {
    const kernels = new Set(parseCsv(resultsCsv(matrix)).map((r) => r.kernel));
    expect(kernels).toEqual(new Set(['6.18.0-synthetic', '6.1.0-56-amd64']));
  });
});

describe('summary.md', () => {
  const md = summaryMarkdown([results], { chartImage: 'charts/overhead.png' });

  test('a table row per cell: overhead with CI, ns/event, events/op, verdict', () => {
    for (const cell of results.cells.filter((c) => c.verdict === 'PASS' || c.verdict === 'FAIL')) {
      const line = md.split('\n').find((l) => l.startsWith(`| ${cell.mechanism} × ${cell.workload} |`))!;
      expect(line).toContain(percentWithCi(cell.stats!.overheadMedian));
      if (cell.stats!.nsPerEvent) expect(line).toContain(nsWithCi(cell.stats!.nsPerEvent));
      expect(line).toContain(`**${cell.verdict}**`);
    }
  });

  test('INVALID and UNSUPPORTED cells show their reason and no overhead', () => {
    const invalid = md.split('\n').find((l) => l.startsWith('| bpftrace × open |'))!;
    expect(invalid).toBe('| bpftrace × open | — | — | — | **INVALID** | probe counted 0.000 events/op, expected 1 (synthetic) |');
    const unsupported = md.split('\n').find((l) => l.startsWith('| kprobe × mprotect |'))!;
    expect(unsupported).toContain('| — | — | — | **UNSUPPORTED** | CONFIG_KPROBES is not set (synthetic) |');
  });

  test('environment in a line, the headline chart as an image', () => {
    expect(md).toContain('**Environment:** Linux 6.18.0-synthetic x86_64 · Synthetic CPU @ 2.0GHz · 2 vCPUs');
    expect(md).toContain('![Overhead by mechanism and workload](charts/overhead.png)');
  });
});

describe('terminal table', () => {
  test('aligned columns, no colour unless asked', () => {
    const plain = cellTable([results], { colour: false });
    const lines = plain.split('\n');
    expect(lines).toHaveLength(2 + results.cells.length);
    expect(plain).not.toContain('\u001b[');
    const verdictAt = lines[0].indexOf('verdict');
    for (const line of lines.slice(2)) expect(line.slice(verdictAt).split(' ')[0]).toMatch(/^(PASS|FAIL|INCONCLUSIVE|INVALID|UNSUPPORTED|ERROR)$/);
    expect(cellTable([results], { colour: true })).toContain('\u001b[31mFAIL');
  });

  test('a kernel column for a matrix', () => {
    expect(cellTable(matrix, { colour: false }).split('\n')[0]).toMatch(/^cell\s+kernel\s+overhead/);
  });
});

describe('report.html size', () => {
  test('40 measured cells of 200 rounds each stay under 3 MB', async () => {
    const big = syntheticResults({
      mechanisms: ['tracepoint', 'raw_syscalls', 'bpftrace', 'audit', 'audit-noauditd', 'ftrace', 'kprobe', 'fentry'],
      workloads: ['mprotect', 'null', 'open', 'execve', 'read'],
      rounds: 200,
      force: {},
      resamples: 200,
    });
    expect(big.cells.filter((c) => c.stats)).toHaveLength(40);
    const html = await reportHtml([big], buildCharts([big]), { jsonFiles: ['results.json'], csvFile: 'results.csv', markdownFile: 'summary.md', chartFiles: new Map() });
    expect(Buffer.byteLength(html)).toBeLessThan(3 * 1024 * 1024);
  });
});

describe('writeReports', () => {
  test('writes the documents and every chart as .vl.json, .svg and .png; the HTML is self-contained and small', async () => {
    const outDir = await mkdtemp(join(tmpdir(), 'hookbench-report-'));
    const files = await writeReports(matrix, outDir);
    const names = files.map((f) => f.slice(outDir.length + 1)).sort();
    for (const chart of ['overhead', 'ns-per-event', 'collateral', 'kernels', 'rounds', 'perf']) {
      for (const ext of ['vl.json', 'svg', 'png']) expect(names).toContain(`charts/${chart}.${ext}`);
    }
    expect(names).toEqual(expect.arrayContaining(['report.html', 'summary.md', 'results.csv']));
    expect((await readdir(outDir)).sort()).toEqual(['charts', 'report.html', 'results.csv', 'summary.md']);
    const html = await readFile(join(outDir, 'report.html'), 'utf8');
    expect((await stat(join(outDir, 'report.html'))).size).toBeLessThan(3 * 1024 * 1024);
    expect(html).not.toMatch(/<(script|link|img|iframe)[^>]+(src|href)="?(https?:)?\/\//i);
    expect(html).toContain('vegaEmbed(');
    expect(html).toContain('href="results.csv"');
    expect(html).toContain('percentile bootstrap of that median with 1,000 resamples');
  });
});
