import type { ChartBuilder } from './types.js';
import { overheadBars } from './overheadBars.js';

const TITLE = 'Overhead by mechanism and workload';

/** The headline chart: every cell's median overhead with its CI against the budget. */
export const overheadChart: ChartBuilder = {
  name: 'overhead',
  title: TITLE,
  build: ({ cells, budgets }) =>
    overheadBars(cells, {
      title: TITLE,
      subtitle: `Mean of block medians with 95 % t CI over blocks; dashed line: the ${budgets.join(' / ')} % budget`,
      budgets,
    }),
};
