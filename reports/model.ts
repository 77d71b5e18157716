import { VERDICTS, type Cell, type CellStats, type Results, type Verdict } from '../bench/results.js';

/**
 * The one view of a results document that every report draws from: which run (kernel) a cell
 * belongs to, what to call it, and whether it has an overhead to show at all. An INVALID,
 * UNSUPPORTED or ERROR cell has none, even when its stats exist: the probe did not count what the
 * cell is about, so its timing difference is not the hook's cost.
 */

const VERDICTS_WITH_OVERHEAD: ReadonlySet<Verdict> = new Set(['PASS', 'FAIL', 'INCONCLUSIVE']);

export interface RunView {
  /** Tells runs apart in a kernel matrix: the kernel release, then accel, host or position if needed. */
  label: string;
  results: Results;
}

export interface CellView {
  run: RunView;
  cell: Cell;
  mechanism: string;
  workload: string;
  /** "tracepoint × mprotect", with " @ <kernel>" when several runs are reported together. */
  name: string;
  /** The mechanism, with " @ <kernel>" when several runs are reported together. */
  series: string;
  verdict: Verdict;
  reason: string | null;
  /** The statistics to show as an overhead; null when the verdict says there is none to show. */
  measured: CellStats | null;
  budget: number;
}

export function hasOverhead(cell: Cell): cell is Cell & { stats: CellStats } {
  return cell.stats !== null && VERDICTS_WITH_OVERHEAD.has(cell.verdict);
}

function kernelName(results: Results): string {
  const { kernelRelease, accel } = results.environment;
  return accel ? `${kernelRelease} (${accel})` : kernelRelease;
}

/** Labels that are unique: kernel first, then the host, then the position as the last resort. */
function uniqueLabels(results: readonly Results[]): string[] {
  const counts = (labels: string[]) => labels.reduce((m, l) => m.set(l, (m.get(l) ?? 0) + 1), new Map<string, number>());
  let labels = results.map(kernelName);
  let seen = counts(labels);
  labels = labels.map((label, i) => (seen.get(label)! > 1 ? `${label} on ${results[i].environment.hostname}` : label));
  seen = counts(labels);
  return labels.map((label, i) => (seen.get(label)! > 1 ? `${label} #${i + 1}` : label));
}

export function runViews(results: readonly Results[]): RunView[] {
  const labels = uniqueLabels(results);
  return results.map((r, i) => ({ label: labels[i], results: r }));
}

export function cellViews(results: readonly Results[]): CellView[] {
  const several = results.length > 1;
  return runViews(results).flatMap((run) =>
    run.results.cells.map((cell) => {
      const suffix = several ? ` @ ${run.label}` : '';
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
