import type { TopLevelSpec } from 'vega-lite';
import type { RunSample } from '../../bench/results.js';
import type { CellView } from '../model.js';
import type { ChartBuilder } from './types.js';
import { CHART_CONFIG, SCHEMA_URL } from './theme.js';

interface RunRow {
  cell: string;
  round: number;
  arm: RunSample['arm'];
  nsPerOp: number;
  /** 1 when the arm ran first in its round, 2 when second. */
  position: number;
  outlier: boolean;
}

const ARM_COLOURS = { domain: ['baseline', 'probed'], range: ['#4c78a8', '#e45756'] };

function rowsFor(view: CellView): RunRow[] {
  const outliers = new Set(view.measured!.outlierRounds);
  return view.cell.rounds.flatMap((round) =>
    (['baseline', 'probed'] as const).map((arm) => ({
      cell: view.name,
      round: round.index,
      arm,
      // A tenth of a ns is far below what a chart shows; the raw figure is in results.json and .csv.
      nsPerOp: Math.round(round[arm].nsPerOp * 10) / 10,
      position: round.order.indexOf(arm) + 1,
      outlier: outliers.has(round.index),
    })),
  );
}

/**
 * Every round of every measured cell, baseline and probed ns/op against the round index: noise is
 * the scatter, drift the slope, outlier rounds (modified z of the overhead > 3.5) are ringed and kept.
 */
function build(cells: readonly CellView[]): TopLevelSpec | null {
  const rows = cells.filter((c) => c.measured).flatMap(rowsFor);
  if (rows.length === 0) return null;
  // The y title would repeat in every panel: the subtitle says what it is.
  const x = { field: 'round', type: 'quantitative' as const, title: 'round', axis: { format: 'd', tickMinStep: 1, tickCount: 5 } };
  const y = { field: 'nsPerOp', type: 'quantitative' as const, title: null, scale: { zero: false }, axis: { tickCount: 4, minExtent: 64 } };
  const tooltip = [
    { field: 'cell', title: 'cell' },
    { field: 'round', title: 'round' },
    { field: 'arm', title: 'arm' },
    { field: 'nsPerOp', title: 'ns per op', format: ',.1f' },
    { field: 'position', title: 'ran in round as' },
    { field: 'outlier', title: 'outlier round (kept)' },
  ];
  return {
    $schema: SCHEMA_URL,
    title: {
      text: 'Per-round times, baseline vs probed',
      subtitle: [
        'ns per op of each run, by round. Scatter is noise, a slope is drift.',
        'Large and ringed: rounds whose overhead is an outlier (modified z > 3.5), flagged and kept.',
      ],
    },
    config: CHART_CONFIG,
    data: { values: rows },
    facet: { field: 'cell', type: 'nominal', title: null, sort: [...new Set(rows.map((r) => r.cell))], header: { labelFontSize: 12 } },
    columns: 3,
    spec: {
      width: 220,
      height: 130,
      // Points only, without per-point ARIA descriptions: with hundreds of rounds per panel, lines
      // and descriptions triple the SVG and its rendering time; tooltips still give each figure.
      mark: { type: 'point', filled: true, strokeWidth: 1.5, opacity: 0.9, aria: false },
      encoding: {
        x,
        y,
        color: { field: 'arm', type: 'nominal', title: 'arm', scale: ARM_COLOURS },
        // Outlier rounds drawn larger with a dark ring, in the same layer: a separate filtered layer
        // would leave most panels with an empty data set and an infinite extent.
        size: { condition: { test: 'datum.outlier', value: 110 }, value: 22 },
        stroke: { condition: { test: 'datum.outlier', value: '#111111' }, value: 'transparent' },
        tooltip,
      },
    },
    // A shared round axis also shows how long each cell ran before it stopped.
    resolve: { scale: { y: 'independent' } },
  };
}

export const roundsChart: ChartBuilder = {
  name: 'rounds',
  title: 'Per-round times, baseline vs probed',
  build: ({ cells }) => build(cells),
};
