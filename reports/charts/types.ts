import type { TopLevelSpec } from 'vega-lite';
import type { CellView } from '../model.js';
import type { EnvironmentView, RunView } from '../runs.js';

/** What every chart is built from: the cells, the runs (inputs) and host/kernels they came from, and the budget(s). */
export interface ChartInput {
  /** One per host/kernel, mechanism and workload: a cell several inputs hold is drawn once (CellView.shown). */
  cells: CellView[];
  runs: RunView[];
  environments: EnvironmentView[];
  budgets: number[];
}

/** A chart ready to render: `name` is its file stem (charts/<name>.svg). */
export interface Chart {
  name: string;
  title: string;
  spec: TopLevelSpec;
}

/** One chart module: builds its spec with the data inlined, or null when the data has nothing for it. */
export interface ChartBuilder {
  name: string;
  title: string;
  build(input: ChartInput): TopLevelSpec | null;
}
