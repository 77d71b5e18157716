import type { TopLevelSpec } from 'vega-lite';
import type { CellView } from '../model.js';
import { BUDGET_COLOUR, CHART_CONFIG, SCHEMA_URL, overheadAxis, verdictScale } from './theme.js';
import { OVERHEAD_TOOLTIP, overheadRow, plottedValues } from './overheadRows.js';

export interface OverheadBarsOptions {
  title: string;
  subtitle: string;
  budgets: number[];
}

function budgetRule(budget: number) {
  return {
    // One row per panel: the rule is drawn once, not once per cell.
    transform: [{ aggregate: [{ op: 'count' as const, as: 'cells' }] }],
    mark: { type: 'rule' as const, color: BUDGET_COLOUR, strokeDash: [6, 4], size: 2 },
    encoding: { x: { datum: budget, type: 'quantitative' as const }, tooltip: { value: `budget: ${budget} %` } },
  };
}

/** Mechanisms in the run's order, each followed by its hosts/kernels: a mechanism's bars sit together. */
function seriesOrder(cells: readonly CellView[]): string[] {
  const mechanisms = [...new Set(cells.map((c) => c.mechanism))];
  const environments = [...new Set(cells.map((c) => c.run.environment.key))];
  const rank = (c: CellView) => mechanisms.indexOf(c.mechanism) * environments.length + environments.indexOf(c.run.environment.key);
  return [...new Set([...cells].sort((a, b) => rank(a) - rank(b)).map((c) => c.series))];
}

/**
 * Horizontal bars of the median overhead with its 95 % CI, one panel per workload, one bar per
 * mechanism, coloured by verdict, with the budget as a dashed rule. A cell without an overhead
 * (INVALID, UNSUPPORTED, ERROR) gets no bar: its verdict and reason are written where the bar would be.
 */
export function overheadBars(cells: readonly CellView[], options: OverheadBarsOptions): TopLevelSpec | null {
  if (cells.length === 0) return null;
  const rows = cells.map(overheadRow);
  const axis = overheadAxis([...plottedValues(rows), ...options.budgets]);
  const x = { type: 'quantitative' as const, title: axis.title, scale: axis.scale, axis: axis.axisValues ? { values: axis.axisValues } : {} };
  const y = { field: 'series', type: 'nominal' as const, title: null, sort: seriesOrder(cells) };
  // Only verdicts with a bar get a colour: the others are spelt out where their bar would be.
  const barVerdicts = cells.filter((c) => c.measured).map((c) => c.verdict);
  const color = { field: 'verdict', type: 'nominal' as const, title: 'verdict', scale: verdictScale(barVerdicts) };
  const tooltip = OVERHEAD_TOOLTIP.map((t) => ({ ...t }));
  const measuredLayers = [
    { mark: { type: 'bar' as const, height: { band: 0.7 } }, encoding: { y, x: { ...x, field: 'overhead' }, color, tooltip } },
    { mark: { type: 'errorbar' as const, ticks: true, color: '#222222' }, encoding: { y, x: { ...x, field: 'ciLow' }, x2: { field: 'ciHigh' }, tooltip } },
  ];
  return {
    $schema: SCHEMA_URL,
    title: { text: options.title, subtitle: options.subtitle },
    config: CHART_CONFIG,
    data: { values: rows },
    facet: {
      row: {
        field: 'workload',
        type: 'nominal',
        sort: [...new Set(rows.map((r) => r.workload))],
        header: { title: null, labelAngle: 0, labelOrient: 'top', labelAnchor: 'start', labelPadding: 4 },
      },
    },
    spec: {
      width: 560,
      height: { step: 26 },
      layer: [
        // Without a single measured cell, bar layers would only have empty extents to warn about.
        ...(barVerdicts.length ? measuredLayers : []),
        ...options.budgets.map(budgetRule),
        {
          mark: { type: 'text', align: 'left', dx: 4, fontStyle: 'italic', limit: 520, color: '#444444' },
          encoding: { y, x: { datum: 0, type: 'quantitative' }, text: { field: 'placeholder' }, tooltip },
        },
      ],
    },
  };
}
