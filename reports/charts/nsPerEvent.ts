import type { TopLevelSpec } from 'vega-lite';
import { eventsPerOp, nsNumber, nsWithCi } from '../format.js';
import type { CellView } from '../model.js';
import type { ChartBuilder } from './types.js';
import { CHART_CONFIG, logDecades, SCHEMA_URL } from './theme.js';

const ADDED = 'added wall-clock ns per event';
const IN_PROGRAM = 'ns inside the BPF program (BPF stats)';

interface NsRow {
  cell: string;
  measure: string;
  ns: number;
  /** CI ends as plotted: a log axis cannot show 0 or less, so a lower end there sits at the axis floor. */
  plotLow: number | null;
  plotHigh: number | null;
  figure: string;
  eventsPerOp: string;
  verdict: string;
}

function rowsFor(view: CellView): NsRow[] {
  const stats = view.measured!;
  const perEvent = stats.nsPerEvent!;
  const common = { cell: view.name, eventsPerOp: eventsPerOp(stats.eventsPerOp.median), verdict: view.verdict };
  const rows: NsRow[] = [{ ...common, measure: ADDED, ns: perEvent.value, plotLow: perEvent.ciLow, plotHigh: perEvent.ciHigh, figure: nsWithCi(perEvent) }];
  if (stats.inProgramNs !== null) {
    rows.push({ ...common, measure: IN_PROGRAM, ns: stats.inProgramNs, plotLow: null, plotHigh: null, figure: `${nsNumber(stats.inProgramNs)} ns (median over rounds)` });
  }
  return rows;
}

/** Decades from just below the smallest figure to the largest CI end. */
function decades(rows: readonly NsRow[]): number[] {
  return logDecades(Math.min(...rows.map((r) => r.ns)), Math.max(...rows.flatMap((r) => [r.ns, r.plotHigh ?? r.ns])));
}

function build(cells: readonly CellView[]): TopLevelSpec | null {
  const withEvents = cells.filter((c) => c.measured?.nsPerEvent);
  const rows = withEvents.flatMap(rowsFor);
  const shown = rows.filter((r) => r.ns > 0);
  if (shown.length === 0) return null;
  const hidden = [...new Set(rows.filter((r) => r.ns <= 0).map((r) => r.cell))];
  const ticks = decades(shown);
  const floor = ticks[0];
  const plotted = shown.map((r) => ({ ...r, plotLow: r.plotLow === null ? null : Math.max(r.plotLow, floor) }));
  const measures = [ADDED, ...(shown.some((r) => r.measure === IN_PROGRAM) ? [IN_PROGRAM] : [])];
  const subtitle = [
    'Median added ns per hooked event with 95 % CI (log scale); BPF in-program time beside it where the mechanism reports it',
    ...(hidden.length ? [`Not shown (added cost ≤ 0 ns, within noise): ${hidden.join(', ')}`] : []),
  ];
  const y = { field: 'cell', type: 'nominal' as const, title: null, sort: null };
  const x = {
    type: 'quantitative' as const,
    title: 'ns per hooked event (log scale)',
    scale: { type: 'log' as const, domain: [floor, ticks[ticks.length - 1]] },
    axis: { values: ticks, format: ',' },
  };
  const color = { field: 'measure', type: 'nominal' as const, title: null, scale: { domain: measures, range: ['#3366aa', '#cc6677'].slice(0, measures.length) } };
  const shape = { field: 'measure', type: 'nominal' as const, title: null, scale: { domain: measures, range: ['circle', 'diamond'].slice(0, measures.length) } };
  const tooltip = [
    { field: 'cell', title: 'cell' },
    { field: 'measure', title: 'measure' },
    { field: 'figure', title: 'ns per event [95 % CI]' },
    { field: 'eventsPerOp', title: 'events/op' },
    { field: 'verdict', title: 'verdict' },
  ];
  return {
    $schema: SCHEMA_URL,
    title: { text: 'Added cost per hooked event', subtitle },
    config: CHART_CONFIG,
    data: { values: plotted },
    width: 560,
    // With an offset the step is per measure: two measures side by side, or one centred.
    height: { step: measures.length > 1 ? 13 : 24 },
    encoding: { y, yOffset: { field: 'measure', type: 'nominal', scale: { domain: measures } }, color, tooltip },
    layer: [
      { transform: [{ filter: 'isValid(datum.plotLow)' }], mark: { type: 'rule', size: 2 }, encoding: { x: { ...x, field: 'plotLow' }, x2: { field: 'plotHigh' } } },
      { mark: { type: 'point', filled: true, size: 70, opacity: 1 }, encoding: { x: { ...x, field: 'ns' }, shape } },
    ],
  };
}

export const nsPerEventChart: ChartBuilder = {
  name: 'ns-per-event',
  title: 'Added cost per hooked event',
  build: ({ cells }) => build(cells),
};
