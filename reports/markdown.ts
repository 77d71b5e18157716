import type { Results } from '../bench/results.js';
import { environmentLine } from './environment.js';
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
  const headers = ['cell', ...(several ? ['kernel'] : []), 'overhead [95 % CI]', 'ns/event [95 % CI]', 'events/op', 'verdict', 'note'];
  return markdownTable(
    headers,
    rows.map((r) => [r.cell, ...(several ? [r.kernel] : []), r.overhead, r.nsPerEvent, r.eventsPerOp, `**${r.verdict}**`, r.note]),
  );
}

function environment(results: readonly Results[]): string {
  const runs = runViews(results);
  if (runs.length === 1) return `**Environment:** ${environmentLine(runs[0].results)}`;
  return ['**Environments:**', '', ...runs.map((run) => `- ${run.label}: ${environmentLine(run.results)}`)].join('\n');
}

/** summary.md: the verdict table, the machine in a line or two, the headline chart. */
export function summaryMarkdown(results: readonly Results[], options: SummaryOptions): string {
  const cells = cellViews(results);
  const first = results[0].options;
  const sections = [
    '# hookbench results',
    `Overhead budget ${budgets(results).join(' / ')} % · ${cells.length} cells: ${verdictCounts(cells)}`,
    verdictTable(results),
    'Overhead: median per-round overhead with its 95 % percentile-bootstrap CI ' +
      `(${first.bootstrapResamples.toLocaleString('en-US')} resamples); cells without an overhead (INVALID, UNSUPPORTED, ERROR) show none, the note says why.`,
    environment(results),
    ...(options.chartImage ? [`![Overhead by mechanism and workload](${options.chartImage})`] : []),
  ];
  return `${sections.join('\n\n')}\n`;
}
