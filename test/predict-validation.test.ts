import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DEFAULT_OPTIONS } from '../bench/planner.js';
import { comparisonCoverage, formatShares } from '../bench/predict.js';
import { compareWithMeasured, mechanismCosts, predictOverhead, profileHookSets, syscallHookSet, type MechanismCosts, type Prediction } from '../bench/predictModel.js';
import { applyProfileOption } from '../bench/profileOptions.js';
import type { Results, RunOptions } from '../bench/results.js';
import { runMatrix } from '../bench/runner.js';
import { recordWorkload } from '../bench/syscallRates.js';
import { hookTargetFor } from '../probes/hookpoints.js';
import { ELKEID_DEFAULT } from '../probes/profiles.js';
import { buildWorkloads } from '../workloads/build.js';

/**
 * The validation of `hookbench predict`, for real on this kernel: microbenchmark costs
 * (tracepoint and audit on mprotect, null, execve, open) and one recorded hids-mix run predict the
 * overhead of tracepoint and audit hooking hids-mix's execve, and of elkeid-default realised as
 * tracepoint and audit on hids-mix; those four cells are then measured, and each prediction's error is
 * printed with its prediction interval (costs, rates, drift, model error), the costs' interval alone and
 * the coverage of both; the tracepoint family's measurement is held to the prediction interval, audit to
 * its documented gap (docs/profiles-and-predict.md).
 */

const scratch = mkdtempSync(join(tmpdir(), 'hookbench-predict-validation-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** Short cells: this is a test, the documented figure comes from full runs. */
const QUICK: Omit<RunOptions, 'mechanisms' | 'workloads'> = { ...DEFAULT_OPTIONS, runMs: 150, maxTimeS: 25, minRounds: 15, maxRounds: 60, bootstrapResamples: 2000 };

let micro: Results;
let measured: Results;
const predictions: Prediction[] = [];

describe('predicting hids-mix from microbenchmarks, then measuring it', () => {
  it('measures the microbenchmark costs', async () => {
    micro = await runMatrix({ ...QUICK, mechanisms: ['tracepoint', 'audit'], workloads: ['mprotect', 'null', 'execve', 'open'] }, { outDir: join(scratch, 'micro') });
    for (const m of ['tracepoint', 'audit']) expect(mechanismCosts(micro, m)).toHaveProperty('collateral');
  }, 900_000);

  it('predicts from one recorded hids-mix run', async () => {
    const rates = await recordWorkload(await buildWorkloads(), 'hids-mix', 300);
    const options = { budget: 5, resamples: 2000, confidence: 0.95, seed: 1 };
    const sets = [
      syscallHookSet('tracepoint', [hookTargetFor('hids-mix').syscall]),
      syscallHookSet('audit', [hookTargetFor('hids-mix').syscall]),
      ...profileHookSets(ELKEID_DEFAULT).filter((s) => ['tracepoint', 'audit'].includes(s.mechanism)),
    ];
    for (const set of sets) predictions.push(predictOverhead(rates, mechanismCosts(micro, set.mechanism) as MechanismCosts, set, options));
    for (const p of predictions) expect(Number.isFinite(p.overhead.value)).toBe(true);
  }, 300_000);

  it('measures the same cells and compares: each prediction within what the model promises', async () => {
    const options = applyProfileOption({ ...QUICK, mechanisms: ['tracepoint', 'audit'], workloads: ['hids-mix'] }, 'elkeid-default', true);
    measured = await runMatrix({ ...options, mechanisms: ['tracepoint', 'audit', 'elkeid-default/tracepoint', 'elkeid-default/audit'] }, { outDir: join(scratch, 'hids-mix') });
    const comparisons = compareWithMeasured(predictions, measured, 'hids-mix');
    for (const c of comparisons) {
      const m = c.measured;
      const p = c.prediction;
      console.log(
        `${p.name.padEnd(26)} predicted ${p.overhead.value.toFixed(2)} [${p.overhead.ciLow.toFixed(2)}, ${p.overhead.ciHigh.toFixed(2)}] % (costs alone [${p.costOnly.ciLow.toFixed(2)}, ${p.costOnly.ciHigh.toFixed(2)}]; ${formatShares(p)})` +
          `  measured ${m ? `${m.value.toFixed(2)} [${m.ciLow.toFixed(2)}, ${m.ciHigh.toFixed(2)}]` : '-'} %  error ${c.errorPp?.toFixed(2) ?? '-'} pp`,
      );
    }
    const cov = comparisonCoverage(comparisons)!;
    console.log(`coverage: ${cov.interval.inside}/${cov.interval.total} measured medians inside the prediction intervals, ${cov.costOnly.inside}/${cov.costOnly.total} inside the costs' intervals alone`);
    for (const cell of measured.cells) expect(cell.verdict, `${cell.mechanism}: ${cell.reason}`).not.toMatch(/INVALID|ERROR|UNSUPPORTED/);
    const comparison = (name: string) => comparisons.find((c) => c.prediction.name === name)!;
    // The tracepoint family (docs/profiles-and-predict.md): the measured median inside the prediction
    // interval (at least +/-2.9 pp: its model error alone is 1.47 pp), or, where the measurement is less
    // precise than that, the measured CI overlapping it.
    for (const name of ['tracepoint', 'elkeid-default/tracepoint']) {
      const { prediction: p, measured: m } = comparison(name);
      const row = cov.interval.rows.find((r) => r.name === name)!;
      // On some machines hids-mix runs faster with a scoped tracefs instance attached: -7.0 % [-8.9, -5.2]
      // for tracepoint and -6.7 % for raw-syscalls on 2026-12-06, while none and bpf-tp stayed at 0
      // (docs/profiles-and-predict.md). The model adds costs and has no negative ones, so a measurement
      // wholly below 0 is outside what it can predict: the prediction must then be the cautious side of it.
      if (m!.ciHigh < 0) {
        console.warn(`${name}: measured ${m!.value.toFixed(2)} % [${m!.ciLow.toFixed(2)}, ${m!.ciHigh.toFixed(2)}]: the hook made hids-mix faster, which the cost model cannot predict`);
        expect(p.overhead.value, name).toBeGreaterThan(m!.ciHigh);
        continue;
      }
      expect(row.inside || row.overlapping, `${name}: predicted ${p.overhead.value.toFixed(2)} % [${p.overhead.ciLow.toFixed(2)}, ${p.overhead.ciHigh.toFixed(2)}], measured ${m!.value.toFixed(2)} %`).toBe(true);
    }
    // Audit: the documented gap (a record's cost depends on the syscall, on the rate of records and on
    // what auditd's CPU time competes with): the figure can be off by tens of points, and the single
    // execve rule's by a factor of several (the audit model error: a factor of 6.8 either way at 95 %), so
    // only what a user decides on is held: elkeid-default realised as audit blows the 5 % budget, and
    // neither the prediction nor the measurement clears it. The prediction interval's lower end sits
    // near the budget (4.82 % in one fresh-clone run, above 5 % in others), so it must not PASS rather
    // than FAIL. 25 s of hids-mix rounds give the measured cell 2 or 3 blocks, whose t interval is too
    // wide to FAIL it: its overhead must be above the budget and its verdict anything but PASS.
    const auditProfile = comparison('elkeid-default/audit');
    expect(auditProfile.prediction.verdict).not.toBe('PASS');
    expect(auditProfile.prediction.overhead.value).toBeGreaterThan(5);
    expect(auditProfile.measured!.value).toBeGreaterThan(5);
    expect(measured.cells.find((c) => c.mechanism === 'elkeid-default/audit')!.verdict).not.toBe('PASS');
  }, 900_000);
});
