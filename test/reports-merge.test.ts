import { mkdtemp, readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import type { Results } from '../bench/results.js';
import { chartInput } from '../reports/charts/index.js';
import { compareCommand, reportCommand, type CommandIo } from '../reports/cli.js';
import { compareSets } from '../reports/compare.js';
import { ciText, nsNumber, percent } from '../reports/format.js';
import { reportHtml } from '../reports/html.js';
import { loadResultsSet } from '../reports/load.js';
import { summaryMarkdown } from '../reports/markdown.js';
import { reportWarnings } from '../reports/mergeWarnings.js';
import { cellViews } from '../reports/model.js';
import { pivot, rankings } from '../reports/pivot.js';
import { environmentsOf, runViews } from '../reports/runs.js';
import { mergedInputs, writeInputs, type NamedResults } from './fixtures/reports-merged.js';
import { syntheticResults } from './fixtures/reports-synthetic.js';

// Reports over many inputs (hosts × kernels), on SYNTHETIC results: what is grouped, labelled,
// flagged, kept and compared. The browser test checks that such a report fits a 1280 px window.

const inputs = mergedInputs();
const all = inputs.map((i) => i.results);
const byDir = (dir: string) => inputs.find((i) => i.dir === dir)!.results;
const noLinks = { jsonFiles: [], csvFile: null, markdownFile: null, chartFiles: new Map() };

function capture(): CommandIo & { stdout: string[]; stderr: string[] } {
  const stdout: string[] = [];
  const stderr: string[] = [];
  return { stdout, stderr, out: (t) => void stdout.push(t), err: (t) => void stderr.push(t), colour: false };
}

/** The inputs as results directories under a fresh temporary root, and that root. */
async function written(set: readonly NamedResults[] = inputs): Promise<{ root: string; dirs: string[] }> {
  const root = await mkdtemp(join(tmpdir(), 'hookbench-merge-'));
  return { root, dirs: await writeInputs(root, set) };
}

/** A Markdown table row's cells, by the row's first cells ("| mprotect | kprobe |"). */
function markdownRow(md: string, ...first: string[]): string[] {
  const line = md.split('\n').find((l) => l.startsWith(`| ${first.join(' | ')} |`));
  if (!line) throw new Error(`no row ${first.join(' | ')}`);
  return line.slice(2, -2).split(' | ');
}

function cellOf(results: Results, mechanism: string, workload: string) {
  return results.cells.find((c) => c.mechanism === mechanism && c.workload === workload)!;
}

describe('inputs are grouped and labelled by host and kernel', () => {
  test('a host is "hostname kernel", a hookbench VM guest "kernel (accel guest)"; inputs sharing one get #n', () => {
    const runs = runViews(all);
    expect(runs.map((r) => r.label)).toEqual([
      'host-a 6.18.0-synthetic #1',
      'host-a 6.12.0-synthetic',
      'host-b 6.18.0-synthetic',
      '6.1.0-57-amd64 (tcg guest)',
      'host-a 6.18.0-synthetic #2',
    ]);
    expect(environmentsOf(runs).map((e) => e.label)).toEqual(['host-a 6.18.0-synthetic', 'host-a 6.12.0-synthetic', 'host-b 6.18.0-synthetic', '6.1.0-57-amd64 (tcg guest)']);
  });

  test('guests of one kernel whose results name different hosts are told apart by the host name', () => {
    const guest = { kernelRelease: '6.1.0-57-amd64', accel: 'tcg', mechanisms: ['tracepoint'], workloads: ['mprotect'] };
    const labels = runViews([syntheticResults({ ...guest, hostname: 'vm-a' }), syntheticResults({ ...guest, hostname: 'vm-b', seed: 2 })]).map((r) => r.label);
    expect(labels).toEqual(['6.1.0-57-amd64 (tcg guest) on vm-a', '6.1.0-57-amd64 (tcg guest) on vm-b']);
  });

  test('two inputs of one host/kernel with different cells make one column, and no duplicate', () => {
    const host = { hostname: 'host-a', kernelRelease: '6.18.0-synthetic', workloads: ['mprotect'], force: {} };
    const split = [syntheticResults({ ...host, mechanisms: ['tracepoint'] }), syntheticResults({ ...host, mechanisms: ['ftrace'], seed: 2 })];
    const cells = cellViews(split);
    const table = pivot(cells, environmentsOf(runViews(split)));
    expect(table.environments.map((e) => e.label)).toEqual(['host-a 6.18.0-synthetic']);
    expect(table.rows.map((r) => [r.mechanism, r.cells[0]?.run.label])).toEqual([
      ['tracepoint', 'host-a 6.18.0-synthetic #1'],
      ['ftrace', 'host-a 6.18.0-synthetic #2'],
    ]);
    expect(cells.every((c) => c.duplicate === null && c.shown)).toBe(true);
    expect(reportWarnings(split)).toEqual([]);
  });
});

describe('duplicates are flagged, never dropped silently', () => {
  const md = summaryMarkdown(all, { chartImage: null });
  const first = cellOf(byDir('host-a-6.18'), 'tracepoint', 'mprotect');
  const rerun = cellOf(byDir('host-a-6.18-rerun'), 'tracepoint', 'mprotect');

  test('both measurements are in the verdict table, each with a note naming the other input and which one is shown', () => {
    const one = markdownRow(md, 'tracepoint × mprotect', 'host-a 6.18.0-synthetic #1');
    const two = markdownRow(md, 'tracepoint × mprotect', 'host-a 6.18.0-synthetic #2');
    expect(one[2]).toBe(percent(first.stats!.overheadMedian.value) + ' ' + ciText(first.stats!.overheadMedian));
    expect(two[2]).toBe(percent(rerun.stats!.overheadMedian.value) + ' ' + ciText(rerun.stats!.overheadMedian));
    expect(one.at(-1)).toMatch(/^duplicate: also measured in host-a 6\.18\.0-synthetic #2, which the summary and charts show \(started later\)/);
    expect(two.at(-1)).toMatch(/^duplicate: also measured in host-a 6\.18\.0-synthetic #1; the summary and charts show this one \(started later\)/);
  });

  test('the summary shows the later measurement, marked as held by 2 inputs', () => {
    const row = markdownRow(md, 'mprotect', 'tracepoint');
    expect(row[2]).toBe(`**${rerun.verdict}** ${percent(rerun.stats!.overheadMedian.value)} ${ciText(rerun.stats!.overheadMedian)} (2 inputs)`);
    expect(rerun.stats!.overheadMedian.value).not.toBe(first.stats!.overheadMedian.value);
  });

  test('a warning at the top of summary.md and report.html says which inputs hold it and which one is shown', async () => {
    const warning = 'measured by more than one input for one host/kernel: tracepoint × mprotect on host-a 6.18.0-synthetic (inputs #1 and #2; shown: #2, started later)';
    expect(md.indexOf(`> **Warning:** 1 cell was ${warning}`)).toBeGreaterThan(0);
    expect(md.indexOf('> **Warning:** 1 cell was')).toBeLessThan(md.indexOf('## Summary per host/kernel'));
    const html = await reportHtml(all, [], noLinks);
    const box = html.indexOf('<div class="warnings" role="alert">');
    expect(box).toBeGreaterThan(0);
    expect(box).toBeLessThan(html.indexOf('<h2 id="summary">'));
    expect(html.slice(box)).toContain(warning);
  });

  test('the charts draw the later measurement once, where the cell first appears', () => {
    const cells = chartInput(all).cells;
    const hostA = cells.filter((c) => c.run.environment.label === 'host-a 6.18.0-synthetic');
    expect(hostA.map((c) => `${c.mechanism}×${c.workload}`)).toEqual(byDir('host-a-6.18').cells.map((c) => `${c.mechanism}×${c.workload}`));
    expect(hostA[0].run.label).toBe('host-a 6.18.0-synthetic #2');
    expect(hostA[0].measured).toBe(rerun.stats);
    expect(cells).toHaveLength(all.reduce((n, r) => n + r.cells.length, 0) - 1);
  });

  test('started at the same moment: the one given last is shown, and the note says so', () => {
    const cell = { hostname: 'host-a', mechanisms: ['tracepoint'], workloads: ['mprotect'], force: {} };
    const views = cellViews([syntheticResults(cell), syntheticResults({ ...cell, seed: 9 })]);
    expect(views.map((v) => v.shown)).toEqual([false, true]);
    expect(views[0].duplicate).toMatchObject({ why: 'given later' });
    expect(views[0].duplicate!.shown).toBe(views[1].run);
  });

  test('the same results file given twice: a warning names both, its cells count once, it is kept once', async () => {
    const { root, dirs } = await written([inputs[0], inputs[1]]);
    const out = join(root, 'report');
    const io = capture();
    expect(await reportCommand([dirs[0], dirs[1], dirs[0]], { out }, io)).toBe(0);
    const repeated = `The same results were given twice: input 3 (${join(dirs[0], 'results.json')}) repeats input 1 (${join(dirs[0], 'results.json')}); they are shown once.`;
    expect(io.stdout.join('')).toContain(`warning: ${repeated}`);
    const md = await readFile(join(out, 'summary.md'), 'utf8');
    expect(md).toContain(`> **Warning:** ${repeated}`);
    expect(md).toContain(`· ${all[0].cells.length + all[1].cells.length} cells:`);
    expect((await readdir(join(out, 'inputs'))).sort()).toEqual(['host-a_6.12.0-synthetic', 'host-a_6.18.0-synthetic']);
    const html = await readFile(join(out, 'report.html'), 'utf8');
    expect(html).toContain('same results as input 1, shown once');
  });
});

describe('mixed hookbench versions and options are flagged at the top', () => {
  test('versions and commits: which inputs ran which, in report.html and summary.md', async () => {
    const warning = "Inputs measured by different hookbench versions (0.2.0 (f00dfeed0123) in host-b 6.18.0-synthetic; 0.1.0 (synthetic) in the other 4 inputs): a difference between them may be the harness's.";
    expect(reportWarnings(all)).toContain(warning);
    expect(summaryMarkdown(all, { chartImage: null })).toContain(`> **Warning:** ${warning}`);
    const html = await reportHtml(all, [], noLinks);
    expect(html).toContain(warning.replace(/'/g, '&#39;'));
    const sameVersion = { version: '0.1.0', commit: 'aaaaaaaaaaaaaaaa' };
    const commits = reportWarnings([syntheticResults({ hookbench: sameVersion }), syntheticResults({ hookbench: { ...sameVersion, commit: 'bbbbbbbbbbbbbbbb' }, kernelRelease: '6.12.0-synthetic' })]);
    expect(commits).toEqual(["Inputs measured by different hookbench versions (0.1.0 (bbbbbbbbbbbb) in synthetic-host 6.12.0-synthetic; 0.1.0 (aaaaaaaaaaaa) in synthetic-host 6.18.0-synthetic): a difference between them may be the harness's."]);
  });

  test('options: max time and budget, with what a different budget means for the verdicts', () => {
    expect(reportWarnings(all)).toContain('Inputs measured with different options (max time per cell: 120 s in 6.1.0-57-amd64 (tcg guest); 60 s in the other 4 inputs): read their CIs with that in mind.');
    const budgets = reportWarnings([syntheticResults(), syntheticResults({ kernelRelease: '6.12.0-synthetic', runOptions: { budget: 10 } })]);
    expect(budgets).toEqual([
      "Inputs measured with different options (budget: 10 % in synthetic-host 6.12.0-synthetic; 5 % in synthetic-host 6.18.0-synthetic): each verdict is against its own input's budget, and read their CIs with that in mind.",
    ]);
  });

  test('a kernel matrix measured alike has no warning, and its report no warning box', async () => {
    const matrix = [syntheticResults(), syntheticResults({ kernelRelease: '6.1.0-56-amd64', seed: 2 })];
    expect(reportWarnings(matrix)).toEqual([]);
    expect(await reportHtml(matrix, [], noLinks)).not.toContain('class="warnings"');
    expect(summaryMarkdown(matrix, { chartImage: null })).not.toContain('Warning');
  });
});

describe('the summary per host/kernel', () => {
  const md = summaryMarkdown(all, { chartImage: null });

  test('mechanisms down, one column per host/kernel: each cell its verdict and overhead with the CI', () => {
    expect(md).toContain('| workload | mechanism | host-a 6.18.0-synthetic | host-a 6.12.0-synthetic | host-b 6.18.0-synthetic | 6.1.0-57-amd64 (tcg guest) |');
    const row = markdownRow(md, 'mprotect', 'kretprobe');
    const columns = ['host-a-6.18', 'host-a-6.12', 'host-b-6.18', 'vm-6.1-tcg'].map((dir) => cellOf(byDir(dir), 'kretprobe', 'mprotect'));
    columns.forEach((cell, i) => {
      const expected = cell.verdict === 'UNSUPPORTED' ? '**UNSUPPORTED**' : `**${cell.verdict}** ${percent(cell.stats!.overheadMedian.value)} ${ciText(cell.stats!.overheadMedian)}`;
      expect(row[2 + i], `column ${i}`).toBe(expected);
    });
    expect(row[4]).toBe('**UNSUPPORTED**');
  });

  test('a host/kernel that did not run a cell says "not run"', () => {
    const partial = [syntheticResults({ mechanisms: ['tracepoint', 'ftrace'], workloads: ['mprotect'], force: {} }), syntheticResults({ kernelRelease: '6.12.0-synthetic', mechanisms: ['tracepoint'], workloads: ['mprotect'], force: {} })];
    const row = markdownRow(summaryMarkdown(partial, { chartImage: null }), 'mprotect', 'ftrace');
    expect(row[2]).toMatch(/^\*\*(PASS|FAIL|INCONCLUSIVE)\*\* /);
    expect(row[3]).toBe('not run');
  });

  test('the ranking: per host/kernel, the mechanisms by ns per mprotect event, cheapest first, from the cells shown, right after the mprotect rows', () => {
    const cells = cellViews(all);
    const environments = environmentsOf(runViews(all));
    const ranked = rankings(cells, environments);
    const expected = (results: Results, skip: string[] = []) =>
      results.cells
        .filter((c) => c.workload === 'mprotect' && c.stats?.nsPerEvent && ['PASS', 'FAIL', 'INCONCLUSIVE'].includes(c.verdict) && !skip.includes(c.mechanism))
        .map((c) => ({ mechanism: c.mechanism, nsPerEvent: c.stats!.nsPerEvent! }));
    const hostA = [...expected(byDir('host-a-6.18'), ['tracepoint']), ...expected(byDir('host-a-6.18-rerun'))].sort((a, b) => a.nsPerEvent.value - b.nsPerEvent.value);
    expect(ranked[0].ranked).toEqual(hostA);
    expect(ranked[2].ranked.map((r) => r.mechanism)).toEqual(['ftrace', 'tracepoint']); // kprobes unsupported on host-b
    for (const r of ranked) {
      const values = r.ranked.map((m) => m.nsPerEvent.value);
      expect(values, r.environment.label).toEqual([...values].sort((a, b) => a - b));
      expect(values.length, r.environment.label).toBeGreaterThan(1);
    }
    const row = markdownRow(md, 'mprotect', 'ranked by ns per event');
    const lines = md.split('\n');
    expect(lines[lines.findIndex((l) => l.startsWith('| mprotect | ranked by')) + 1]).toMatch(/^\| null \| tracepoint \|/);
    expect(row[2]).toBe(hostA.map((m, i) => `${i + 1}. ${m.mechanism} ${nsNumber(m.nsPerEvent.value)} ns ${ciText(m.nsPerEvent, nsNumber)}`).join('; '));
  });

  test('one host/kernel: no summary table (the verdict table is the summary)', () => {
    expect(summaryMarkdown([syntheticResults()], { chartImage: null })).not.toContain('## Summary per host/kernel');
  });
});

describe('hookbench report over many results: every input kept beside the report', () => {
  test('each results.json is copied byte for byte to inputs/<label>/ and linked from report.html and summary.md', async () => {
    const { root, dirs } = await written();
    const out = join(root, 'merged');
    const io = capture();
    expect(await reportCommand(dirs, { out }, io)).toBe(0);
    const kept = ['host-a_6.18.0-synthetic_1', 'host-a_6.12.0-synthetic', 'host-b_6.18.0-synthetic', '6.1.0-57-amd64_tcg_guest', 'host-a_6.18.0-synthetic_2'];
    expect((await readdir(join(out, 'inputs'))).sort()).toEqual([...kept].sort());
    const html = await readFile(join(out, 'report.html'), 'utf8');
    const md = await readFile(join(out, 'summary.md'), 'utf8');
    for (const [i, name] of kept.entries()) {
      const copy = await readFile(join(out, 'inputs', name, 'results.json'));
      expect(copy.equals(await readFile(join(dirs[i], 'results.json'))), name).toBe(true);
      expect(html).toContain(`<a href="inputs/${name}/results.json">`);
      expect(md).toContain(`([results.json](inputs/${name}/results.json))`);
    }
    expect(html).toContain('<h2 id="inputs">Inputs</h2>');
    expect(html).toContain(join(dirs[3], 'results.json')); // where it was read from
    const reloaded = await loadResultsSet(out);
    expect(reloaded.map((l) => l.results).sort((a, b) => a.environment.hostname.localeCompare(b.environment.hostname) || a.startedAt.localeCompare(b.startedAt) || a.environment.kernelRelease.localeCompare(b.environment.kernelRelease))).toEqual(
      [...all].sort((a, b) => a.environment.hostname.localeCompare(b.environment.hostname) || a.startedAt.localeCompare(b.startedAt) || a.environment.kernelRelease.localeCompare(b.environment.kernelRelease)),
    );
  });

  test('results.csv tells inputs apart: input label, host, kernel, VM acceleration', async () => {
    const { root, dirs } = await written();
    const out = join(root, 'merged');
    expect(await reportCommand(dirs, { out }, capture())).toBe(0);
    const [header, ...lines] = (await readFile(join(out, 'results.csv'), 'utf8')).trimEnd().split('\n');
    const columns = header.split(',');
    const rows = lines.map((l) => Object.fromEntries(l.split(',').map((v, i) => [columns[i], v])));
    const keys = new Set(rows.map((r) => [r.input, r.host, r.kernel, r.vm_accel].join('|')));
    expect(keys).toEqual(
      new Set([
        'host-a 6.18.0-synthetic #1|host-a|6.18.0-synthetic|',
        'host-a 6.12.0-synthetic|host-a|6.12.0-synthetic|',
        'host-b 6.18.0-synthetic|host-b|6.18.0-synthetic|',
        '6.1.0-57-amd64 (tcg guest)|hookbench-vm|6.1.0-57-amd64|tcg',
        'host-a 6.18.0-synthetic #2|host-a|6.18.0-synthetic|',
      ]),
    );
  });

  test('a merged report directory is an input: reported again in place its inputs stay, with the same cells', async () => {
    const { root, dirs } = await written();
    const out = join(root, 'merged');
    expect(await reportCommand(dirs, { out }, capture())).toBe(0);
    const before = await readFile(join(out, 'inputs', 'host-b_6.18.0-synthetic', 'results.json'));
    const io = capture();
    expect(await reportCommand([out], {}, io)).toBe(0);
    expect(io.stdout.join('')).toContain(`wrote 21 files to ${out}`);
    expect((await readFile(join(out, 'inputs', 'host-b_6.18.0-synthetic', 'results.json'))).equals(before)).toBe(true);
    expect((await readdir(join(out, 'inputs'))).length).toBe(5);
    const md = await readFile(join(out, 'summary.md'), 'utf8');
    expect(md).toContain(`· ${all.reduce((n, r) => n + r.cells.length, 0)} cells:`);
    expect(md).toContain('> **Warning:** 1 cell was measured by more than one input for one host/kernel');
  });

  test('other inputs into a directory that keeps a merge already: exit 2, its inputs untouched', async () => {
    const { root, dirs } = await written();
    const out = join(root, 'merged');
    expect(await reportCommand(dirs.slice(0, 2), { out }, capture())).toBe(0);
    const io = capture();
    expect(await reportCommand(dirs.slice(2, 4), { out }, io)).toBe(2);
    expect(io.stderr.join('')).toMatch(/^hookbench: .*merged already keeps the inputs of another report \(.*host-a_6\.18\.0-synthetic\/results\.json.*\): choose another --out, or remove .*merged\/inputs\n$/);
    expect((await readdir(join(out, 'inputs'))).sort()).toEqual(['host-a_6.12.0-synthetic', 'host-a_6.18.0-synthetic']);
  });

  test('a directory with neither results.json nor inputs/: exit 2, one line', async () => {
    const empty = await mkdtemp(join(tmpdir(), 'hookbench-merge-empty-'));
    const io = capture();
    expect(await reportCommand([empty], {}, io)).toBe(2);
    expect(io.stderr.join('')).toBe(`hookbench: ${empty}: no results.json in this directory (nor inputs/*/results.json of a merged report)\n`);
  });
});

describe('hookbench compare between merged sets', () => {
  /** NEW: host-a as before, host-b 10 pp worse everywhere, the guest not run, a new host-c. */
  function nextInputs(): NamedResults[] {
    const hostB = syntheticResults({ ...cellsOf('host-b-6.18'), shiftPp: 10 });
    return [
      ...inputs.filter((i) => i.dir.startsWith('host-a')),
      { dir: 'host-b-6.18', results: hostB },
      { dir: 'host-c-6.18', results: syntheticResults({ hostname: 'host-c', mechanisms: ['tracepoint'], workloads: ['mprotect'], force: {}, seed: 7 }) },
    ];
  }
  /** host-b's inputs as the fixture made them, to remake it shifted. */
  function cellsOf(dir: string) {
    const results = byDir(dir);
    const force = Object.fromEntries(results.cells.filter((c) => c.verdict === 'UNSUPPORTED').map((c) => [`${c.mechanism}×${c.workload}`, 'UNSUPPORTED' as const]));
    return { mechanisms: results.options.mechanisms, workloads: results.options.workloads, hostname: 'host-b', kernelRelease: '6.18.0-synthetic', seed: 3, hookbench: results.environment.hookbench, force };
  }

  async function mergedPair(): Promise<{ root: string; base: string; next: string; baseDirs: string[]; nextDirs: string[] }> {
    const root = await mkdtemp(join(tmpdir(), 'hookbench-merge-compare-'));
    const baseDirs = await writeInputs(join(root, 'base-runs'), inputs);
    const nextDirs = await writeInputs(join(root, 'new-runs'), nextInputs());
    const [base, next] = [join(root, 'base'), join(root, 'new')];
    expect(await reportCommand(baseDirs, { out: base }, capture())).toBe(0);
    expect(await reportCommand(nextDirs, { out: next }, capture())).toBe(0);
    return { root, base, next, baseDirs, nextDirs };
  }

  test('two merged report directories: cells matched by host/kernel, a regression on one host found, unmatched cells listed; exit 1', async () => {
    const { root, base, next } = await mergedPair();
    const io = capture();
    expect(await compareCommand(base, next, { out: join(root, 'cmp') }, io)).toBe(1);
    const text = io.stdout.join('');
    expect(text).toContain('Cells matched by host/kernel, mechanism and workload.');
    expect(text).toMatch(/^cell\s+host\/kernel\s+BASE overhead/m);
    expect(text).toMatch(/REGRESSED beyond the ±1 pp noise allowance: .*tracepoint × mprotect @ host-b 6\.18\.0-synthetic/);
    expect(text).not.toMatch(/REGRESSED.*@ host-a/);
    expect(text).toMatch(/tracepoint × mprotect\s+host-b 6\.18\.0-synthetic\s+.*regressed/);
    expect(text).toMatch(/tracepoint × mprotect\s+host-a 6\.18\.0-synthetic\s+.*no significant change/);
    expect(text).toMatch(/kprobe × mprotect\s+6\.1\.0-57-amd64 \(tcg guest\)\s+.*only in BASE/);
    expect(text).toMatch(/tracepoint × mprotect\s+host-c 6\.18\.0-synthetic\s+.*only in NEW/);
    expect(text).toContain('Measured twice: BASE: tracepoint × mprotect on host-a 6.18.0-synthetic is in host-a 6.18.0-synthetic #1 and host-a 6.18.0-synthetic #2; compared: host-a 6.18.0-synthetic #2 (started later)');
    const md = await readFile(join(root, 'cmp', 'compare.md'), 'utf8');
    expect(md).toContain('| cell | host/kernel | BASE overhead | NEW overhead | change [95 % CI] | rank test p | status | note |');
  });

  test('--base DIR... --new DIR... compares the same cells as the merged directories', async () => {
    const { root, base, next, baseDirs, nextDirs } = await mergedPair();
    const [listed, merged] = [capture(), capture()];
    expect(await compareCommand(undefined, undefined, { base: baseDirs, new: nextDirs, out: join(root, 'a') }, listed)).toBe(1);
    expect(await compareCommand(base, next, { out: join(root, 'b') }, merged)).toBe(1);
    // A merged directory lists its inputs by name, so rows may come in another order: the same rows.
    const rows = (io: typeof listed) => io.stdout.join('').split('\n\n')[1].split('\n').sort();
    expect(rows(listed)).toEqual(rows(merged));
    expect(rows(listed)).toHaveLength(2 + 8 * 4 + 1);
    const comparison = compareSets(inputs.map((i) => i.results), nextInputs().map((i) => i.results), { noise: 1, confidence: 0.95 });
    expect(comparison.byEnvironment).toBe(true);
    expect(comparison.cells.filter((c) => c.status === 'only in BASE').map((c) => c.environment)).toEqual(Array(8).fill('6.1.0-57-amd64 (tcg guest)'));
    expect(comparison.contextChanges).toEqual([]);
  });

  test('one results on each side: compared whatever host/kernel they are, as before (no host/kernel column)', () => {
    const comparison = compareSets([byDir('host-a-6.18')], [byDir('host-a-6.12')], { noise: 1, confidence: 0.95 });
    expect(comparison.byEnvironment).toBe(false);
    expect(comparison.contextChanges).toEqual(['kernel: 6.18.0-synthetic → 6.12.0-synthetic']);
    expect(comparison.cells.every((c) => c.environment === null && c.base && c.next)).toBe(true);
  });

  test('usage errors exit 2 with one line: both forms, --base without --new, one argument', async () => {
    const { baseDirs, nextDirs } = await mergedPair();
    const cases: [string | undefined, string | undefined, { base?: string[]; new?: string[] }, RegExp][] = [
      [baseDirs[0], undefined, { base: baseDirs, new: nextDirs }, /either as the two arguments or as --base PATH\.\.\. --new PATH\.\.\., not both/],
      [undefined, undefined, { base: baseDirs }, /--base and --new go together/],
      [baseDirs[0], undefined, {}, /compare needs BASE and NEW/],
    ];
    for (const [base, next, options, message] of cases) {
      const io = capture();
      expect(await compareCommand(base, next, options, io)).toBe(2);
      expect(io.stderr.join('')).toMatch(message);
      expect(io.stderr.join('').trim().split('\n')).toHaveLength(1);
      expect(io.stdout).toEqual([]);
    }
  });
});
