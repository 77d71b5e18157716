import type { Estimate } from '../bench/results.js';
import { shownCells, type CellView } from './model.js';
import type { EnvironmentView } from './runs.js';

/**
 * The summary of a report over several hosts/kernels, as data: mechanisms down (grouped by
 * workload), one column per host/kernel, and per host/kernel the mechanisms ranked by their cost
 * per hooked event. report.html and summary.md render it. Only the cells the summary shows
 * (CellView.shown) take part: a cell measured twice appears once.
 */

export interface PivotRow {
  workload: string;
  mechanism: string;
  /** One per environment, in the pivot's column order; null where that host/kernel did not run the cell. */
  cells: (CellView | null)[];
}

export interface Pivot {
  environments: EnvironmentView[];
  rows: PivotRow[];
}

export interface RankedMechanism {
  mechanism: string;
  nsPerEvent: Estimate;
}

export interface Ranking {
  environment: EnvironmentView;
  /** Cheapest first; only cells with an overhead and a cost per event. */
  ranked: RankedMechanism[];
}

/** The workload the ranking is on: every mechanism hooks it once per op, the cleanest per-event figure. */
export const RANKING_WORKLOAD = 'mprotect';

/** What the ranking row is called, in the mechanism column. */
export const RANKING_ROW = 'ranked by ns per event';

const distinct = <T>(values: readonly T[]): T[] => [...new Set(values)];

/** Workloads, mechanisms and environments in the order they first appear in the inputs. */
export function pivot(views: readonly CellView[], environments: readonly EnvironmentView[]): Pivot {
  const cells = shownCells(views);
  const find = (workload: string, mechanism: string, environment: EnvironmentView) =>
    cells.find((c) => c.workload === workload && c.mechanism === mechanism && c.run.environment.key === environment.key) ?? null;
  const rows = distinct(cells.map((c) => c.workload)).flatMap((workload) =>
    distinct(cells.filter((c) => c.workload === workload).map((c) => c.mechanism)).map((mechanism) => ({
      workload,
      mechanism,
      cells: environments.map((environment) => find(workload, mechanism, environment)),
    })),
  );
  return { environments: [...environments], rows };
}

/** Where the ranking row goes: right after the rows of its workload (the end when there are none). */
export function rankingRowIndex(rows: readonly PivotRow[]): number {
  const last = rows.map((r) => r.workload).lastIndexOf(RANKING_WORKLOAD);
  return last < 0 ? rows.length : last + 1;
}

export function rankings(cells: readonly CellView[], environments: readonly EnvironmentView[]): Ranking[] {
  const ranked = (environment: EnvironmentView): RankedMechanism[] =>
    cells
      .filter((c) => c.shown && c.workload === RANKING_WORKLOAD && c.run.environment.key === environment.key)
      .flatMap((c) => (c.measured?.nsPerEvent ? [{ mechanism: c.mechanism, nsPerEvent: c.measured.nsPerEvent }] : []))
      .sort((a, b) => a.nsPerEvent.value - b.nsPerEvent.value);
  return environments.map((environment) => ({ environment, ranked: ranked(environment) }));
}
