/**
 * Choosing how many iterations make one run last `runMs` (lmbench's approach: time a loop long enough
 * that clock resolution and startup do not matter, default 200 ms per run).
 */

export const DEFAULT_RUN_MS = 200;
/** Fewer ops than this and per-op figures are dominated by loop entry and exit. */
export const MIN_ITERATIONS = 10;
/** A pilot this fraction of the target run is long enough to extrapolate from. */
export const PILOT_FRACTION = 0.1;
/** Pilots grow by this factor until one is long enough. */
const PILOT_GROWTH = 10;
/** A workload whose pilot is still too short after this many ops does nothing measurable. */
const MAX_PILOT_ITERATIONS = 1e10;

export interface PilotRun {
  ops: number;
  ns: number;
}

/** Rounds up to two significant figures: 123,456 -> 130,000, so counts read well in reports. */
function roundUpTwoFigures(n: number): number {
  const unit = 10 ** Math.max(0, Math.floor(Math.log10(n)) - 1);
  return Math.ceil(n / unit) * unit;
}

function assertRunMs(runMs: number): void {
  if (!(runMs > 0 && Number.isFinite(runMs))) throw new Error(`runMs must be a positive number, got ${runMs}`);
}

/** Iterations for a run of `runMs`, from a pilot's ops and elapsed ns; at least MIN_ITERATIONS. */
export function iterationsForDuration(pilot: PilotRun, runMs = DEFAULT_RUN_MS): number {
  if (!(pilot.ops > 0 && pilot.ns > 0 && Number.isFinite(pilot.ops) && Number.isFinite(pilot.ns))) {
    throw new Error(`pilot run must have positive ops and ns, got ops=${pilot.ops} ns=${pilot.ns}`);
  }
  assertRunMs(runMs);
  const nsPerOp = pilot.ns / pilot.ops;
  return Math.max(MIN_ITERATIONS, roundUpTwoFigures(Math.ceil((runMs * 1e6) / nsPerOp)));
}

/**
 * Runs one op first: an op that alone lasts `runMs` (a whole build) makes a run of one op, as no run
 * can be shorter. Otherwise runs pilots of MIN_ITERATIONS, x10, x100, ... ops until one lasts at least
 * PILOT_FRACTION of `runMs`, then scales from that pilot. `runOnce(n)` must run the workload for n ops.
 */
export async function calibrateIterations(runOnce: (iterations: number) => Promise<PilotRun>, runMs = DEFAULT_RUN_MS): Promise<number> {
  assertRunMs(runMs);
  if ((await runOnce(1)).ns >= runMs * 1e6) return 1;
  const enoughNs = runMs * 1e6 * PILOT_FRACTION;
  for (let n = MIN_ITERATIONS; n <= MAX_PILOT_ITERATIONS; n *= PILOT_GROWTH) {
    const pilot = await runOnce(n);
    if (pilot.ns >= enoughNs) return iterationsForDuration(pilot, runMs);
  }
  throw new Error(`calibration: ${MAX_PILOT_ITERATIONS} ops still ran shorter than ${enoughNs / 1e6} ms`);
}
