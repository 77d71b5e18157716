import type { ChartBuilder } from './types.js';
import { overheadBars } from './overheadBars.js';

const TITLE = 'Collateral cost on syscalls the hook does not target';

/**
 * Collateral cost: the overhead a hook adds to syscalls it does not target (cells that expect no
 * hooked events, the `null` workload). Syscall-wide tracepoints and audit rules show up here.
 */
export const collateralChart: ChartBuilder = {
  name: 'collateral',
  title: TITLE,
  build: ({ cells, budgets }) =>
    overheadBars(
      cells.filter((c) => c.cell.expectedEventsPerOp === 0),
      {
        title: TITLE,
        subtitle: `Median overhead with 95 % CI on cells expecting 0 hooked events per op; dashed line: the ${budgets.join(' / ')} % budget`,
        budgets,
      },
    ),
};
