import type { Cell, Estimate, Results } from '../bench/results.js';
import { mannWhitney, overheadChangeCi, type RankTest } from '../bench/statistics.js';
import { cellKey, cellViews, hasOverhead, shownCells, type CellView } from './model.js';
import { environmentLabels, environmentsOf, runViews, type RunView } from './runs.js';

/**
 * BASE vs NEW, cell by cell (same mechanism and workload; and the same host/kernel when either side
 * is a set of several hosts/kernels, e.g. two merged reports): how the overhead moved. As in the cells
 * themselves, blocks are the independent units: the change is the difference of the cells'
 * overheads with a Welch t interval from each side's blocks taken as its own CI took them
 * (`overheadChangeCi`: over the blocks, or within CPUs), and the rank test compares the block medians. A change is called only when its whole
 * CI lies beyond the noise allowance; anything else is said plainly to be no significant change.
 */

export type ChangeStatus = 'regressed' | 'improved' | 'no significant change' | 'not comparable' | 'only in BASE' | 'only in NEW';

export interface CellComparison {
  mechanism: string;
  workload: string;
  /** The host/kernel, when cells are matched by it (Comparison.byEnvironment); null otherwise. */
  environment: string | null;
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
  /** BASE's inputs, in the order given: one run, or a set (several results, a merged report). */
  base: RunView[];
  next: RunView[];
  /**
   * Cells are matched by host/kernel as well as mechanism and workload: either side holds several
   * hosts/kernels. With one on each side they are compared whatever they are (a kernel upgrade).
   */
  byEnvironment: boolean;
  /** Percentage points a change must clear, beyond its CI, to count. */
  noise: number;
  confidence: number;
  /** What differs between the two sides' contexts: "kernel: 6.1.0 → 6.18.0"; per host/kernel when matched by it. */
  contextChanges: string[];
  /** Cells a side holds in several inputs for one host/kernel, and which input's was compared. */
  duplicates: string[];
  cells: CellComparison[];
}

export interface CompareOptions {
  noise: number;
  /** Confidence of each change's CI. */
  confidence: number;
}

type Fact = [label: string, of: (r: Results) => string];

const CONTEXT_FACTS: Fact[] = [
  ['kernel', (r) => r.environment.kernelRelease],
  ['machine', (r) => r.environment.hostname],
  ['CPU', (r) => `${r.environment.cpuModel}, ${r.environment.vcpus} vCPUs`],
  ['virtualisation', (r) => [r.environment.virtualization, r.environment.accel].filter(Boolean).join(', ') || 'none'],
  ['hookbench', (r) => `${r.environment.hookbench.version}${r.environment.hookbench.commit ? ` (${r.environment.hookbench.commit.slice(0, 12)})` : ''}`],
  ['budget', (r) => `${r.options.budget} %`],
  ['run length', (r) => `${r.options.runMs} ms`],
];

/** Within one host/kernel, kernel and machine are the same by definition. */
const WITHIN_ENVIRONMENT_FACTS = CONTEXT_FACTS.filter(([label]) => label !== 'kernel' && label !== 'machine');

/** "hookbench: 0.1.0 → 0.2.0" for each fact whose values (all of a side's runs', " / " between) differ. */
function factChanges(base: readonly RunView[], next: readonly RunView[], facts: readonly Fact[]): string[] {
  const values = (runs: readonly RunView[], of: Fact[1]) => [...new Set(runs.map((run) => of(run.results)))].join(' / ');
  return facts.flatMap(([label, of]) => {
    const [before, after] = [values(base, of), values(next, of)];
    return before === after ? [] : [`${label}: ${before} → ${after}`];
  });
}

/** Per host/kernel present on both sides, prefixed with its label, when cells are matched by it; else between the sides. */
function contextChanges(base: readonly RunView[], next: readonly RunView[], labels: Map<string, string>, byEnvironment: boolean): string[] {
  if (!byEnvironment) return factChanges(base, next, CONTEXT_FACTS);
  return [...labels].flatMap(([key, label]) => {
    const [before, after] = [base, next].map((runs) => runs.filter((run) => run.environment.key === key));
    if (before.length === 0 || after.length === 0) return [];
    return factChanges(before, after, WITHIN_ENVIRONMENT_FACTS).map((change) => `${label}: ${change}`);
  });
}

function duplicateLines(side: string, cells: readonly CellView[], labels: Map<string, string>): string[] {
  return cells.flatMap((c) =>
    c.duplicate && c.shown
      ? [`${side}: ${c.mechanism} × ${c.workload} on ${labels.get(c.run.environment.key)} is in ${c.duplicate.runs.map((r) => r.label).join(' and ')}; compared: ${c.duplicate.shown.label} (${c.duplicate.why})`]
      : [],
  );
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

function compareCell(base: Cell, next: Cell, environment: string | null, options: CompareOptions): CellComparison {
  const common = { mechanism: base.mechanism, workload: base.workload, environment, base, next };
  const reason = [unusable(base, 'BASE'), unusable(next, 'NEW')].filter(Boolean).join('; ');
  if (reason || !base.stats || !next.stats) {
    return { ...common, status: 'not comparable', change: null, rankTest: null, reason: reason || 'no statistics' };
  }
  const before = base.stats.blockOverheads;
  const after = next.stats.blockOverheads;
  const blocksReason = [tooFewBlocks(before, 'BASE'), tooFewBlocks(after, 'NEW')].filter(Boolean).join('; ');
  if (blocksReason) return { ...common, status: 'not comparable', change: null, rankTest: null, reason: blocksReason };
  const change = overheadChangeCi(base.stats.overheadByCpu, next.stats.overheadByCpu, options.confidence);
  return { ...common, status: statusOf(change, options.noise), change, rankTest: mannWhitney(after, before), reason: null };
}

function oneSided(cell: Cell, environment: string | null, status: 'only in BASE' | 'only in NEW'): CellComparison {
  const sides = status === 'only in BASE' ? { base: cell, next: null } : { base: null, next: cell };
  return { mechanism: cell.mechanism, workload: cell.workload, environment, status, ...sides, change: null, rankTest: null, reason: null };
}

/** "tracepoint × mprotect", with " @ <host/kernel>" when cells are matched by host/kernel. */
export function comparedCellName(c: CellComparison): string {
  return `${c.mechanism} × ${c.workload}${c.environment ? ` @ ${c.environment}` : ''}`;
}

/** BASE vs NEW, one results document each. */
export function compareResults(base: Results, next: Results, options: CompareOptions): Comparison {
  return compareSets([base], [next], options);
}

/**
 * BASE vs NEW, each one or several results documents. A cell measured by several inputs of a side
 * for one host/kernel is compared once, with the measurement the report would show (CellView.shown).
 */
export function compareSets(base: readonly Results[], next: readonly Results[], options: CompareOptions): Comparison {
  const [baseRuns, nextRuns] = [runViews(base), runViews(next)];
  const byEnvironment = environmentsOf(baseRuns).length > 1 || environmentsOf(nextRuns).length > 1;
  const labels = environmentLabels([...base, ...next]);
  const [baseCells, nextCells] = [cellViews(base), cellViews(next)];
  const key = (view: CellView) => (byEnvironment ? cellKey(view) : JSON.stringify([view.mechanism, view.workload]));
  const environment = (view: CellView) => (byEnvironment ? labels.get(view.run.environment.key)! : null);
  const [baseShown, nextShown] = [shownCells(baseCells), shownCells(nextCells)];
  const nextByKey = new Map(nextShown.map((view) => [key(view), view]));
  const baseKeys = new Set(baseShown.map(key));
  const cells = [
    ...baseShown.map((view) => {
      const partner = nextByKey.get(key(view));
      return partner ? compareCell(view.cell, partner.cell, environment(view), options) : oneSided(view.cell, environment(view), 'only in BASE');
    }),
    ...nextShown.filter((view) => !baseKeys.has(key(view))).map((view) => oneSided(view.cell, environment(view), 'only in NEW')),
  ];
  return {
    base: baseRuns,
    next: nextRuns,
    byEnvironment,
    noise: options.noise,
    confidence: options.confidence,
    contextChanges: contextChanges(baseRuns, nextRuns, labels, byEnvironment),
    duplicates: [...duplicateLines('BASE', baseCells, labels), ...duplicateLines('NEW', nextCells, labels)],
    cells,
  };
}

/** A CI gate: 1 when any cell confidently regressed, else 0. */
export function compareExitCode(comparison: Comparison): 0 | 1 {
  return comparison.cells.some((c) => c.status === 'regressed') ? 1 : 0;
}
