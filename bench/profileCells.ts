import { perHookInvalidReason } from '../probes/profiles.js';
import type { Cell } from './results.js';
import { median } from './statistics.js';

/**
 * The per-hook check of a hook-profile cell: its total count can look right while one hook never
 * fired (another over-counting), so each hook's median events per op over the probed runs must reach
 * what the workload's mix says. Cells of single mechanisms (no expectedEventsPerHook) pass through.
 */

/** Median events per op of each hook over the cell's probed runs. */
export function medianEventsPerHookPerOp(cell: Pick<Cell, 'rounds'>): Record<string, number> {
  const perOp = new Map<string, number[]>();
  for (const { probed } of cell.rounds) {
    for (const [hook, events] of Object.entries(probed.eventsPerHook ?? {})) perOp.set(hook, [...(perOp.get(hook) ?? []), events / probed.ops]);
  }
  return Object.fromEntries([...perOp].map(([hook, xs]) => [hook, median(xs)]));
}

/** Why the cell is INVALID because of one of its hooks, or null. */
export function profileCellInvalidReason(cell: Pick<Cell, 'rounds' | 'expectedEventsPerHook'>): string | null {
  if (!cell.expectedEventsPerHook || cell.rounds.length === 0) return null;
  return perHookInvalidReason(medianEventsPerHookPerOp(cell), 1, cell.expectedEventsPerHook);
}
