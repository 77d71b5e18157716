import { eventsPerOp, nsWithCi, percentWithCi } from './format.js';
import type { CellView } from './model.js';

/**
 * A cell as a row of text, the same in the terminal table, summary.md and report.html. A cell
 * without an overhead shows none: its overhead column is "—" and its note says why.
 */
export interface SummaryRow {
  cell: string;
  mechanism: string;
  workload: string;
  kernel: string;
  overhead: string;
  nsPerEvent: string;
  eventsPerOp: string;
  rounds: string;
  /** "±0.84 pp" */
  halfWidth: string;
  /** Why measuring stopped: precision, decided, max-rounds, max-time, invalid, interrupted. */
  stop: string;
  verdict: string;
  note: string;
}

const NONE = '—';

function notes(view: CellView): string {
  const stats = view.measured;
  const parts = view.reason ? [view.reason] : [];
  if (stats && !stats.precisionReached) parts.push(`precision target not reached (${stats.stopReason})`);
  if (stats && stats.outlierRounds.length > 0) {
    const n = stats.outlierRounds.length;
    parts.push(`${n} outlier round${n > 1 ? 's' : ''} flagged, kept`);
  }
  return parts.join('; ');
}

export function summaryRow(view: CellView): SummaryRow {
  const stats = view.measured;
  return {
    cell: `${view.mechanism} × ${view.workload}`,
    mechanism: view.mechanism,
    workload: view.workload,
    kernel: view.run.label,
    overhead: stats ? percentWithCi(stats.overheadMedian) : NONE,
    nsPerEvent: stats?.nsPerEvent ? nsWithCi(stats.nsPerEvent) : NONE,
    eventsPerOp: stats ? eventsPerOp(stats.eventsPerOp.median) : NONE,
    rounds: String(view.cell.rounds.length),
    halfWidth: stats ? `±${stats.ciHalfWidth.toFixed(2)} pp` : NONE,
    stop: view.cell.stats?.stopReason ?? NONE,
    verdict: view.verdict,
    note: notes(view),
  };
}
