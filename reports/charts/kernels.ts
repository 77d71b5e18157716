import type { TopLevelSpec } from 'vega-lite';
import type { ChartBuilder } from './types.js';
import type { CellView } from '../model.js';
import { BUDGET_COLOUR, CHART_CONFIG, SCHEMA_URL, overheadAxis } from './theme.js';
import { OVERHEAD_TOOLTIP, overheadRow, plottedValues } from './overheadRows.js';

/**
 * One bar group per mechanism, one bar per host/kernel, one panel per workload: how a mechanism's
 * cost moves between kernels (from `hookbench vm`) and hosts. Only cells with an overhead are drawn.
 */
function build(cells: readonly CellView[], kernels: string[], budgets: number[]): TopLevelSpec | null {
  if (kernels.length < 2) return null;
  const rows = cells.filter((c) => c.measured).map(overheadRow);
  if (rows.length === 0) return null;
  const axis = overheadAxis([...plottedValues(rows), ...budgets]);
  const y = { type: 'quantitative' as const, title: axis.title, scale: axis.scale, axis: axis.axisValues ? { values: axis.axisValues } : {} };
  const x = { field: 'mechanism', type: 'nominal' as const, title: null, sort: null, axis: { labelAngle: -30 } };
  const xOffset = { field: 'kernel', type: 'nominal' as const, sort: kernels };
  const tooltip = [{ field: 'kernel', title: 'host/kernel' }, ...OVERHEAD_TOOLTIP.map((t) => ({ ...t }))];
  return {
    $schema: SCHEMA_URL,
    title: { text: 'Overhead per mechanism per host/kernel', subtitle: 'Median overhead with 95 % CI; dashed line: the budget; cells without an overhead (INVALID, UNSUPPORTED, ERROR) have no bar' },
    config: CHART_CONFIG,
    data: { values: rows },
    facet: { column: { field: 'workload', type: 'nominal', title: null, sort: [...new Set(rows.map((r) => r.workload))] } },
    spec: {
      width: { step: 18 * kernels.length },
      height: 260,
      layer: [
        { mark: { type: 'bar' }, encoding: { x, xOffset, y: { ...y, field: 'overhead' }, color: { field: 'kernel', type: 'nominal', title: 'host/kernel', sort: kernels }, tooltip } },
        { mark: { type: 'errorbar', ticks: true, color: '#222222' }, encoding: { x, xOffset, y: { ...y, field: 'ciLow' }, y2: { field: 'ciHigh' }, tooltip } },
        ...budgets.map((budget) => ({
          // One row per panel: the rule is drawn once, not once per cell.
    transform: [{ aggregate: [{ op: 'count' as const, as: 'cells' }] }],
    mark: { type: 'rule' as const, color: BUDGET_COLOUR, strokeDash: [6, 4], size: 2 },
          encoding: { y: { datum: budget, type: 'quantitative' as const }, tooltip: { value: `budget: ${budget} %` } },
        })),
      ],
    },
  };
}

export const kernelsChart: ChartBuilder = {
  name: 'kernels',
  title: 'Overhead per mechanism per host/kernel',
  build: ({ cells, environments, budgets }) => build(cells, environments.map((e) => e.label), budgets),
};
