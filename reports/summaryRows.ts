import { eventsPerOp, nsWithCi, percentWithCi } from './format.js';
import type { CellStats } from '../bench/results.js';
import type { CellView } from './model.js';

/**
 * A cell as a row of text, the same in the terminal table, summary.md and report.html. A cell
 * without an overhead shows none: its overhead column is "—" and its note says why.
 */
export interface SummaryRow {
  cell: string;
  mechanism: string;
  workload: string;
  /** The input it comes from: its host/kernel, with "#n" when several inputs share one. */
  kernel: string;
  overhead: string;
  nsPerEvent: string;
  eventsPerOp: string;
  rounds: string;
  /** "±0.84 pp" */
  halfWidth: string;
  /** The between-block spread beside the CI: "6 blocks, sd 0.8 pp". */
  blocks: string;
  /** Runs that did not stay on one CPU: "2 migrated runs", or "" when none. */
  migrated: string;
  /** Why measuring stopped: precision, decided, max-rounds, max-time, invalid, interrupted. */
  stop: string;
  verdict: string;
  note: string;
}

const NONE = '—';

/** Which other input measured the same cell on the same host/kernel, and which one the summary shows. */
function duplicateNote(view: CellView): string {
  const duplicate = view.duplicate;
  if (!duplicate) return '';
  if (view.shown) {
    const others = duplicate.runs.filter((run) => run !== view.run).map((run) => run.label);
    return `duplicate: also measured in ${others.join(', ')}; the summary and charts show this one (${duplicate.why})`;
  }
  return `duplicate: also measured in ${duplicate.shown.label}, which the summary and charts show (${duplicate.why})`;
}

function notes(view: CellView): string {
  const stats = view.measured;
  const parts = [duplicateNote(view), view.reason ?? ''].filter(Boolean);
  if (stats && !stats.precisionReached) parts.push(`precision target not reached (${stats.stopReason})`);
  if (stats && stats.outlierRounds.length > 0) {
    const n = stats.outlierRounds.length;
    parts.push(`${n} outlier round${n > 1 ? 's' : ''} flagged, kept`);
  }
  const moved = migratedText(view);
  if (moved) parts.push(`${moved} (flagged, kept)`);
  return parts.join('; ');
}

/** "6 blocks, sd 0.8 pp": how many independent blocks the CI rests on and how far apart they were. */
export function blocksText(stats: CellStats): string {
  const sd = stats.betweenBlockSd;
  const figure = sd >= 10 ? sd.toFixed(0) : sd >= 1 ? sd.toFixed(1) : sd.toFixed(2);
  return stats.blocks < 2 ? `${stats.blocks} block, no spread` : `${stats.blocks} blocks, sd ${figure} pp`;
}

/** "1 migrated run" / "3 migrated runs"; "" when every run stayed on its CPU. */
export function migratedText(view: CellView): string {
  const n = view.cell.stats?.migratedRuns ?? 0;
  return n > 0 ? `${n} migrated run${n > 1 ? 's' : ''}` : '';
}

/** BPF cells: of the ns each event adds, what the program itself took (bpf_stats), beside the end-to-end figure. */
function inProgramText(ns: number | null): string {
  return ns === null ? '' : `, in-program ${ns >= 100 ? ns.toFixed(0) : ns.toFixed(1)}`;
}

export function summaryRow(view: CellView): SummaryRow {
  const stats = view.measured;
  return {
    cell: `${view.mechanism} × ${view.workload}`,
    mechanism: view.mechanism,
    workload: view.workload,
    kernel: view.run.label,
    overhead: stats ? percentWithCi(stats.overheadMedian) : NONE,
    nsPerEvent: stats?.nsPerEvent ? `${nsWithCi(stats.nsPerEvent)}${inProgramText(stats.inProgramNs)}` : NONE,
    eventsPerOp: stats ? eventsPerOp(stats.eventsPerOp.median) : NONE,
    rounds: String(view.cell.rounds.length),
    halfWidth: stats ? `±${stats.ciHalfWidth.toFixed(2)} pp` : NONE,
    blocks: stats ? blocksText(stats) : NONE,
    migrated: migratedText(view),
    stop: view.cell.stats?.stopReason ?? NONE,
    verdict: view.verdict,
    note: notes(view),
  };
}
