import { HOOK_TARGETS } from '../probes/hookpoints.js';
import { profileMechanismByName } from '../probes/profiles.js';
import { MECHANISMS } from '../probes/registry.js';
import { WORKLOAD_NAMES } from '../workloads/registry.js';
import { UsageError } from './errors.js';
import type { RunOptions } from './results.js';

export const DEFAULT_MECHANISMS = ['tracepoint', 'audit'];
export const DEFAULT_WORKLOADS = ['mprotect', 'null'];

export const DEFAULT_OPTIONS: Omit<RunOptions, 'mechanisms' | 'workloads'> = {
  budget: 5,
  precision: 1,
  maxRounds: 200,
  minRounds: 20,
  maxTimeS: 60,
  runMs: 200,
  confidence: 0.95,
  bootstrapResamples: 10_000,
  seed: 1,
  cpus: null,
};

export interface PlannedCell {
  mechanism: string;
  workload: string;
}

/** Names are matched against the registries, never passed on: an unknown one is a usage error. */
export function validateNames(kind: 'mechanism' | 'workload', names: readonly string[]): string[] {
  const known = kind === 'mechanism' ? MECHANISMS.map((m) => m.name) : WORKLOAD_NAMES.filter((w) => w in HOOK_TARGETS);
  if (names.length === 0) throw new UsageError(`no ${kind}s given`);
  for (const name of names) {
    // A hook profile's cell (`elkeid-default/tracepoint`) is a mechanism too.
    if (known.includes(name) || (kind === 'mechanism' && profileMechanismByName(name))) continue;
    throw new UsageError(`unknown ${kind} '${name}' (known: ${known.join(', ')}${kind === 'mechanism' ? ', or <profile>/<realisation>' : ''})`);
  }
  return [...new Set(names)];
}

/**
 * Cells in run order: workload-major, so each workload's calibration is fresh for its cells, and the
 * mechanisms in registry order within it; audit cells last of all, because enabling audit once gives
 * every later task an audit context until reboot, which would tax every later cell's baseline.
 */
export function planCells(options: Pick<RunOptions, 'mechanisms' | 'workloads'>): PlannedCell[] {
  const profileCells = options.mechanisms.flatMap((name) => profileMechanismByName(name) ?? []);
  const chosen = [...MECHANISMS.filter((m) => options.mechanisms.includes(m.name)), ...profileCells];
  const cells = (family: (f: string) => boolean) =>
    options.workloads.flatMap((workload) => chosen.filter((m) => family(m.family)).map((m) => ({ mechanism: m.name, workload })));
  return [...cells((f) => f !== 'audit'), ...cells((f) => f === 'audit')];
}
