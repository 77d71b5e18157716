import { mkdtemp, readdir, readFile, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { buildCharts } from '../reports/charts/index.js';
import { resultsCsv } from '../reports/csv.js';
import { nsWithCi, percentWithCi } from '../reports/format.js';
import { writeReports } from '../reports/index.js';
import { reportHtml } from '../reports/html.js';
import { reportCommand } from '../reports/cli.js';
import { loadResults, ResultsInputError } from '../reports/load.js';
import { summaryMarkdown } from '../reports/markdown.js';
import { methodParagraphs } from '../reports/method.js';
import { sequentialPlan } from '../bench/statistics.js';
import { writeFile } from 'node:fs/promises';
import { cellTable } from '../reports/table.js';
import { syntheticResults } from './fixtures/reports-synthetic.js';

// Document structure on SYNTHETIC results (see the fixture); reports-real.test.ts checks a real run.
const results = syntheticResults();
const matrix = [results, syntheticResults({ kernelRelease: '6.1.0-56-amd64', seed: 2 })];
const oneCpu = syntheticResults({ cpus: [0] });
const known = results.cells.find((c) => c.mechanism === 'tracepoint' && c.workload === 'mprotect')!;
/** "4 blocks, sd 1.5 pp" for the known cell, from its stored figures. */
const knownSpread = () => {
  const sd = known.stats!.betweenBlockSd;
  return `${known.stats!.blocks} blocks, sd ${sd >= 10 ? sd.toFixed(0) : sd >= 1 ? sd.toFixed(1) : sd.toFixed(2)} pp`;
};

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
    expect(Number(probed.block)).toBe(round.block);
    expect(Number(probed.cpu)).toBe(round.cpu);
    expect(Number(probed.cpu_start)).toBe(round.probed.cpuStart);
  });

  test('block figures per cell: blocks, between-block sd, look confidence, migrated runs', () => {
    const rows = parseCsv(resultsCsv([results]));
    const row = rows.find((r) => r.mechanism === 'tracepoint' && r.workload === 'mprotect')!;
    expect(Number(row.blocks)).toBe(known.stats!.blocks);
    expect(Number(row.blocks)).toBe(4);
    expect(Number(row.between_block_sd_pp)).toBe(known.stats!.betweenBlockSd);
    expect(known.stats!.betweenBlockSd).toBeGreaterThan(0);
    expect(Number(row.look_confidence)).toBe(sequentialPlan(results.options).lookConfidence);
    expect(Number(row.look_confidence)).toBeGreaterThan(0.95);
    expect(Number(row.migrated_runs)).toBe(2);
    expect(rows.filter((r) => r.mechanism === 'tracepoint' && r.workload === 'mprotect' && r.migrated === 'true')).toHaveLength(2);
    const unsupported = rows.filter((r) => r.mechanism === 'kprobe');
    expect(unsupported).toHaveLength(0); // no rounds, no rows
  });

  test('a kernel matrix tells runs apart by kernel', () => {
    const kernels = new Set(parseCsv(resultsCsv(matrix)).map((r) => r.kernel));
    expect(kernels).toEqual(new Set(['6.18.0-synthetic', '6.1.0-56-amd64']));
  });
});

describe('summary.md', () => {
  const md = summaryMarkdown([results], { chartImage: 'charts/overhead.png' });

  test('a table row per cell: overhead with CI, blocks and their spread, ns/event, events/op, verdict', () => {
    expect(md).toContain('| cell | overhead [95 % CI] | blocks ± sd | ns/event [95 % CI] | events/op | verdict | note |');
    for (const cell of results.cells.filter((c) => c.verdict === 'PASS' || c.verdict === 'FAIL')) {
      const line = md.split('\n').find((l) => l.startsWith(`| ${cell.mechanism} × ${cell.workload} |`))!;
      expect(line).toContain(`${percentWithCi(cell.stats!.overheadMedian)} | ${cell.stats!.blocks} blocks, sd `);
      if (cell.stats!.nsPerEvent) expect(line).toContain(nsWithCi(cell.stats!.nsPerEvent));
      expect(line).toContain(`**${cell.verdict}**`);
    }
    const line = md.split('\n').find((l) => l.startsWith('| tracepoint × mprotect |'))!;
    expect(line).toContain(`| ${percentWithCi(known.stats!.overheadMedian)} | ${knownSpread()} |`);
    expect(line).toContain('2 migrated runs (flagged, kept)');
    expect(md.split('\n').find((l) => l.startsWith('| tracepoint × open |'))).not.toContain('migrated');
  });

  test('the method note quotes the looks and the per-look confidence', () => {
    expect(md).toContain('with a Student-t CI over the blocks');
    expect(md).toContain('looked at after 4, 6, 9, 14, 21, 32, 40 blocks at 99.29 % per look (the 95 % split Bonferroni-style over the looks)');
    expect(md).not.toContain('bootstrap');
  });

  test('INVALID and UNSUPPORTED cells show their reason and no overhead', () => {
    const invalid = md.split('\n').find((l) => l.startsWith('| bpftrace × open |'))!;
    expect(invalid).toBe('| bpftrace × open | — | — | — | — | **INVALID** | probe counted 0.000 events/op, expected 1 (synthetic) |');
    const unsupported = md.split('\n').find((l) => l.startsWith('| kprobe × mprotect |'))!;
    expect(unsupported).toContain('| — | — | — | — | **UNSUPPORTED** | CONFIG_KPROBES is not set (synthetic) |');
  });

  test('environment in a line, the headline chart as an image', () => {
    expect(md).toContain('**Environment:** Linux 6.18.0-synthetic x86_64 · Synthetic CPU @ 2.0GHz · 2 vCPUs');
    expect(md).toContain('![Overhead by mechanism and workload](charts/overhead.png)');
  });

  test('the placement in a line: CPUs and isolation; a one-CPU run says nothing could be isolated', () => {
    expect(md).toContain("**Placement:** workload on CPUs 0, 1; hookbench's own processes kept off the measuring CPU (default: every online CPU:");
    const single = summaryMarkdown([oneCpu], { chartImage: null });
    expect(single).toContain("**Placement:** workload on CPU 0; NOT isolated: hookbench's own processes shared the workload's CPU (one CPU: the workload and hookbench share it, nothing could be isolated)");
    const both = summaryMarkdown([results, oneCpu], { chartImage: null });
    expect(both).toContain('  - placement: workload on CPU 0; NOT isolated');
  });
});

describe('method text', () => {
  const text = methodParagraphs(results.options, results.placement).join('\n');

  test('blocks, t interval over blocks, the plan with its looks and per-look confidence, placement, count tolerance', () => {
    expect(text).toContain('Rounds come in blocks of 5, and the blocks of the different cells are interleaved');
    expect(text).toContain('the headline overhead is the mean of the block medians, and its CI is a Student-t interval over the blocks');
    expect(text).toContain('looked at only after 4, 6, 9, 14, 21, 32 and 40 blocks (7 looks');
    expect(text).toContain('every stored CI is built at 99.29 % (1 − 0.05 ÷ 7)');
    expect(text).toContain('covers the true overhead with at least 95 % confidence, whatever the stopping rule decided');
    expect(text).toContain('both arms of a round run pinned to the same CPU');
    expect(text).toContain("hookbench's own processes (node, perf, bpftrace, auditd, readers) are kept off its CPU");
    expect(text).toContain('strayed more than 1 % from the expected count, either way');
    expect(text).not.toContain('bootstrap');
  });

  test('the plan follows the run options', () => {
    const longer = methodParagraphs({ ...results.options, minRounds: 15, maxRounds: 30, confidence: 0.9 }).join('\n');
    expect(longer).toContain('looked at only after 3, 5 and 6 blocks (3 looks');
    expect(longer).toContain('every stored CI is built at 96.67 % (1 − 0.1 ÷ 3)');
  });
});

describe('loading results', () => {
  test('a schema-version-2 file: its bpftrace cells (then bpf-*) are read under their bpftrace-* names', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hookbench-v2-'));
    const v2 = JSON.parse(JSON.stringify(results).replaceAll('"tracepoint"', '"bpf-kprobe"')) as Record<string, unknown>;
    v2.schemaVersion = 2;
    await writeFile(join(dir, 'results.json'), JSON.stringify(v2));
    const loaded = (await loadResults(dir)).results;
    expect(loaded.schemaVersion).toBe(3);
    expect(loaded.cells.map((c) => c.mechanism)).toContain('bpftrace-kprobe');
    expect(loaded.options.mechanisms).toContain('bpftrace-kprobe');
    expect(JSON.stringify(loaded)).not.toContain('"bpf-kprobe"');
  });

  test('a schema-version-1 file: one line saying an older hookbench wrote it and it must be re-measured', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hookbench-v1-'));
    const v1 = { ...structuredClone(results), schemaVersion: 1 } as Record<string, unknown>;
    delete v1.placement;
    await writeFile(join(dir, 'results.json'), JSON.stringify(v1));
    const error = await loadResults(dir).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ResultsInputError);
    const message = (error as Error).message;
    expect(message).toBe(
      `${join(dir, 'results.json')}: written by an older hookbench (results schema version 1, measured without blocks and CPU placement); this hookbench reads versions 2 to 3: re-measure with hookbench run`,
    );
    expect(message).not.toContain('\n');
    const stderr: string[] = [];
    const io = { out: () => undefined, err: (t: string) => void stderr.push(t), colour: false };
    expect(await reportCommand([dir], {}, io)).toBe(2);
    expect(stderr.join('').trim().split('\n')).toHaveLength(1);
    expect(stderr.join('')).toContain('written by an older hookbench (results schema version 1');
  });

  test('the synthetic fixture is valid version-2 results', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hookbench-v2-'));
    await writeFile(join(dir, 'results.json'), JSON.stringify(oneCpu));
    const loaded = await loadResults(dir);
    expect(loaded.results.placement.harnessIsolated).toBe(false);
    expect(loaded.results.options.cpus).toEqual([0]);
    expect(loaded.results.cells[0].rounds[7]).toMatchObject({ block: 1, cpu: 0 });
  });
});

describe('terminal table', () => {
  test('aligned columns, no colour unless asked; the block spread beside the CI', () => {
    const plain = cellTable([results], { colour: false });
    const lines = plain.split('\n');
    expect(lines[0]).toMatch(/^cell\s+overhead \[95 % CI\]\s+blocks ± sd\s+ns\/event/);
    const row = lines.find((l) => l.startsWith('tracepoint × mprotect'))!;
    expect(row).toContain(`${percentWithCi(known.stats!.overheadMedian)}  ${knownSpread()}`);
    expect(row).toContain('2 migrated runs');
    expect(lines).toHaveLength(2 + results.cells.length);
    expect(plain).not.toContain('\u001b[');
    const verdictAt = lines[0].indexOf('verdict');
    for (const line of lines.slice(2)) expect(line.slice(verdictAt).split(' ')[0]).toMatch(/^(PASS|FAIL|INCONCLUSIVE|INVALID|UNSUPPORTED|ERROR)$/);
    expect(cellTable([results], { colour: true })).toContain('\u001b[31mFAIL');
  });

  test('a host/kernel column for a matrix', () => {
    expect(cellTable(matrix, { colour: false }).split('\n')[0]).toMatch(/^cell\s+host\/kernel\s+overhead/);
  });
});

describe('report.html placement', () => {
  test('a one-CPU run says at the top and in the environment that nothing could be isolated', async () => {
    const html = await reportHtml([oneCpu], [], { jsonFiles: [], csvFile: null, markdownFile: null, chartFiles: new Map() });
    expect(html).toMatch(/<p class="lede"><strong>Placement:<\/strong> workload on CPU 0; NOT isolated/);
    expect(html).toContain('nothing could be isolated');
    expect(html).toContain("<td>harness isolation</td><td>NOT isolated: hookbench&#39;s own processes shared the workload&#39;s CPU</td>");
    const isolated = await reportHtml([results], [], { jsonFiles: [], csvFile: null, markdownFile: null, chartFiles: new Map() });
    expect(isolated).not.toContain('<strong>Placement:</strong>');
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
    expect(html).toContain('its CI is a Student-t interval over the blocks (blocks − 1 degrees of freedom)');
    expect(html).not.toContain('percentile bootstrap');
    expect(html).toContain('<th>blocks ± sd</th>');
    // The spread may wrap after its comma, never inside a figure.
    expect(html).toContain(`<span class="num">${knownSpread().replace(', ', ',</span> <span class="num">')}</span>`);
    expect(html).toContain('<td>measurement CPUs</td><td>0, 1</td>');
    expect(html).toContain('<td>placement policy</td>');
  });
});
