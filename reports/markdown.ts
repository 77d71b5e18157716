import type { Results } from '../bench/results.js';
import { ROUNDS_PER_BLOCK, sequentialPlan } from '../bench/statistics.js';
import { environmentLine, placementLine } from './environment.js';
import { latencyCells, latencyHeaders, latencyReport } from './latency.js';
import { confidenceText } from './method.js';
import { budgets, cellViews, runViews, verdictCounts } from './model.js';
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
}

function verdictTable(results: readonly Results[]): string {
  const several = results.length > 1;
  const rows = cellViews(results).map(summaryRow);
  const headers = ['cell', ...(several ? ['kernel'] : []), 'overhead [95 % CI]', 'blocks ± sd', 'ns/event [95 % CI]', 'events/op', 'verdict', 'note'];
  return markdownTable(
    headers,
    rows.map((r) => [r.cell, ...(several ? [r.kernel] : []), r.overhead, r.blocks, r.nsPerEvent, r.eventsPerOp, `**${r.verdict}**`, r.note]),
  );
}

function environment(results: readonly Results[]): string {
  const runs = runViews(results);
  if (runs.length === 1) return `**Environment:** ${environmentLine(runs[0].results)}\n\n**Placement:** ${placementLine(runs[0].results.placement)}`;
  return [
    '**Environments:**',
    '',
    ...runs.flatMap((run) => [`- ${run.label}: ${environmentLine(run.results)}`, `  - placement: ${placementLine(run.results.placement)}`]),
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

/** summary.md: the verdict table, the machine in a line or two, the headline chart, attach/detach latency. */
export function summaryMarkdown(results: readonly Results[], options: SummaryOptions): string {
  const cells = cellViews(results);
  const sections = [
    '# hookbench results',
    `Overhead budget ${budgets(results).join(' / ')} % · ${cells.length} cells: ${verdictCounts(cells)}`,
    verdictTable(results),
    methodNote(results),
    environment(results),
    ...(options.chartImage ? [`![Overhead by mechanism and workload](${options.chartImage})`] : []),
    ...latencySection(results),
  ];
  return `${sections.join('\n\n')}\n`;
}
