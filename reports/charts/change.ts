import type { TopLevelSpec } from 'vega-lite';
import { comparedCellName, type Comparison } from '../compare.js';
import { percentNumber } from '../format.js';
import { CHART_CONFIG, SCHEMA_URL } from './theme.js';

const STATUS_COLOURS = { regressed: '#d95f02', improved: '#1b9e77', 'no significant change': '#7f7f7f' } as const;

/**
 * compare's chart: each comparable cell's change in overhead (NEW - BASE, pp; overhead = mean of block medians) with its CI,
 * over a grey band of ± noise; only a CI wholly outside the band is a change.
 */
export function changeChart(comparison: Comparison): TopLevelSpec | null {
  const rows = comparison.cells.flatMap((c) =>
    c.change
      ? [{
          cell: comparedCellName(c),
          status: c.status,
          change: c.change.value,
          ciLow: c.change.ciLow,
          ciHigh: c.change.ciHigh,
          figure: `${percentNumber(c.change.value)} pp [${percentNumber(c.change.ciLow)}, ${percentNumber(c.change.ciHigh)}]`,
          p: c.rankTest ? c.rankTest.p.toPrecision(2) : '—',
        }]
      : [],
  );
  if (rows.length === 0) return null;
  const statuses = [...new Set(rows.map((r) => r.status))] as (keyof typeof STATUS_COLOURS)[];
  const y = { field: 'cell', type: 'nominal' as const, title: null, sort: null };
  const x = { type: 'quantitative' as const, title: 'change in overhead, percentage points (NEW − BASE)' };
  const tooltip = [
    { field: 'cell', title: 'cell' },
    { field: 'status', title: 'status' },
    { field: 'figure', title: `change [${Math.round(comparison.confidence * 100)} % CI]` },
    { field: 'p', title: 'Mann-Whitney p (block medians)' },
  ];
  const noise = comparison.noise;
  const once = [{ aggregate: [{ op: 'count' as const, as: 'cells' }] }];
  return {
    $schema: SCHEMA_URL,
    title: { text: 'Change in overhead, BASE → NEW', subtitle: `Change in overhead (mean of block medians) with ${Math.round(comparison.confidence * 100)} % Welch t CI over blocks; grey band: ±${noise} pp noise allowance` },
    config: CHART_CONFIG,
    data: { values: rows },
    width: 520,
    height: { step: 26 },
    layer: [
      // The band and the zero line once, not once per cell.
      { transform: once, mark: { type: 'rect', color: '#e6e6e6' }, encoding: { x: { datum: -noise, ...x }, x2: { datum: noise } } },
      { transform: once, mark: { type: 'rule', color: '#555555' }, encoding: { x: { datum: 0, ...x } } },
      { mark: { type: 'rule', size: 2 }, encoding: { y, x: { field: 'ciLow', ...x }, x2: { field: 'ciHigh' }, color: { field: 'status', type: 'nominal', title: null, scale: { domain: statuses, range: statuses.map((s) => STATUS_COLOURS[s]) } }, tooltip } },
      { mark: { type: 'point', filled: true, size: 80, opacity: 1 }, encoding: { y, x: { field: 'change', ...x }, color: { field: 'status', type: 'nominal' }, tooltip } },
    ],
  };
}
