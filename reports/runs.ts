import { createHash } from 'node:crypto';
import type { Results } from '../bench/results.js';

/**
 * Which input is which in a report over many results (a CI job per kernel, a job per host): each
 * input's environment (host, kernel and, for a hookbench VM guest, its acceleration), a label that
 * says it, and the inputs that are the same results given twice. Reports group cells by environment
 * and keep each input's identity.
 */

export interface EnvironmentView {
  /** Identity: host name, kernel release and VM acceleration. */
  key: string;
  /** "ci-host-1 6.18.0-1-amd64" for a host, "6.1.0-57-amd64 (tcg guest)" for a hookbench VM guest. */
  label: string;
}

export interface RunView {
  /** The input's position among those given, from 1. */
  index: number;
  /** Tells inputs apart: the environment's label, with " #n" when several inputs share it. */
  label: string;
  /** Its n among the inputs of its environment, from 1; null when it is the only one. */
  ordinal: number | null;
  environment: EnvironmentView;
  results: Results;
}

/** An input whose results are identical to an earlier input's (the same file given twice): shown once. */
export interface RepeatedInput {
  index: number;
  sameAs: number;
}

export function environmentKey(results: Results): string {
  const { hostname, kernelRelease, accel } = results.environment;
  return JSON.stringify([hostname, kernelRelease, accel]);
}

/**
 * A guest of `hookbench vm` (accel set) is named by its kernel, since every guest is called
 * hookbench-vm; a host by its name and kernel. Guests that share kernel and accel but not a host
 * name (results from elsewhere) get the host name too.
 */
function baseLabel(results: Results): string {
  const { hostname, kernelRelease, accel } = results.environment;
  return accel ? `${kernelRelease} (${accel} guest)` : `${hostname} ${kernelRelease}`;
}

/** Each environment's label, unique across these results (key -> label). */
export function environmentLabels(results: readonly Results[]): Map<string, string> {
  const byKey = new Map(results.map((r) => [environmentKey(r), r]));
  const taken = new Map<string, number>();
  for (const r of byKey.values()) taken.set(baseLabel(r), (taken.get(baseLabel(r)) ?? 0) + 1);
  return new Map(
    [...byKey].map(([key, r]) => {
      const label = baseLabel(r);
      return [key, taken.get(label)! > 1 ? `${label} on ${r.environment.hostname}` : label];
    }),
  );
}

function fingerprint(results: Results): string {
  return createHash('sha256').update(JSON.stringify(results)).digest('hex');
}

/** Inputs that repeat an earlier input exactly, with the position (from 1) of the one they repeat. */
export function repeatedInputs(results: readonly Results[]): RepeatedInput[] {
  const first = new Map<string, number>();
  return results.flatMap((r, i) => {
    const print = fingerprint(r);
    const earlier = first.get(print);
    if (earlier !== undefined) return [{ index: i + 1, sameAs: earlier }];
    first.set(print, i + 1);
    return [];
  });
}

/** The distinct inputs (a repeated one is left out, see repeatedInputs), each with its environment and label. */
export function runViews(results: readonly Results[]): RunView[] {
  const repeated = new Set(repeatedInputs(results).map((r) => r.index));
  const labels = environmentLabels(results);
  const distinct = results.flatMap((r, i) => (repeated.has(i + 1) ? [] : [{ index: i + 1, results: r, key: environmentKey(r) }]));
  const perKey = (key: string) => distinct.filter((d) => d.key === key);
  return distinct.map(({ index, results: r, key }) => {
    const environment = { key, label: labels.get(key)! };
    const sharing = perKey(key);
    const ordinal = sharing.length > 1 ? sharing.findIndex((d) => d.index === index) + 1 : null;
    const label = ordinal ? `${environment.label} #${ordinal}` : environment.label;
    return { index, label, ordinal, environment, results: r };
  });
}

/** The environments of these runs, in the order they first appear. */
export function environmentsOf(runs: readonly RunView[]): EnvironmentView[] {
  return [...new Map(runs.map((run) => [run.environment.key, run.environment])).values()];
}
