import type { Results, Verdict } from '../bench/results.js';
import { cellViews } from './model.js';
import { summaryRow } from './summaryRows.js';

/**
 * Plain-text tables for the terminal (run, report, compare, vm): aligned columns, colour only when
 * asked (callers pass `process.stdout.isTTY`), so piped output stays clean.
 */

export interface TextColumn {
  header: string;
  align?: 'left' | 'right';
}

export type Colourer = (text: string, row: number, column: number) => string;

const ANSI = { red: 31, green: 32, yellow: 33, magenta: 35, grey: 90 } as const;

export function ansi(colour: keyof typeof ANSI, text: string): string {
  return `\u001b[${ANSI[colour]}m${text}\u001b[39m`;
}

const VERDICT_ANSI: Record<Verdict, keyof typeof ANSI> = {
  PASS: 'green',
  FAIL: 'red',
  INCONCLUSIVE: 'yellow',
  INVALID: 'grey',
  UNSUPPORTED: 'grey',
  ERROR: 'magenta',
};

export function colourVerdict(verdict: Verdict, text: string = verdict): string {
  return ansi(VERDICT_ANSI[verdict], text);
}

/** Columns padded to their widest entry; colour is applied after padding so it never skews widths. */
export function textTable(columns: readonly TextColumn[], rows: readonly (readonly string[])[], colour?: Colourer): string {
  const widths = columns.map((c, i) => Math.max(c.header.length, ...rows.map((r) => r[i].length)));
  const pad = (text: string, i: number) => (columns[i].align === 'right' ? text.padStart(widths[i]) : text.padEnd(widths[i]));
  const line = (cells: readonly string[], row: number | null) =>
    cells
      .map((text, i) => {
        const padded = pad(text, i);
        return row !== null && colour ? colour(padded, row, i) : padded;
      })
      .join('  ')
      .trimEnd();
  return [line(columns.map((c) => c.header), null), line(widths.map((w) => '-'.repeat(w)), null), ...rows.map((r, i) => line(r, i))].join('\n');
}

export interface CellTableOptions {
  colour: boolean;
}

/** The cells of one or several runs (several add a host/kernel column: the input each cell comes from). */
export function cellTable(results: readonly Results[], options: CellTableOptions): string {
  const several = results.length > 1;
  const views = cellViews(results);
  const rows = views.map(summaryRow);
  const columns: TextColumn[] = [
    { header: 'cell' },
    ...(several ? [{ header: 'host/kernel' }] : []),
    { header: 'overhead [95 % CI]', align: 'right' },
    { header: 'blocks ± sd' },
    { header: 'ns/event [95 % CI]', align: 'right' },
    { header: 'events/op', align: 'right' },
    { header: 'rounds', align: 'right' },
    { header: 'verdict' },
    { header: 'note' },
  ];
  const verdictColumn = several ? 7 : 6;
  const text = rows.map((r) => [r.cell, ...(several ? [r.kernel] : []), r.overhead, r.blocks, r.nsPerEvent, r.eventsPerOp, r.rounds, r.verdict, r.note]);
  const colour: Colourer | undefined = options.colour
    ? (cell, row, column) => (column === verdictColumn ? colourVerdict(views[row].verdict, cell) : cell)
    : undefined;
  return textTable(columns, text, colour);
}
