import type { TopLevelSpec } from 'vega-lite';
import type { CellView, RunView } from '../model.js';

/** What every chart is built from: the cells, the runs they came from, and the budget(s). */
export interface ChartInput {
  cells: CellView[];
  runs: RunView[];
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
