import type { TopLevelSpec } from 'vega-lite';
import { PERF_COUNTERS } from '../../bench/results.js';
import { significant } from '../format.js';
import type { CellView } from '../model.js';
import type { ChartBuilder } from './types.js';
import { CHART_CONFIG, SCHEMA_URL } from './theme.js';

interface PerfRow {
  cell: string;
  counter: string;
  delta: number;
  figure: string;
}

/** perf reports task-clock in msec; per op that is a tiny fraction, so the chart shows CPU ns. */
const DISPLAY: Record<string, { label: string; factor: number }> = { 'task-clock': { label: 'task-clock, CPU ns', factor: 1e6 } };

function displayed(counter: string, delta: number): { counter: string; delta: number } {
  const display = DISPLAY[counter];
  return display ? { counter: display.label, delta: delta * display.factor } : { counter, delta };
}

function rowsFor(view: CellView): PerfRow[] {
  return Object.entries(view.measured!.perfDeltaPerOp).flatMap(([counter, delta]) => {
    if (delta === null) return [];
    const shown = displayed(counter, delta);
    return [{ cell: view.name, ...shown, figure: significant(shown.delta, 4) }];
  });
}

/** Known counters in perf's order, then any others the runner recorded. */
function counterOrder(counters: readonly string[]): string[] {
  const known = PERF_COUNTERS.map((c) => displayed(c, 0).counter);
  return [...known.filter((c) => counters.includes(c)), ...counters.filter((c) => !known.includes(c)).sort()];
}

/** Counters no measured cell could count, e.g. cycles in a guest without a PMU. */
function uncounted(cells: readonly CellView[]): string[] {
  const counters = new Set(cells.flatMap((c) => Object.keys(c.measured!.perfDeltaPerOp)));
  return [...counters].filter((counter) => cells.every((c) => c.measured!.perfDeltaPerOp[counter] == null));
}

/** Counters whose delta is exactly 0 in every cell: said in words, a panel of empty bars says nothing. */
function unchanged(rows: readonly PerfRow[]): string[] {
  const counters = [...new Set(rows.map((r) => r.counter))];
  return counters.filter((counter) => rows.every((r) => r.counter !== counter || r.delta === 0));
}

function build(cells: readonly CellView[]): TopLevelSpec | null {
  const measured = cells.filter((c) => c.measured);
  const all = measured.flatMap(rowsFor);
  const flat = unchanged(all);
  const rows = all.filter((r) => !flat.includes(r.counter));
  if (rows.length === 0) return null;
  const missing = uncounted(measured);
  const subtitle = [
    'Median per-op difference, probed minus baseline, for each perf counter',
    ...(flat.length ? [`No change in any cell: ${flat.join(', ')}`] : []),
    ...(missing.length ? [`Not counted on this machine: ${missing.join(', ')}`] : []),
  ];
  return {
    $schema: SCHEMA_URL,
    title: { text: 'perf counter deltas per op', subtitle },
    config: CHART_CONFIG,
    data: { values: rows },
    facet: { column: { field: 'counter', type: 'nominal', title: null, sort: counterOrder([...new Set(rows.map((r) => r.counter))]) } },
    spec: {
      width: 200,
      height: { step: 20 },
      mark: { type: 'bar', color: '#4c78a8', height: { band: 0.7 } },
      encoding: {
        y: { field: 'cell', type: 'nominal', title: null, sort: null },
        x: { field: 'delta', type: 'quantitative', title: 'Δ per op', axis: { format: ',~r', tickCount: 4 } },
        tooltip: [
          { field: 'cell', title: 'cell' },
          { field: 'counter', title: 'counter' },
          { field: 'figure', title: 'Δ per op (probed − baseline)' },
        ],
      },
    },
    resolve: { scale: { x: 'independent' } },
  };
}

export const perfChart: ChartBuilder = {
  name: 'perf',
  title: 'perf counter deltas per op',
  build: ({ cells }) => build(cells),
};
