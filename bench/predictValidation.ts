import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { z } from 'zod';
import { hookTargetFor, type SyscallName } from '../probes/hookpoints.js';
import { ELKEID_DEFAULT } from '../probes/profiles.js';
import {
  MODEL_ERROR,
  modelFamilyOf,
  normal,
  predictionEvaluator,
  profileHookSets,
  propagate,
  syscallHookSet,
  type CostSource,
  type HookSet,
  type MechanismCosts,
  type ModelError,
  type ModelFamily,
  type PredictionInterval,
} from './predictModel.js';
import type { Estimate } from './results.js';
import { SyscallRatesSchema, type SyscallRates } from './syscallRates.js';

/**
 * How often the measured overhead falls inside the predicted interval (coverage), and the docs'
 * validation rows (test/fixtures/predict-validation.json) re-computed with the prediction interval of
 * predictModel.ts.
 */

export interface CoverageRow {
  name: string;
  interval: { ciLow: number; ciHigh: number };
  /** The measured cell's median overhead, with its CI where known. */
  measured: number | Estimate;
}

export interface Coverage {
  total: number;
  /** Rows whose measured median lies inside the interval (bounds included). */
  inside: number;
  /** Rows whose measured CI overlaps the interval (the measured median's own noise allowed for); a bare measured value counts as a point. */
  overlapping: number;
  rows: { name: string; inside: boolean; overlapping: boolean }[];
}

export function coverage(rows: readonly CoverageRow[]): Coverage {
  const judged = rows.map(({ name, interval, measured }) => {
    const m = typeof measured === 'number' ? { value: measured, ciLow: measured, ciHigh: measured } : measured;
    return {
      name,
      inside: interval.ciLow <= m.value && m.value <= interval.ciHigh,
      overlapping: interval.ciLow <= m.ciHigh && m.ciLow <= interval.ciHigh,
    };
  });
  return { total: judged.length, inside: judged.filter((r) => r.inside).length, overlapping: judged.filter((r) => r.overlapping).length, rows: judged };
}

// ---------------------------------------------------------------------------------------------
// The fixture

const EstimateJson = z.strictObject({ value: z.number(), ciLow: z.number(), ciHigh: z.number() });
const CostsJson = z.strictObject({ mprotect: z.number().nullable(), null: z.number(), execve: z.number(), open: z.number() });

export const ValidationFixtureSchema = z.strictObject({
  source: z.string(),
  perCallCosts: z.strictObject({ source: z.string(), costs: z.record(z.string(), CostsJson) }),
  recordings: z.strictObject({ source: z.string(), 'hids-mix': z.string(), build: z.string() }),
  driftCv: z.strictObject({ value: z.number().nonnegative(), source: z.string() }),
  rows: z.array(z.strictObject({ prediction: z.string(), workload: z.enum(['hids-mix', 'build']), predicted: EstimateJson, measured: EstimateJson })),
  modelErrorRows: z.strictObject({
    source: z.string(),
    rows: z.array(
      z.union([
        z.strictObject({ prediction: z.string(), errorPp: z.number() }),
        z.strictObject({ prediction: z.string(), predicted: z.number().positive(), measured: z.number().positive() }),
      ]),
    ),
  }),
});
export type ValidationFixture = z.infer<typeof ValidationFixtureSchema>;

export interface LoadedFixture {
  fixture: ValidationFixture;
  recordings: Record<'hids-mix' | 'build', SyscallRates>;
}

/** Reads the fixture and the recordings it names (beside it). */
export function loadValidationFixture(path: string): LoadedFixture {
  const fixture = ValidationFixtureSchema.parse(JSON.parse(readFileSync(path, 'utf8')));
  const read = (name: string) => SyscallRatesSchema.parse(JSON.parse(readFileSync(join(dirname(path), name), 'utf8')));
  return { fixture, recordings: { 'hids-mix': read(fixture.recordings['hids-mix']), build: read(fixture.recordings.build) } };
}

/** MODEL_ERROR's figures re-computed from the fixture's model-error rows: RMS of pp errors, RMS of ln(measured / predicted). */
export function modelErrorFromRows(fixture: ValidationFixture): Record<ModelFamily, number> {
  const rms = (xs: number[]) => Math.sqrt(xs.reduce((s, x) => s + x * x, 0) / xs.length);
  const rows = fixture.modelErrorRows.rows;
  const pp = rows.flatMap((r) => ('errorPp' in r && modelFamilyOf(r.prediction) === 'tracepoint-family' ? [r.errorPp] : []));
  const logs = rows.flatMap((r) => ('predicted' in r && modelFamilyOf(r.prediction) === 'audit' ? [Math.log(r.measured / r.predicted)] : []));
  return { 'tracepoint-family': rms(pp), audit: rms(logs) };
}

/** A mechanism's costs from the docs' per-call table, as constant sources (only their centre is used here). */
function documentedCosts(mechanism: string, c: z.infer<typeof CostsJson>): MechanismCosts {
  const constant = (cell: string, ns: number): CostSource => ({ cell: `${mechanism} x ${cell}`, perRound: [ns], baselineCv: 0, baselineSpread: 'between-round' });
  const hit = new Map<SyscallName, CostSource>();
  if (c.mprotect !== null) hit.set('mprotect', constant('mprotect', c.mprotect));
  hit.set('execve', constant('execve', c.execve));
  hit.set('openat', constant('open', c.open));
  return { mechanism, hit, defaultHit: hit.get('mprotect') ?? hit.get('openat')!, collateral: constant('null', c.null) };
}

/** The hook set a validation row predicted: the profile's realisation, or the mechanism on the workload's hooked syscall. */
function hookSetOf(prediction: string, workload: string): HookSet {
  if (prediction.includes('/')) {
    const set = profileHookSets(ELKEID_DEFAULT).find((s) => s.name === prediction);
    if (!set) throw new Error(`no hook set ${prediction}`);
    return set;
  }
  return syscallHookSet(prediction, [hookTargetFor(workload).syscall]);
}

/** The 95 % normal quantile: the old CI's half-widths over it are the split-normal's two sds. */
const Z975 = 1.959963984540054;

export interface ValidationOptions {
  resamples: number;
  seed: number;
  /** Override of MODEL_ERROR (e.g. leave-one-out figures); default MODEL_ERROR. */
  model?: Partial<Record<ModelFamily, Pick<ModelError, 'kind' | 'sd'>>>;
  /** Override of the fixture's drift cv. */
  driftCv?: number;
}

export interface ValidationRow {
  prediction: string;
  workload: 'hids-mix' | 'build';
  old: Estimate;
  interval: PredictionInterval;
  measured: Estimate;
}

/**
 * Each fixture row's prediction interval, through `propagate` like every prediction: (a) the costs,
 * from the old cost-only CI (the per-round data are not in git: a split normal whose 2.5 and 97.5
 * percentiles are that CI); (b) the rates: the row's hook set and the documented costs evaluated on the
 * windowed re-recording of its workload, windows resampled, as a factor on the prediction; (c) drift,
 * the fixture's cv; (d) MODEL_ERROR of the row's family.
 */
export function validationIntervals(loaded: LoadedFixture, options: ValidationOptions): ValidationRow[] {
  const { fixture, recordings } = loaded;
  const driftCv = options.driftCv ?? fixture.driftCv.value;
  return fixture.rows.map((row) => {
    const set = hookSetOf(row.prediction, row.workload);
    const costs = fixture.perCallCosts.costs[set.mechanism];
    if (!costs) throw new Error(`no documented costs for ${set.mechanism}`);
    const rates = predictionEvaluator(recordings[row.workload], documentedCosts(set.mechanism, costs), set);
    const { value, ciLow, ciHigh } = row.predicted;
    const costDraw = (random: () => number) => {
      const z = normal(random);
      return value + (z * (z < 0 ? value - ciLow : ciHigh - value)) / Z975;
    };
    const family = modelFamilyOf(row.prediction);
    const interval = propagate({
      value,
      evaluate: (cost, ratesRandom) => (cost ? costDraw(cost) : value) * (ratesRandom ? rates.evaluate(null, ratesRandom) / rates.value : 1),
      ratesDrawn: rates.ratesDrawn,
      driftLogSd: Math.SQRT2 * driftCv,
      model: options.model?.[family] ?? MODEL_ERROR[family],
      resamples: options.resamples,
      confidence: 0.95,
      seed: options.seed,
    });
    return { prediction: row.prediction, workload: row.workload, old: row.predicted, interval, measured: row.measured };
  });
}

/** Coverage of the fixture's rows: the old cost-only CIs and the new prediction intervals. */
export function validationCoverage(rows: readonly ValidationRow[]): { old: Coverage; new: Coverage } {
  const name = (r: ValidationRow) => `${r.prediction} x ${r.workload}`;
  return {
    old: coverage(rows.map((r) => ({ name: name(r), interval: r.old, measured: r.measured }))),
    new: coverage(rows.map((r) => ({ name: name(r), interval: r.interval, measured: r.measured }))),
  };
}
