import type { Results } from '../bench/results.js';
import { ROUNDS_PER_BLOCK, sequentialPlan } from '../bench/statistics.js';
import { environmentLine, placementLine } from './environment.js';
import { ciText, nsNumber, percent } from './format.js';
import { latencyCells, latencyHeaders, latencyReport } from './latency.js';
import { reportWarnings } from './mergeWarnings.js';
import { confidenceText } from './method.js';
import { budgets, cellViews, verdictCounts, type CellView } from './model.js';
import { pivot, RANKING_ROW, RANKING_WORKLOAD, rankingRowIndex, rankings, type Ranking } from './pivot.js';
import { environmentsOf, runViews } from './runs.js';
import { summaryRow } from './summaryRows.js';

/** A GitHub-flavoured table; pipes and line breaks inside cells are escaped. */
export function markdownTable(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const cell = (text: string) => text.replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');
  const line = (cells: readonly string[]) => `| ${cells.map(cell).join(' | ')} |`;
  return [line(headers), line(headers.map(() => '---')), ...rows.map(line)].join('\n');
}

export interface SummaryOptions {
  /** Path of the headline chart image relative to summary.md, or null when none was drawn. */
  chartImage: string | null;
  /** Each input's results.json relative to summary.md, in the order given (linked for several inputs). */
  jsonFiles?: string[];
  /** Where each input was read from, as the user named it (named in warnings). */
  sources?: string[];
}

function warnings(results: readonly Results[], options: SummaryOptions): string[] {
  return reportWarnings(results, options.sources).map((w) => `> **Warning:** ${w}`);
}

function pivotCell(view: CellView | null): string {
  if (!view) return 'not run';
  const figure = view.measured ? ` ${percent(view.measured.overheadMedian.value)} ${ciText(view.measured.overheadMedian)}` : '';
  return `**${view.verdict}**${figure}${view.duplicate ? ` (${view.duplicate.runs.length} inputs)` : ''}`;
}

function rankingCell(ranking: Ranking): string {
  if (ranking.ranked.length === 0) return `no ${RANKING_WORKLOAD} cell with an overhead`;
  return ranking.ranked.map((r, i) => `${i + 1}. ${r.mechanism} ${nsNumber(r.nsPerEvent.value)} ns ${ciText(r.nsPerEvent, nsNumber)}`).join('; ');
}

/** For several hosts/kernels: mechanisms down, one column per host/kernel, the per-event ranking after its workload. */
function pivotSection(results: readonly Results[]): string[] {
  const environments = environmentsOf(runViews(results));
  if (environments.length < 2) return [];
  const cells = cellViews(results);
  const table = pivot(cells, environments);
  const rows = table.rows.map((row) => [row.workload, row.mechanism, ...row.cells.map(pivotCell)]);
  const ranking = [RANKING_WORKLOAD, RANKING_ROW, ...rankings(cells, environments).map(rankingCell)];
  rows.splice(rankingRowIndex(table.rows), 0, ranking);
  const lede = `Verdict and overhead [95 % CI] per host/kernel; the row after the ${RANKING_WORKLOAD} rows ranks the mechanisms by the added ns per hooked ${RANKING_WORKLOAD} call [95 % CI], cheapest first (where two CIs overlap, their order is not established).`;
  return ['## Summary per host/kernel', lede, markdownTable(['workload', 'mechanism', ...environments.map((e) => e.label)], rows), '## Cells'];
}

function verdictTable(results: readonly Results[]): string {
  const several = results.length > 1;
  const rows = cellViews(results).map(summaryRow);
  const headers = ['cell', ...(several ? ['host/kernel'] : []), 'overhead [95 % CI]', 'blocks ± sd', 'ns/event [95 % CI]', 'events/op', 'verdict', 'note'];
  return markdownTable(
    headers,
    rows.map((r) => [r.cell, ...(several ? [r.kernel] : []), r.overhead, r.blocks, r.nsPerEvent, r.eventsPerOp, `**${r.verdict}**`, r.note]),
  );
}

/** One line per input; for several, with a link to the input's results.json. */
function environment(results: readonly Results[], jsonFiles: readonly string[]): string {
  const runs = runViews(results);
  if (results.length === 1) return `**Environment:** ${environmentLine(runs[0].results)}\n\n**Placement:** ${placementLine(runs[0].results.placement)}`;
  const link = (index: number) => (jsonFiles[index - 1] ? ` ([results.json](${jsonFiles[index - 1]}))` : '');
  return [
    '**Inputs:**',
    '',
    ...runs.flatMap((run) => [`- ${run.label}${link(run.index)}: ${environmentLine(run.results)}`, `  - placement: ${placementLine(run.results.placement)}`]),
  ].join('\n');
}

/** How the overhead figures were made, in two sentences, with the run's own plan. */
function methodNote(results: readonly Results[]): string {
  const plans = [...new Set(results.map((r) => {
    const plan = sequentialPlan(r.options);
    return `${plan.looks.join(', ')} blocks at ${confidenceText(plan.lookConfidence)}`;
  }))];
  const confidence = [...new Set(results.map((r) => `${Math.round(r.options.confidence * 1000) / 10} %`))].join(' / ');
  return (
    `Overhead: mean over blocks of ${ROUNDS_PER_BLOCK} rounds of each block's median per-round overhead, with a Student-t CI over the blocks; ` +
    `"blocks ± sd" is how many blocks the CI rests on and their standard deviation in percentage points. ` +
    `The stopping rule was looked at after ${plans.join(' / ')} per look (the ${confidence} split Bonferroni-style over the looks), so each CI covers with at least ${confidence} whichever look the cell stopped at. ` +
    'Cells without an overhead (INVALID, UNSUPPORTED, ERROR) show none, the note says why.'
  );
}

/** The attach/detach latency table, or nothing for runs that did not measure it. */
function latencySection(results: readonly Results[]): string[] {
  const latency = latencyReport(results);
  if (!latency) return [];
  const { rows, several, method } = latency;
  return ['## Attach and detach latency', method, markdownTable(latencyHeaders(several), rows.map((r) => latencyCells(r, several)))];
}

/**
 * summary.md: warnings about the inputs, for several hosts/kernels the summary per host/kernel, the
 * verdict table, the machine(s) in a line or two, the headline chart, attach/detach latency.
 */
export function summaryMarkdown(results: readonly Results[], options: SummaryOptions): string {
  const cells = cellViews(results);
  const sections = [
    '# hookbench results',
    ...warnings(results, options),
    `Overhead budget ${budgets(results).join(' / ')} % · ${cells.length} cells: ${verdictCounts(cells)}`,
    ...pivotSection(results),
    verdictTable(results),
    methodNote(results),
    environment(results, options.jsonFiles ?? []),
    ...(options.chartImage ? [`![Overhead by mechanism and workload](${options.chartImage})`] : []),
    ...latencySection(results),
  ];
  return `${sections.join('\n\n')}\n`;
}
