import { z } from 'zod';
import { ProfileFileSchema } from '../probes/profileSchema.js';

/**
 * The versioned results document: everything a report, a comparison or a skeptical reader needs,
 * including every raw sample. Data flows one way: plan -> run -> this -> reports.
 */
export const SCHEMA_VERSION = 3;

/**
 * Version 3 named the bpftrace mechanisms after their tool (bpftrace-<probe type>) when the bare BPF
 * family took the bpf-<attach type> names. A version-2 document means the same measurements under the
 * old names: reading one renames them, so `bpf-kprobe` of an old run is never taken for the new one.
 */
const RENAMED_IN_3: Readonly<Record<string, string>> = {
  'bpf-tracepoint': 'bpftrace-tracepoint',
  'bpf-raw-tracepoint': 'bpftrace-rawtracepoint',
  'bpf-kprobe': 'bpftrace-kprobe',
  'bpf-kretprobe': 'bpftrace-kretprobe',
  'bpf-fentry': 'bpftrace-kfunc',
  'bpf-fexit': 'bpftrace-kretfunc',
  'bpf-lsm': 'bpftrace-lsm',
};

function renamedIn3(value: unknown): unknown {
  if (typeof value === 'string') {
    // A mechanism, or a profile cell `<profile>/<realisation>`.
    const [head, tail] = value.includes('/') ? [value.slice(0, value.lastIndexOf('/') + 1), value.slice(value.lastIndexOf('/') + 1)] : ['', value];
    return Object.hasOwn(RENAMED_IN_3, tail) ? head + RENAMED_IN_3[tail] : value;
  }
  if (Array.isArray(value)) return value.map(renamedIn3);
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [renamedIn3(k) as string, renamedIn3(v)]));
  return value;
}

/** A parsed results document as this version reads it: version 2 with its mechanisms renamed; others as they are. */
export function upgradeResults(document: unknown): unknown {
  const version = (document as { schemaVersion?: unknown } | null)?.schemaVersion;
  if (version !== 2 || (document as { tool?: unknown }).tool !== 'hookbench') return document;
  return { ...(renamedIn3(document) as object), schemaVersion: SCHEMA_VERSION };
}

export const PERF_COUNTERS = ['task-clock', 'context-switches', 'cpu-migrations', 'page-faults', 'cycles', 'instructions'] as const;
export type PerfCounter = (typeof PERF_COUNTERS)[number];

/** A counter the machine cannot count is null, never zero. */
export const PerfCountsSchema = z.record(z.string(), z.number().nullable());

export const RunSampleSchema = z.object({
  arm: z.enum(['baseline', 'probed']),
  /** Wall-clock start, ms since the epoch: lets reports show drift over time. */
  startedAt: z.number(),
  ops: z.number().int().positive(),
  ns: z.number().positive(),
  nsPerOp: z.number().positive(),
  perf: PerfCountsSchema,
  /** Probed arm only: what the probe counted, and attach/detach times (never inside `ns`). */
  events: z.number().int().nonnegative().optional(),
  inProgramNs: z.number().nullable().optional(),
  attachMs: z.number().optional(),
  detachMs: z.number().optional(),
  /** Probed arm of a hook-profile cell: events per hook (their sum is `events`). */
  eventsPerHook: z.record(z.string(), z.number().int().nonnegative()).optional(),
  /** The CPU the workload's timed loop started and ended on, as the workload saw it (sched_getcpu). */
  cpuStart: z.number().int().nonnegative(),
  cpuEnd: z.number().int().nonnegative(),
});
export type RunSample = z.infer<typeof RunSampleSchema>;

export const RoundSchema = z.object({
  index: z.number().int().nonnegative(),
  /** The cell's block this round belongs to (0, 1, ...): blocks are the independent units of the CI. */
  block: z.number().int().nonnegative(),
  /** The CPU both arms were pinned to. */
  cpu: z.number().int().nonnegative(),
  order: z.tuple([z.enum(['baseline', 'probed']), z.enum(['baseline', 'probed'])]),
  baseline: RunSampleSchema,
  probed: RunSampleSchema,
});
export type Round = z.infer<typeof RoundSchema>;

export const EstimateSchema = z.object({ value: z.number(), ciLow: z.number(), ciHigh: z.number() });
export type Estimate = z.infer<typeof EstimateSchema>;

export const VERDICTS = ['PASS', 'FAIL', 'INCONCLUSIVE', 'INVALID', 'UNSUPPORTED', 'ERROR'] as const;
export const VerdictSchema = z.enum(VERDICTS);
export type Verdict = z.infer<typeof VerdictSchema>;

export const StopReasonSchema = z.enum(['precision', 'decided', 'max-rounds', 'max-time', 'invalid', 'interrupted']);
export type StopReason = z.infer<typeof StopReasonSchema>;

export const CellStatsSchema = z.object({
  rounds: z.number().int(),
  blocks: z.number().int(),
  /** Per-round overhead, % (probed / mean of neighbouring baselines in its block - 1), in round order. */
  overheadPerRound: z.array(z.number()),
  /**
   * The verdict statistic: each block's median per-round overhead, averaged over blocks, with a
   * Student-t CI over the blocks at `lookConfidence` (see bench/statistics.ts sequentialPlan).
   */
  overheadMedian: EstimateSchema,
  overheadMean: EstimateSchema,
  /** Each block's median overhead, %, in block order. */
  blockOverheads: z.array(z.number()),
  /** Standard deviation of blockOverheads, percentage points: how much the overhead moved during the run. */
  betweenBlockSd: z.number(),
  /** Each measurement CPU's block overheads, %: where a mechanism costs more on one CPU than another. */
  overheadByCpu: z.array(z.object({ cpu: z.number().int().nonnegative(), blockOverheads: z.array(z.number()) })),
  /** Confidence of the stored CIs: the run's confidence split over the plan's looks. */
  lookConfidence: z.number(),
  /** Runs (either arm) that did not stay on one CPU: flagged, kept. */
  migratedRuns: z.number().int().nonnegative(),
  addedNsPerOp: EstimateSchema,
  /** Null where the cell expects no hooked events (collateral-cost cells). */
  nsPerEvent: EstimateSchema.nullable(),
  eventsPerOp: z.object({ median: z.number(), min: z.number(), max: z.number() }),
  baselineNsPerOp: z.object({ median: z.number(), cv: z.number() }),
  probedNsPerOp: z.object({ median: z.number(), cv: z.number() }),
  /** Round indices whose overhead has a modified z-score > 3.5: flagged and kept. */
  outlierRounds: z.array(z.number().int()),
  /** Median per-op delta (probed - baseline) for each perf counter; null where unsupported. */
  perfDeltaPerOp: z.record(z.string(), z.number().nullable()),
  /** Median in-program ns per event reported by BPF stats, where the mechanism has them. */
  inProgramNs: z.number().nullable(),
  ciHalfWidth: z.number(),
  precisionReached: z.boolean(),
  stopReason: StopReasonSchema,
});
export type CellStats = z.infer<typeof CellStatsSchema>;

export const CellSchema = z.object({
  mechanism: z.string(),
  workload: z.string(),
  hookPoint: z.string(),
  expectedEventsPerOp: z.number(),
  /** Hook-profile cells: events per op each hook must at least see, from the workload's mix. */
  expectedEventsPerHook: z.record(z.string(), z.number()).optional(),
  /** Iterations per run, from calibration against --run-ms. */
  iterations: z.number().int().nonnegative(),
  /** Ops per probed run where a slow mechanism got fewer than the baseline (overheads are per op). */
  probedIterations: z.number().int().positive().optional(),
  warmup: z.array(RunSampleSchema),
  rounds: z.array(RoundSchema),
  stats: CellStatsSchema.nullable(),
  verdict: VerdictSchema,
  /** Why a cell is UNSUPPORTED, INVALID or ERROR, in the kernel's or tool's words. */
  reason: z.string().nullable(),
  elapsedS: z.number(),
});
export type Cell = z.infer<typeof CellSchema>;

export const EnvironmentSchema = z.object({
  hostname: z.string(),
  kernelRelease: z.string(),
  kernelVersion: z.string(),
  arch: z.string(),
  config: z.record(z.string(), z.string().nullable()),
  lockdown: z.string().nullable(),
  cpuModel: z.string(),
  vcpus: z.number().int(),
  memoryMiB: z.number(),
  virtualization: z.string().nullable(),
  /** `accel` for a hookbench VM guest: 'kvm' or 'tcg' (absolute times emulated); null on the host. */
  accel: z.string().nullable(),
  mitigations: z.record(z.string(), z.string()),
  governor: z.string().nullable(),
  tools: z.record(z.string(), z.string().nullable()),
  hookbench: z.object({ version: z.string(), commit: z.string().nullable() }),
});
export type Environment = z.infer<typeof EnvironmentSchema>;

export const RunOptionsSchema = z.object({
  mechanisms: z.array(z.string()),
  workloads: z.array(z.string()),
  budget: z.number(),
  precision: z.number(),
  maxRounds: z.number().int(),
  minRounds: z.number().int(),
  maxTimeS: z.number(),
  runMs: z.number(),
  confidence: z.number(),
  bootstrapResamples: z.number().int(),
  seed: z.number().int(),
  /** CPUs the workload runs on (a cell's blocks rotate over them); null: every online CPU. */
  cpus: z.array(z.number().int().nonnegative()).nullable(),
  /** Hook profiles whose cells (`<profile>/<realisation>` in `mechanisms`) this run measures. */
  profiles: z.array(ProfileFileSchema).optional(),
});
export type RunOptions = z.infer<typeof RunOptionsSchema>;

/** Where the run's processes ran: the workload on the measurement CPUs, hookbench's own elsewhere. */
export const PlacementSchema = z.object({
  /** CPUs the workload was pinned to, in the order blocks rotate over them. */
  measurementCpus: z.array(z.number().int().nonnegative()),
  /** Whether hookbench's own processes (node, perf, bpftrace, auditd) were kept off each block's measurement CPU. */
  harnessIsolated: z.boolean(),
  /** How the CPUs were chosen, and what could not be done (a one-CPU machine isolates nothing). */
  policy: z.string(),
});
export type Placement = z.infer<typeof PlacementSchema>;

/** One operation's latency over repeated attach -> detach cycles, timed by tinybench (bench/latency.ts). */
export const LatencyStatsSchema = z.object({
  meanMs: z.number(),
  p99Ms: z.number(),
  /** Relative margin of error of the mean, %: the half-width of its 95 % Student-t CI over the cycles, over the mean. */
  rme: z.number(),
  /** Timed cycles. */
  samples: z.number().int().positive(),
  /** Every timed cycle, ms, in ascending order (tinybench sorts them; the order they were taken in is not kept). */
  samplesMs: z.array(z.number().nonnegative()),
});
export type LatencyStats = z.infer<typeof LatencyStatsSchema>;

const LatencySubjectSchema = z.object({
  mechanism: z.string(),
  /** Where it was attached: the mprotect workload's hook point (the one `detect()` tries). */
  hookPoint: z.string(),
});

/** A mechanism's attach and detach latency; an unsupported one (or one whose cycles failed) says why and has no times. */
export const MechanismLatencySchema = z.discriminatedUnion('status', [
  LatencySubjectSchema.extend({ status: z.literal('measured'), attach: LatencyStatsSchema, detach: LatencyStatsSchema }),
  LatencySubjectSchema.extend({ status: z.enum(['unsupported', 'error']), reason: z.string() }),
]);
export type MechanismLatency = z.infer<typeof MechanismLatencySchema>;

export const LatencySchema = z.object({
  /** Timed cycles per operation at least. */
  minCycles: z.number().int().positive(),
  /** Timed ms per operation at least: fast mechanisms keep cycling until they have spent it. */
  timeMs: z.number().nonnegative(),
  mechanisms: z.array(MechanismLatencySchema),
});
export type Latency = z.infer<typeof LatencySchema>;

export const ResultsSchema = z.object({
  schemaVersion: z.literal(SCHEMA_VERSION),
  tool: z.literal('hookbench'),
  startedAt: z.string(),
  finishedAt: z.string().nullable(),
  options: RunOptionsSchema,
  environment: EnvironmentSchema,
  /** Things a reader must know once, e.g. "cycles, instructions: <not supported> on this machine". */
  notes: z.array(z.string()),
  placement: PlacementSchema,
  cells: z.array(CellSchema),
  /**
   * Attach and detach latency of each of the run's mechanisms, measured after the cells (outside every
   * timed run). Optional: runs with --latency-cycles 0, and files written before it existed, have none.
   */
  latency: LatencySchema.optional(),
});
export type Results = z.infer<typeof ResultsSchema>;
