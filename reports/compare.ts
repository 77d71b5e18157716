import type { Cell, Estimate, Results } from '../bench/results.js';
import { blockDifferenceCi, mannWhitney, type RankTest } from '../bench/statistics.js';
import { hasOverhead } from './model.js';

/**
 * BASE vs NEW, cell by cell (same mechanism and workload): how the overhead moved. As in the cells
 * themselves, blocks are the independent units: the change is the difference of the cells'
 * overheads (each the mean of its block medians, `stats.blockOverheads`) with a Welch t interval over
 * the blocks, and the rank test compares the block medians. A change is called only when its whole
 * CI lies beyond the noise allowance; anything else is said plainly to be no significant change.
 */

export type ChangeStatus = 'regressed' | 'improved' | 'no significant change' | 'not comparable' | 'only in BASE' | 'only in NEW';

export interface CellComparison {
  mechanism: string;
  workload: string;
  status: ChangeStatus;
  base: Cell | null;
  next: Cell | null;
  /** Change in overhead (mean of block medians), percentage points (NEW - BASE), with its CI; null when not comparable. */
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
  /** What differs between the two runs' contexts: "kernel: 6.1.0 → 6.18.0". */
  contextChanges: string[];
  cells: CellComparison[];
}

export interface CompareOptions {
  noise: number;
  /** Confidence of each change's CI. */
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

/** The Welch interval needs a spread on each side: at least two blocks. */
function tooFewBlocks(blocks: readonly number[], side: string): string | null {
  if (blocks.length >= 2) return null;
  return `${side} has ${blocks.length === 1 ? 'only 1 block' : 'no blocks'}, a change needs at least 2 on each side`;
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
  const before = base.stats.blockOverheads;
  const after = next.stats.blockOverheads;
  const blocksReason = [tooFewBlocks(before, 'BASE'), tooFewBlocks(after, 'NEW')].filter(Boolean).join('; ');
  if (blocksReason) return { ...common, status: 'not comparable', change: null, rankTest: null, reason: blocksReason };
  const change = blockDifferenceCi(before, after, options.confidence);
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
  return { base, next, noise: options.noise, confidence: options.confidence, contextChanges: contextChanges(base, next), cells };
}

/** A CI gate: 1 when any cell confidently regressed, else 0. */
export function compareExitCode(comparison: Comparison): 0 | 1 {
  return comparison.cells.some((c) => c.status === 'regressed') ? 1 : 0;
}
