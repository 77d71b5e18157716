import { budgets, cellViews, shownCells } from '../model.js';
import { environmentsOf, runViews } from '../runs.js';
import type { Results } from '../../bench/results.js';
import { collateralChart } from './collateral.js';
import { kernelsChart } from './kernels.js';
import { latencyChart } from './latency.js';
import { nsPerEventChart } from './nsPerEvent.js';
import { overheadChart } from './overhead.js';
import { perfChart } from './perf.js';
import { roundsChart } from './rounds.js';
import type { Chart, ChartBuilder, ChartInput } from './types.js';

/** Every report chart, in the order documents show them; the first is the headline. */
export const CHART_BUILDERS: readonly ChartBuilder[] = [overheadChart, nsPerEventChart, collateralChart, kernelsChart, roundsChart, perfChart, latencyChart];

export function chartInput(results: readonly Results[]): ChartInput {
  const runs = runViews(results);
  return { cells: shownCells(cellViews(results)), runs, environments: environmentsOf(runs), budgets: budgets(results) };
}

/** The charts this data has something for (e.g. no kernels chart for a single run). */
export function buildCharts(results: readonly Results[]): Chart[] {
  const input = chartInput(results);
  return CHART_BUILDERS.flatMap((builder) => {
    const spec = builder.build(input);
    return spec ? [{ name: builder.name, title: builder.title, spec }] : [];
  });
}
