import { VERDICTS, type Cell, type CellStats, type Results, type Verdict } from '../bench/results.js';
import { runViews, type RunView } from './runs.js';

/**
 * The one view of results documents that every report draws from: which input (and host/kernel) a
 * cell belongs to, what to call it, whether another input measured it too, and whether it has an
 * overhead to show at all. An INVALID, UNSUPPORTED or ERROR cell has none, even when its stats exist:
 * the probe did not count what the cell is about, so its timing difference is not the hook's cost.
 */

const VERDICTS_WITH_OVERHEAD: ReadonlySet<Verdict> = new Set(['PASS', 'FAIL', 'INCONCLUSIVE']);

/**
 * The same cell (mechanism and workload) on the same host and kernel in more than one input. Both
 * stay in the detailed tables; the summary and the charts show one: the one started last (a rerun
 * supersedes), or, started at the same moment, the one given last.
 */
export interface DuplicateCell {
  /** Every input holding this cell, in the order given. */
  runs: RunView[];
  shown: RunView;
  why: 'started later' | 'given later';
}

export interface CellView {
  run: RunView;
  cell: Cell;
  mechanism: string;
  workload: string;
  /** "tracepoint × mprotect", with " @ <host/kernel>" when several inputs are reported together. */
  name: string;
  /** The mechanism, with " @ <host/kernel>" when several inputs are reported together. */
  series: string;
  verdict: Verdict;
  reason: string | null;
  /** The statistics to show as an overhead; null when the verdict says there is none to show. */
  measured: CellStats | null;
  budget: number;
  duplicate: DuplicateCell | null;
  /** False for a duplicate that another input's measurement stands for in the summary and charts. */
  shown: boolean;
}

export function hasOverhead(cell: Cell): cell is Cell & { stats: CellStats } {
  return cell.stats !== null && VERDICTS_WITH_OVERHEAD.has(cell.verdict);
}

function duplicateOf(runs: RunView[]): DuplicateCell {
  const started = (run: RunView) => Date.parse(run.results.startedAt);
  const latest = Math.max(...runs.map(started));
  const candidates = runs.filter((run) => started(run) === latest);
  return { runs, shown: candidates[candidates.length - 1], why: candidates.length > 1 ? 'given later' : 'started later' };
}

/** Cells keyed by host/kernel, mechanism and workload; a key held by several inputs is a duplicate. */
function findDuplicates(views: readonly Omit<CellView, 'duplicate' | 'shown'>[]): Map<string, DuplicateCell> {
  const holders = new Map<string, RunView[]>();
  for (const view of views) {
    const key = cellKey(view);
    holders.set(key, [...(holders.get(key) ?? []), view.run]);
  }
  return new Map([...holders].filter(([, runs]) => runs.length > 1).map(([key, runs]) => [key, duplicateOf(runs)]));
}

/** Identifies a cell across inputs: host/kernel, mechanism, workload. */
export function cellKey(view: { run: RunView; mechanism: string; workload: string }): string {
  return JSON.stringify([view.run.environment.key, view.mechanism, view.workload]);
}

export function cellViews(results: readonly Results[]): CellView[] {
  const several = results.length > 1;
  const views = runViews(results).flatMap((run) =>
    run.results.cells.map((cell) => {
      const suffix = several ? ` @ ${run.environment.label}` : '';
      return {
        run,
        cell,
        mechanism: cell.mechanism,
        workload: cell.workload,
        name: `${cell.mechanism} × ${cell.workload}${suffix}`,
        series: `${cell.mechanism}${suffix}`,
        verdict: cell.verdict,
        reason: cell.reason,
        measured: hasOverhead(cell) ? cell.stats : null,
        budget: run.results.options.budget,
      };
    }),
  );
  const duplicates = findDuplicates(views);
  return views.map((view) => {
    const duplicate = duplicates.get(cellKey(view)) ?? null;
    return { ...view, duplicate, shown: duplicate === null || duplicate.shown === view.run };
  });
}

/**
 * One cell per host/kernel, mechanism and workload: the shown one of each duplicate, placed where
 * the cell first appears, so that a rerun given last does not move its cell to the end of a chart.
 */
export function shownCells(views: readonly CellView[]): CellView[] {
  const byKey = new Map(views.filter((v) => v.shown).map((v) => [cellKey(v), v]));
  return [...new Set(views.map((v) => byKey.get(cellKey(v))!))];
}

/** The distinct budgets of the runs, ascending (normally just one). */
export function budgets(results: readonly Results[]): number[] {
  return [...new Set(results.map((r) => r.options.budget))].sort((a, b) => a - b);
}

/** "10 PASS, 2 FAIL, 1 INVALID": verdict counts in the schema's order. */
export function verdictCounts(cells: readonly CellView[]): string {
  return VERDICTS.flatMap((verdict) => {
    const n = cells.filter((c) => c.verdict === verdict).length;
    return n > 0 ? [`${n} ${verdict}`] : [];
  }).join(', ');
}
