import type { Results } from '../bench/results.js';
import type { Chart } from './charts/types.js';
import { environmentFacts, placementLine } from './environment.js';
import { chartFigure, escapeHtml, figureHtml, htmlPage, htmlTable, verdictBadge } from './htmlPage.js';
import { latencyHeaders, latencyReport } from './latency.js';
import { reportWarnings } from './mergeWarnings.js';
import { methodParagraphs } from './method.js';
import { budgets, cellViews, verdictCounts } from './model.js';
import { environmentsOf, runViews } from './runs.js';
import { inputsHtml, pivotHtml, warningsHtml } from './summaryHtml.js';
import { summaryRow, type SummaryRow } from './summaryRows.js';

/** What report.html links to beside it, relative to the page. */
export interface ReportLinks {
  /** Each input's results.json, in the order the results were given. */
  jsonFiles: string[];
  /** Where each input was read from, as the user named it (shown, not linked); none when unknown. */
  sources?: string[];
  csvFile: string | null;
  markdownFile: string | null;
  /** Chart name -> its rendered files ([label, href]). */
  chartFiles: Map<string, [string, string][]>;
}

/** "host/kernel X" for one input; "3 hosts/kernels from 4 inputs: X, Y, Z" for several. */
function scope(results: readonly Results[]): string {
  const runs = runViews(results);
  const environments = environmentsOf(runs).map((e) => e.label);
  if (results.length === 1) return `host/kernel ${environments[0]}`;
  const hosts = environments.length === 1 ? '1 host/kernel' : `${environments.length} hosts/kernels`;
  return `${hosts} from ${results.length} inputs: ${environments.join(', ')}`;
}

/** One input's results.json is linked here; several inputs' are listed under Inputs. */
function rawLinks(results: readonly Results[], links: ReportLinks): string {
  const files = [...(results.length === 1 ? links.jsonFiles : []), links.csvFile, links.markdownFile].filter((f): f is string => Boolean(f));
  const raw = files.map((f) => `<a href="${escapeHtml(f)}">${escapeHtml(f)}</a>`);
  if (results.length > 1) raw.push('<a href="#inputs">each input\'s results.json</a>');
  return raw.length ? `<p class="lede">Raw data beside this report: ${raw.join(' · ')}</p>` : '';
}

function header(results: readonly Results[], links: ReportLinks): string {
  const cells = cellViews(results);
  return `<h1>hookbench report</h1>
<p class="lede">Overhead budget ${budgets(results).join(' / ')} % · ${cells.length} cells: ${escapeHtml(verdictCounts(cells))} · ${escapeHtml(scope(results))}</p>
${warningsHtml(reportWarnings(results, links.sources))}${notIsolated(results)}${rawLinks(results, links)}`;
}

/** The pivot and the list of inputs: what a report over several inputs opens with. */
function mergedSummary(results: readonly Results[], links: ReportLinks): string {
  if (results.length < 2) return '';
  const runs = runViews(results);
  const environments = environmentsOf(runs);
  const summary = environments.length > 1 ? pivotHtml(cellViews(results), environments) : '';
  return `${summary}\n${inputsHtml(results, runs, links.jsonFiles, links.sources ?? [])}`;
}

/** A run whose harness shared the workload's CPU says so at the top, not only in the environment table. */
function notIsolated(results: readonly Results[]): string {
  const runs = runViews(results).filter((run) => !run.results.placement.harnessIsolated);
  return runs.map((run) => `<p class="lede"><strong>Placement${results.length > 1 ? ` (${escapeHtml(run.label)})` : ''}:</strong> ${escapeHtml(placementLine(run.results.placement))}</p>\n`).join('');
}

/** "20 rounds, ±0.84 pp, max-time": how far measuring went, in one column that wraps at its commas. */
function measuringText(row: SummaryRow): string {
  return [`${row.rounds} rounds`, row.halfWidth, row.stop].filter((part) => part !== '—').join(', ');
}

function verdictTable(results: readonly Results[]): string {
  const several = results.length > 1;
  const rows = cellViews(results).map(summaryRow);
  const headers = ['cell', ...(several ? ['host/kernel'] : []), 'verdict', 'overhead [95 % CI]', 'blocks ± sd', 'ns per event [95 % CI]', 'events/op', 'rounds, CI half-width, stopped by', 'note'];
  const cells = rows.map((r) => [
    `<span class="cell">${escapeHtml(r.cell)}</span>`,
    ...(several ? [escapeHtml(r.kernel)] : []),
    verdictBadge(r.verdict),
    ...[r.overhead, r.blocks, r.nsPerEvent, r.eventsPerOp, measuringText(r)].map(figureHtml),
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
  const facts = runs.map((run) => new Map(environmentFacts(run.results)));
  const labels = [...new Set(runs.flatMap((run) => environmentFacts(run.results).map(([label]) => label)))];
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
    mergedSummary(results, links),
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
