import type { Latency, LatencyStats, MechanismLatency, Results } from '../bench/results.js';
import { countText, marginPercent, msText } from './format.js';
import { runViews } from './runs.js';
import { textTable } from './table.js';

/**
 * Attach and detach latency as text, the same in `hookbench doctor --latency`, summary.md and
 * report.html: one row per mechanism, its two operations' mean, p99, relative margin of error and
 * cycles, and for a mechanism that was not timed, why.
 */
export interface LatencyRow {
  mechanism: string;
  kernel: string;
  /** Attach's mean, p99, ±rme and n, then detach's; "—" where not timed. */
  figures: string[];
  note: string;
}

const NONE = '—';

const FIGURES = ['mean', 'p99', '±rme', 'n'] as const;

const LATENCY_FIGURE_HEADERS = (['attach', 'detach'] as const).flatMap((op) => FIGURES.map((figure) => `${op} ${figure}`));

function figures(stats: LatencyStats): string[] {
  return [msText(stats.meanMs), msText(stats.p99Ms), marginPercent(stats.rme), countText(stats.samples)];
}

function latencyRow(latency: MechanismLatency, kernel: string): LatencyRow {
  const common = { mechanism: latency.mechanism, kernel };
  if (latency.status === 'measured') return { ...common, figures: [...figures(latency.attach), ...figures(latency.detach)], note: '' };
  return { ...common, figures: LATENCY_FIGURE_HEADERS.map(() => NONE), note: `${latency.status}: ${latency.reason}` };
}

/** What summary.md and report.html show: every run's rows (a host/kernel column for several runs) and how they were made. */
export interface LatencyReport {
  rows: LatencyRow[];
  several: boolean;
  method: string;
}

/** Null when no run measured latency (--latency-cycles 0, or written before it existed). */
export function latencyReport(results: readonly Results[]): LatencyReport | null {
  const rows = runViews(results).flatMap((run) => (run.results.latency?.mechanisms ?? []).map((m) => latencyRow(m, run.label)));
  if (rows.length === 0) return null;
  const method = `${latencyMethod(results.flatMap((r) => r.latency ?? []))} Every sample is in the results JSON.`;
  return { rows, several: results.length > 1, method };
}

/** Headers and cells of the document tables: the kernel column only for several runs. */
export function latencyHeaders(several: boolean): string[] {
  return ['mechanism', ...(several ? ['host/kernel'] : []), ...LATENCY_FIGURE_HEADERS, 'note'];
}

export function latencyCells(row: LatencyRow, several: boolean): string[] {
  return [row.mechanism, ...(several ? [row.kernel] : []), ...row.figures, row.note];
}

/** How the figures were made, with each distinct setting of the runs (normally one). */
function latencyMethod(latencies: readonly Latency[]): string {
  const settings = [...new Set(latencies.map((l) => `at least ${l.minCycles} cycles and ${l.timeMs} ms of timed work`))];
  return (
    `Attach → detach cycles on the mprotect hook point, timed by tinybench, each operation alone (${settings.join(' / ')} per operation), outside every timed workload run. ` +
    "mean and p99 of the cycles; ±rme: half-width of the mean's 95 % t CI, relative to the mean; n: cycles timed."
  );
}

/** The section `hookbench doctor --latency` prints. */
export function latencySection(latency: Latency): string {
  const columns = [{ header: 'mechanism' }, ...LATENCY_FIGURE_HEADERS.map((header) => ({ header, align: 'right' as const })), { header: 'note' }];
  const rows = latency.mechanisms.map((m) => latencyCells(latencyRow(m, ''), false));
  return ['attach and detach latency:', `  ${latencyMethod([latency])}`, textTable(columns, rows).replace(/^/gm, '  ')].join('\n');
}
