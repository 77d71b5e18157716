import { eventsPerOp, percentWithCi } from '../format.js';
import type { CellView } from '../model.js';
import { blocksText } from '../summaryRows.js';

/** One cell as an overhead chart row: numbers to plot (null: nothing to plot) and tooltip texts. */
export interface OverheadRow {
  cell: string;
  series: string;
  mechanism: string;
  workload: string;
  kernel: string;
  verdict: string;
  overhead: number | null;
  ciLow: number | null;
  ciHigh: number | null;
  overheadText: string;
  meanText: string;
  rounds: string;
  precision: string;
  /** "6 blocks, sd 0.8 pp" */
  blocks: string;
  eventsPerOp: string;
  /** The verdict's reason, if any. */
  note: string;
  /** Written where the bar would be when there is no overhead: "INVALID: <reason>"; empty otherwise. */
  placeholder: string;
}

function precisionText(view: CellView): string {
  const stats = view.measured!;
  const target = view.run.results.options.precision;
  const state = stats.precisionReached ? 'reached' : 'not reached';
  return `±${stats.ciHalfWidth.toFixed(2)} pp (target ${target} pp ${state}; stopped: ${stats.stopReason})`;
}

export function overheadRow(view: CellView): OverheadRow {
  const stats = view.measured;
  const common = { cell: view.name, series: view.series, mechanism: view.mechanism, workload: view.workload, kernel: view.run.environment.label, verdict: view.verdict };
  if (!stats) {
    const why = view.reason ?? 'no measurement';
    const none = { overhead: null, ciLow: null, ciHigh: null, meanText: '—', rounds: String(view.cell.rounds.length), precision: '—', blocks: '—', eventsPerOp: '—' };
    return { ...common, ...none, overheadText: `none (${view.verdict})`, note: why, placeholder: `${view.verdict}: ${why}` };
  }
  return {
    ...common,
    overhead: stats.overheadMedian.value,
    ciLow: stats.overheadMedian.ciLow,
    ciHigh: stats.overheadMedian.ciHigh,
    overheadText: percentWithCi(stats.overheadMedian),
    meanText: percentWithCi(stats.overheadMean),
    rounds: String(stats.rounds),
    precision: precisionText(view),
    blocks: blocksText(stats),
    eventsPerOp: eventsPerOp(stats.eventsPerOp.median),
    note: view.reason ?? '',
    placeholder: '',
  };
}

/** Every plotted figure of these rows (values and CI ends), for choosing the axis. */
export function plottedValues(rows: readonly OverheadRow[]): number[] {
  return rows.flatMap((r) => [r.overhead, r.ciLow, r.ciHigh].filter((v): v is number => v !== null));
}

export const OVERHEAD_TOOLTIP = [
  { field: 'cell', title: 'cell' },
  { field: 'verdict', title: 'verdict' },
  { field: 'overheadText', title: 'overhead [95 % CI]' },
  { field: 'meanText', title: 'mean overhead [95 % CI]' },
  { field: 'rounds', title: 'rounds' },
  { field: 'precision', title: 'CI half-width' },
  { field: 'blocks', title: 'blocks ± sd' },
  { field: 'eventsPerOp', title: 'events/op' },
  { field: 'note', title: 'note' },
] as const;
