import type { Results } from '../bench/results.js';
import type { Chart } from './charts/types.js';
import { environmentFacts, placementLine } from './environment.js';
import { chartFigure, escapeHtml, htmlPage, htmlTable, verdictBadge } from './htmlPage.js';
import { latencyHeaders, latencyReport } from './latency.js';
import { methodParagraphs } from './method.js';
import { budgets, cellViews, runViews, verdictCounts } from './model.js';
import { summaryRow } from './summaryRows.js';

/** What report.html links to beside it, relative to the page. */
export interface ReportLinks {
  jsonFiles: string[];
  csvFile: string | null;
  markdownFile: string | null;
  /** Chart name -> its rendered files ([label, href]). */
  chartFiles: Map<string, [string, string][]>;
}

function header(results: readonly Results[], links: ReportLinks): string {
  const cells = cellViews(results);
  const kernels = runViews(results).map((r) => r.label);
  const raw = [
    ...links.jsonFiles.map((f) => [f, f]),
    ...(links.csvFile ? [[links.csvFile, links.csvFile]] : []),
    ...(links.markdownFile ? [[links.markdownFile, links.markdownFile]] : []),
  ].map(([label, href]) => `<a href="${escapeHtml(href)}">${escapeHtml(label)}</a>`);
  return `<h1>hookbench report</h1>
<p class="lede">Overhead budget ${budgets(results).join(' / ')} % · ${cells.length} cells: ${escapeHtml(verdictCounts(cells))} · kernel${kernels.length > 1 ? 's' : ''} ${escapeHtml(kernels.join(', '))}</p>
${notIsolated(results)}${raw.length ? `<p class="lede">Raw data beside this report: ${raw.join(' · ')}</p>` : ''}`;
}

/** A run whose harness shared the workload's CPU says so at the top, not only in the environment table. */
function notIsolated(results: readonly Results[]): string {
  const runs = runViews(results).filter((run) => !run.results.placement.harnessIsolated);
  return runs.map((run) => `<p class="lede"><strong>Placement${results.length > 1 ? ` (${escapeHtml(run.label)})` : ''}:</strong> ${escapeHtml(placementLine(run.results.placement))}</p>\n`).join('');
}

function verdictTable(results: readonly Results[]): string {
  const several = results.length > 1;
  const rows = cellViews(results).map(summaryRow);
  const headers = ['cell', ...(several ? ['kernel'] : []), 'verdict', 'overhead [95 % CI]', 'blocks ± sd', 'ns per event [95 % CI]', 'events/op', 'rounds', 'CI half-width', 'stopped by', 'note'];
  const cells = rows.map((r) => [
    `<span class="cell">${escapeHtml(r.cell)}</span>`,
    ...(several ? [`<span class="cell">${escapeHtml(r.kernel)}</span>`] : []),
    verdictBadge(r.verdict),
    ...[r.overhead, r.blocks, r.nsPerEvent, r.eventsPerOp, r.rounds, r.halfWidth, r.stop].map((figure) => `<span class="num">${escapeHtml(figure)}</span>`),
    `<span class="note">${escapeHtml(r.note)}</span>`,
  ]);
  return `<h2 id="verdicts">Verdicts</h2>\n${htmlTable(headers, cells)}`;
}

/** The attach/detach latency table, or nothing for runs that did not measure it. */
function latencyTable(results: readonly Results[]): string {
  const latency = latencyReport(results);
  if (!latency) return '';
  const { rows, several, method } = latency;
  const cells = rows.map((r) => [
    `<span class="cell">${escapeHtml(r.mechanism)}</span>`,
    ...(several ? [`<span class="cell">${escapeHtml(r.kernel)}</span>`] : []),
    ...r.figures.map((figure) => `<span class="num">${escapeHtml(figure)}</span>`),
    `<span class="note">${escapeHtml(r.note)}</span>`,
  ]);
  return `<h2 id="latency">Attach and detach latency</h2>\n<p>${escapeHtml(method)}</p>\n${htmlTable(latencyHeaders(several), cells)}`;
}

function environmentTable(results: readonly Results[]): string {
  const runs = runViews(results);
  const facts = results.map((r) => new Map(environmentFacts(r)));
  const labels = [...new Set(results.flatMap((r) => environmentFacts(r).map(([label]) => label)))];
  const rows = labels.map((label) => [escapeHtml(label), ...facts.map((f) => escapeHtml(f.get(label) ?? '—'))]);
  return `<h2 id="environment">Environment</h2>\n${htmlTable(['', ...runs.map((r) => r.label)], rows, 'facts')}`;
}

function methodSection(results: readonly Results[]): string {
  const distinct = [...new Map(runViews(results).map((run) => [JSON.stringify([run.results.options, run.results.placement]), run])).values()];
  const blocks = distinct.map((run) => {
    const heading = distinct.length > 1 ? `<h3>${escapeHtml(run.label)}</h3>` : '';
    return heading + methodParagraphs(run.results.options, run.results.placement).map((p) => `<p>${escapeHtml(p)}</p>`).join('\n');
  });
  return `<h2 id="method">Method</h2>\n<div class="method">${blocks.join('\n')}</div>`;
}

function notesSection(results: readonly Results[]): string {
  const notes = [...new Set(results.flatMap((r) => r.notes))];
  return notes.length ? `<h2 id="notes">Notes</h2>\n<ul>${notes.map((n) => `<li>${escapeHtml(n)}</li>`).join('')}</ul>` : '';
}

function chartsSection(charts: readonly Chart[], links: ReportLinks): string {
  return `<h2 id="charts">Charts</h2>\n${charts.map((c) => chartFigure(c, links.chartFiles.get(c.name))).join('\n')}`;
}

export async function reportHtml(results: readonly Results[], charts: readonly Chart[], links: ReportLinks): Promise<string> {
  const version = results[0]?.environment.hookbench.version ?? '';
  const body = [
    header(results, links),
    verdictTable(results),
    latencyTable(results),
    chartsSection(charts, links),
    environmentTable(results),
    methodSection(results),
    notesSection(results),
    `<footer>Written by hookbench ${escapeHtml(version)}. Every figure comes from the raw rounds in the JSON beside this page.</footer>`,
  ].join('\n');
  return htmlPage({ title: 'hookbench report', body, charts });
}
