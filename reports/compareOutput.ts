import type { Cell } from '../bench/results.js';
import { EXACT_RANK_TEST_LIMIT, MIN_BLOCKS_PER_CPU, ROUNDS_PER_BLOCK } from '../bench/statistics.js';
import { changeChart } from './charts/change.js';
import type { Chart } from './charts/types.js';
import { comparedCellName, type CellComparison, type ChangeStatus, type Comparison } from './compare.js';
import { percentNumber, percentWithCi } from './format.js';
import { chartFigure, escapeHtml, figureHtml, htmlPage, htmlTable } from './htmlPage.js';
import { markdownTable } from './markdown.js';
import { hasOverhead } from './model.js';
import type { RunView } from './runs.js';
import { ansi, textTable, type TextColumn } from './table.js';

/** compare's three outputs (terminal, compare.md, compare.html), all from the same text rows. */

interface ComparisonRow {
  cell: string;
  /** The host/kernel when cells are matched by it, else "". */
  environment: string;
  base: string;
  next: string;
  change: string;
  p: string;
  status: ChangeStatus;
  note: string;
}

const HEADERS = ['cell', 'BASE overhead', 'NEW overhead', 'change [95 % CI]', 'rank test p', 'status', 'note'];

/** A host/kernel column after the cell when cells are matched by host/kernel. */
function headers(comparison: Comparison): string[] {
  return comparison.byEnvironment ? [HEADERS[0], 'host/kernel', ...HEADERS.slice(1)] : HEADERS;
}

function overheadOf(cell: Cell | null): string {
  if (!cell) return '—';
  return hasOverhead(cell) ? percentWithCi(cell.stats.overheadMedian) : `none (${cell.verdict})`;
}

function pValue(p: number): string {
  return p < 0.001 ? '< 0.001' : p.toFixed(3);
}

function row(c: CellComparison): ComparisonRow {
  return {
    cell: `${c.mechanism} × ${c.workload}`,
    environment: c.environment ?? '',
    base: overheadOf(c.base),
    next: overheadOf(c.next),
    change: c.change ? `${percentNumber(c.change.value)} pp [${percentNumber(c.change.ciLow)}, ${percentNumber(c.change.ciHigh)}]` : '—',
    p: c.rankTest ? pValue(c.rankTest.p) : '—',
    status: c.status,
    note: c.reason ?? '',
  };
}

function rows(comparison: Comparison): ComparisonRow[] {
  return comparison.cells.map(row);
}

function cellsOf(r: ComparisonRow, byEnvironment: boolean): string[] {
  return [r.cell, ...(byEnvironment ? [r.environment] : []), r.base, r.next, r.change, r.p, r.status, r.note];
}

function describeInput(run: RunView): string {
  const env = run.results.environment;
  return `${env.kernelRelease} on ${env.hostname}, hookbench ${env.hookbench.version}, started ${run.results.startedAt}`;
}

/** One input: its kernel, host, version and start; a set: each input by its label, then the same. */
function describeSide(side: string, runs: readonly RunView[]): string {
  if (runs.length === 1) return `${side}: ${describeInput(runs[0])}`;
  return `${side}: ${runs.length} inputs: ${runs.map((run) => `${run.label} (${describeInput(run)})`).join('; ')}`;
}

function contextLines(comparison: Comparison): string[] {
  const matching = comparison.byEnvironment ? ['Cells matched by host/kernel, mechanism and workload.'] : [];
  if (comparison.contextChanges.length) return [...matching, `Different contexts, read the changes with that in mind: ${comparison.contextChanges.join('; ')}`];
  return [...matching, comparison.byEnvironment ? 'Same hookbench version and options on every host/kernel of both sides.' : 'Same kernel, machine and hookbench version.'];
}

/** What changed between the runs, then the one-line answer: the lines every output opens with. */
function comparisonHeadline(comparison: Comparison): string[] {
  const counts = new Map<ChangeStatus, number>();
  for (const c of comparison.cells) counts.set(c.status, (counts.get(c.status) ?? 0) + 1);
  const regressed = comparison.cells.filter((c) => c.status === 'regressed').map(comparedCellName);
  const answer = regressed.length
    ? `REGRESSED beyond the ±${comparison.noise} pp noise allowance: ${regressed.join(', ')}`
    : `No confident regression (a change counts only when its whole CI clears ±${comparison.noise} pp).`;
  return [
    describeSide('BASE', comparison.base),
    describeSide('NEW', comparison.next),
    ...contextLines(comparison),
    ...comparison.duplicates.map((line) => `Measured twice: ${line}`),
    [...counts.entries()].map(([status, n]) => `${n} ${status}`).join(', '),
    answer,
  ];
}

const STATUS_ANSI: Partial<Record<ChangeStatus, Parameters<typeof ansi>[0]>> = { regressed: 'red', improved: 'green', 'not comparable': 'grey' };

const FIGURE_HEADERS: ReadonlySet<string> = new Set(HEADERS.slice(1, 5));

export function comparisonTable(comparison: Comparison, colour: boolean): string {
  const names = headers(comparison);
  const columns: TextColumn[] = names.map((header) => ({ header, align: FIGURE_HEADERS.has(header) ? 'right' : 'left' }));
  const statusColumn = names.indexOf('status');
  const data = rows(comparison);
  const colourer = colour
    ? (text: string, r: number, column: number) => {
        const hue = STATUS_ANSI[data[r].status];
        return column === statusColumn && hue ? ansi(hue, text) : text;
      }
    : undefined;
  const cells = data.map((r) => cellsOf(r, comparison.byEnvironment));
  return [...comparisonHeadline(comparison), '', textTable(columns, cells, colourer)].join('\n');
}

/** How the figures were computed; the same sentence in compare.md and compare.html. */
function method(comparison: Comparison): string {
  const confidence = Math.round(comparison.confidence * 100);
  return (
    `Each cell's overhead is the mean of its block medians (a block: ${ROUNDS_PER_BLOCK} consecutive rounds, summarised by their median per-round overhead), ` +
    `or, once each of its CPUs has ${MIN_BLOCKS_PER_CPU} blocks, the average of the CPUs' block means; ` +
    'blocks, not rounds, are the independent units. Change = NEW overhead − BASE overhead, in percentage points, with a ' +
    `${confidence} % Welch t interval from each side's standard error as its own CI took it (over its blocks, or within its CPUs; Welch–Satterthwaite degrees of freedom); ` +
    'a cell with fewer than 2 blocks on either side is not comparable. "regressed" / "improved" only when the whole CI lies beyond the noise allowance; ' +
    'the rank test is a two-sided Mann-Whitney U test on the block medians ' +
    `(exact without ties up to ${EXACT_RANK_TEST_LIMIT} blocks in all, normal approximation otherwise).`
  );
}

export function comparisonMarkdown(comparison: Comparison, chartImage: string | null): string {
  const sections = [
    '# hookbench compare',
    comparisonHeadline(comparison).map((line) => `- ${line}`).join('\n'),
    markdownTable(headers(comparison), rows(comparison).map((r) => cellsOf(r, comparison.byEnvironment))),
    method(comparison),
    ...(chartImage ? [`![Change in overhead](${chartImage})`] : []),
  ];
  return `${sections.join('\n\n')}\n`;
}

export function comparisonChart(comparison: Comparison): Chart | null {
  const spec = changeChart(comparison);
  return spec ? { name: 'compare', title: 'Change in overhead, BASE → NEW', spec } : null;
}

/** Figures wrap only between value and CI; a called change is in bold. */
function htmlCells(r: ComparisonRow, byEnvironment: boolean): string[] {
  const called = r.status === 'regressed' || r.status === 'improved';
  return [
    `<span class="cell">${escapeHtml(r.cell)}</span>`,
    ...(byEnvironment ? [escapeHtml(r.environment)] : []),
    ...[r.base, r.next, r.change, r.p].map(figureHtml),
    called ? `<strong>${escapeHtml(r.status)}</strong>` : escapeHtml(r.status),
    `<span class="note">${escapeHtml(r.note)}</span>`,
  ];
}

export async function comparisonHtml(comparison: Comparison): Promise<string> {
  const chart = comparisonChart(comparison);
  const headline = comparisonHeadline(comparison).map((line) => `<p class="lede">${escapeHtml(line)}</p>`).join('\n');
  const table = htmlTable(headers(comparison), rows(comparison).map((r) => htmlCells(r, comparison.byEnvironment)));
  const body = [
    '<h1>hookbench compare</h1>',
    headline,
    '<h2>Cells</h2>',
    table,
    ...(chart ? ['<h2>Chart</h2>', chartFigure(chart)] : []),
    `<h2>Method</h2><p>${escapeHtml(method(comparison))}</p>`,
  ].join('\n');
  return htmlPage({ title: 'hookbench compare', body, charts: chart ? [chart] : [] });
}
