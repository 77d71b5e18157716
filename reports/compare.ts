import type { Cell, Estimate, Results } from '../bench/results.js';
import { mannWhitney, medianDifferenceCi, type RankTest } from './compareStats.js';
import { hasOverhead } from './model.js';

/**
 * BASE vs NEW, cell by cell (same mechanism and workload): how the median overhead moved, with a
 * bootstrap CI of the difference and a rank test on the per-round overheads. A change is called
 * only when its whole CI lies beyond the noise allowance; anything else is said plainly to be no
 * significant change.
 */

export type ChangeStatus = 'regressed' | 'improved' | 'no significant change' | 'not comparable' | 'only in BASE' | 'only in NEW';

export interface CellComparison {
  mechanism: string;
  workload: string;
  status: ChangeStatus;
  base: Cell | null;
  next: Cell | null;
  /** Change in median overhead, percentage points (NEW - BASE), with its CI; null when not comparable. */
  change: Estimate | null;
  rankTest: RankTest | null;
  /** Why a cell is not comparable. */
  reason: string | null;
}

export interface Comparison {
  base: Results;
  next: Results;
  /** Percentage points a change must clear, beyond its CI, to count. */
  noise: number;
  confidence: number;
  resamples: number;
  /** What differs between the two runs' contexts: "kernel: 6.1.0 → 6.18.0". */
  contextChanges: string[];
  cells: CellComparison[];
}

export interface CompareOptions {
  noise: number;
  seed: number;
  resamples: number;
  confidence: number;
}

const cellKey = (cell: Cell) => `${cell.mechanism}\u0000${cell.workload}`;

function contextChanges(base: Results, next: Results): string[] {
  const facts: [string, (r: Results) => string][] = [
    ['kernel', (r) => r.environment.kernelRelease],
    ['machine', (r) => r.environment.hostname],
    ['CPU', (r) => `${r.environment.cpuModel}, ${r.environment.vcpus} vCPUs`],
    ['virtualisation', (r) => [r.environment.virtualization, r.environment.accel].filter(Boolean).join(', ') || 'none'],
    ['hookbench', (r) => `${r.environment.hookbench.version}${r.environment.hookbench.commit ? ` (${r.environment.hookbench.commit.slice(0, 12)})` : ''}`],
    ['budget', (r) => `${r.options.budget} %`],
    ['run length', (r) => `${r.options.runMs} ms`],
  ];
  return facts.flatMap(([label, of]) => (of(base) === of(next) ? [] : [`${label}: ${of(base)} → ${of(next)}`]));
}

function unusable(cell: Cell, side: string): string | null {
  if (hasOverhead(cell)) return null;
  return `${side} is ${cell.verdict}${cell.reason ? `: ${cell.reason}` : ''}`;
}

function statusOf(change: Estimate, noise: number): ChangeStatus {
  if (change.ciLow > noise) return 'regressed';
  if (change.ciHigh < -noise) return 'improved';
  return 'no significant change';
}

function compareCell(base: Cell, next: Cell, options: CompareOptions): CellComparison {
  const common = { mechanism: base.mechanism, workload: base.workload, base, next };
  const reason = [unusable(base, 'BASE'), unusable(next, 'NEW')].filter(Boolean).join('; ');
  if (reason || !base.stats || !next.stats) {
    return { ...common, status: 'not comparable', change: null, rankTest: null, reason: reason || 'no statistics' };
  }
  const before = base.stats.overheadPerRound;
  const after = next.stats.overheadPerRound;
  const change = medianDifferenceCi(before, after, options);
  return { ...common, status: statusOf(change, options.noise), change, rankTest: mannWhitney(after, before), reason: null };
}

function oneSided(cell: Cell, status: 'only in BASE' | 'only in NEW'): CellComparison {
  const sides = status === 'only in BASE' ? { base: cell, next: null } : { base: null, next: cell };
  return { mechanism: cell.mechanism, workload: cell.workload, status, ...sides, change: null, rankTest: null, reason: null };
}

export function compareResults(base: Results, next: Results, options: CompareOptions): Comparison {
  const nextByKey = new Map(next.cells.map((c) => [cellKey(c), c]));
  const baseKeys = new Set(base.cells.map(cellKey));
  const cells = [
    ...base.cells.map((cell) => {
      const partner = nextByKey.get(cellKey(cell));
      return partner ? compareCell(cell, partner, options) : oneSided(cell, 'only in BASE');
    }),
    ...next.cells.filter((c) => !baseKeys.has(cellKey(c))).map((c) => oneSided(c, 'only in NEW')),
  ];
  return { base, next, noise: options.noise, confidence: options.confidence, resamples: options.resamples, contextChanges: contextChanges(base, next), cells };
}

/** A CI gate: 1 when any cell confidently regressed, else 0. */
export function compareExitCode(comparison: Comparison): 0 | 1 {
  return comparison.cells.some((c) => c.status === 'regressed') ? 1 : 0;
}
