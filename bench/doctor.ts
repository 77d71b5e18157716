import { Journal } from '../probes/journal.js';
import { MECHANISMS, mechanismByName } from '../probes/registry.js';
import type { Support } from '../probes/types.js';
import { undoAll } from '../probes/undo.js';
import { latencySection } from '../reports/latency.js';
import { buildWorkloads, workloadArgv, type BuiltWorkloads } from '../workloads/build.js';
import { calibrateIterations } from '../workloads/calibrate.js';
import { measureCpuSpeeds, type CpuSpeeds } from './cpus.js';
import { collectEnvironment } from './environment.js';
import { DEFAULT_LATENCY_CYCLES, DEFAULT_LATENCY_TIME_MS, measureLatency } from './latency.js';
import { parseWorkloadLine, runUnderPerfStat } from './perfstat.js';
import type { Environment, Latency, MechanismLatency } from './results.js';
import { coefficientOfVariation, median } from './statistics.js';

/** CV of back-to-back baseline runs above this makes a 1-pp precision expensive: warn. */
export const NOISY_CV = 0.03;
const NOISE_RUNS = 10;
/** CPUs whose medians on the baseline differ by more than this (slowest/fastest - 1) run at different speeds: warn. */
export const CPU_SPEED_SPREAD = 0.03;

export interface NoiseCheck {
  workload: string;
  iterations: number;
  nsPerOp: number[];
  medianNsPerOp: number;
  cv: number;
  noisy: boolean;
}

export interface DoctorReport {
  environment: Environment;
  mechanisms: ({ name: string; family: string } & Support)[];
  noise: NoiseCheck[];
  /** Each CPU's speed on the baseline workload (part of the noise check: null with --no-noise). */
  cpuSpeeds: CpuSpeeds | null;
  /** Attach and detach latency of every supported mechanism (--latency), else null. */
  latency: Latency | null;
}

export interface DoctorOptions {
  runMs: number;
  noise: boolean;
  latency: boolean;
  /** Aborted by a signal: the latency cycles stop, everything is detached, and InterruptedError is thrown. */
  signal?: AbortSignal;
  /** Each mechanism's latency as soon as it is measured (the whole takes minutes with bpftrace). */
  onLatency?: (latency: MechanismLatency) => void;
}

/** Tries every mechanism for real (attach + detach), times attach and detach (--latency), and measures how noisy this machine is. */
export async function doctor(options: DoctorOptions): Promise<DoctorReport> {
  const journal = new Journal();
  const mechanisms: DoctorReport['mechanisms'] = [];
  try {
    for (const [i, m] of MECHANISMS.entries()) {
      mechanisms.push({ name: m.name, family: m.family, ...(await m.detect({ journal, tag: `hookbench-${process.pid}-d${i}` })) });
    }
  } finally {
    await undoAll(journal);
    journal.close();
  }
  const environment = await collectEnvironment();
  const latency = options.latency ? await latencyOfSupported(mechanisms, options) : null;
  if (!options.noise) return { environment, mechanisms, noise: [], cpuSpeeds: null, latency };
  const built = await buildWorkloads();
  const noise = await noiseChecks(built, options.runMs);
  const cpuSpeeds = await measureCpuSpeeds({ workload: 'mprotect', runs: NOISE_RUNS, runMs: options.runMs, built });
  return { environment, mechanisms, noise, cpuSpeeds, latency };
}

/** Only the mechanisms detection found supported: the others are listed with the kernel's reason already. */
function latencyOfSupported(detected: DoctorReport['mechanisms'], options: DoctorOptions): Promise<Latency> {
  const supported = MECHANISMS.filter((m) => detected.some((d) => d.name === m.name && d.supported));
  return measureLatency(supported, { minCycles: DEFAULT_LATENCY_CYCLES, timeMs: DEFAULT_LATENCY_TIME_MS, signal: options.signal }, options.onLatency);
}

async function noiseChecks(built: BuiltWorkloads, runMs: number): Promise<NoiseCheck[]> {
  const runOnce = async (workload: string, n: number) => parseWorkloadLine((await runUnderPerfStat(workloadArgv(built, workload, n))).stdout);
  const checks: NoiseCheck[] = [];
  for (const workload of ['null', 'mprotect']) {
    const iterations = await calibrateIterations((n) => runOnce(workload, n), runMs);
    const nsPerOp: number[] = [];
    for (let i = 0; i < NOISE_RUNS; i++) {
      const line = await runOnce(workload, iterations);
      nsPerOp.push(line.ns / line.ops);
    }
    const cv = coefficientOfVariation(nsPerOp);
    checks.push({ workload, iterations, nsPerOp, medianNsPerOp: median(nsPerOp), cv, noisy: cv > NOISY_CV });
  }
  return checks;
}

export function formatDoctor(r: DoctorReport): string {
  const e = r.environment;
  const width = Math.max(...r.mechanisms.map((m) => m.name.length));
  const lines = [
    `kernel ${e.kernelRelease} (${e.arch}), ${e.vcpus} vCPU ${e.cpuModel}, ${e.virtualization ?? 'bare metal?'}${e.accel ? `, accel ${e.accel}` : ''}, lockdown ${e.lockdown ?? 'n/a'}`,
    `tools: ${Object.entries(e.tools).map(([k, v]) => `${k} ${v ?? 'MISSING'}`).join('; ')}`,
    '',
    'mechanisms:',
    ...r.mechanisms.map((m) => `  ${m.name.padEnd(width)}  ${m.supported ? 'supported  ' : 'UNSUPPORTED'}  ${m.reason}`),
  ];
  if (r.noise.length > 0) {
    lines.push('', `noise (${NOISE_RUNS} back-to-back baseline runs):`);
    for (const n of r.noise) {
      const verdict = n.noisy ? `NOISY (> ${NOISY_CV * 100} %): expect many rounds for a 1-pp precision` : 'ok';
      lines.push(`  ${n.workload.padEnd(9)} ${n.medianNsPerOp.toFixed(1)} ns/op, CV ${(n.cv * 100).toFixed(2)} %  ${verdict}`);
    }
  }
  if (r.cpuSpeeds) lines.push('', ...formatCpuSpeeds(r.cpuSpeeds));
  if (r.latency) lines.push('', latencySection(r.latency), ...auditStickyNote(r.latency));
  return lines.join('\n');
}

/** Audit's cycles enabled audit, which the kernel keeps until reboot: what a reader benchmarking next must know. */
function auditStickyNote(latency: Latency): string[] {
  const audit = latency.mechanisms.filter((l) => l.status === 'measured' && mechanismByName(l.mechanism)?.family === 'audit').map((l) => l.mechanism);
  if (audit.length === 0) return [];
  return [`  ${audit.join(', ')}: each cycle enabled audit (restored by its detach), and every task created since carries an audit context until reboot, later benchmarks' baselines included`];
}

/** The CPU speed section: one line per CPU, the slowest/fastest ratio, and a warning past CPU_SPEED_SPREAD. */
export function formatCpuSpeeds(s: CpuSpeeds): string[] {
  const lines = [`CPU speed (${s.workload} baseline, ${s.runsPerCpu} interleaved pinned runs per CPU):`];
  const width = Math.max(...s.cpus.map((c) => `cpu${c.cpu}`.length));
  for (const c of s.cpus) {
    const moved = c.migrated > 0 ? `  ${c.migrated} run(s) MIGRATED (cpuStart != cpuEnd): pinning did not hold` : '';
    lines.push(`  ${`cpu${c.cpu}`.padEnd(width)}  ${c.medianNsPerOp.toFixed(1)} ns/op, CV ${(c.cv * 100).toFixed(2)} %${moved}`);
  }
  if (s.cpus.length < 2) {
    lines.push('  one CPU online: nothing to compare');
    return lines;
  }
  const spread = s.slowestToFastest - 1;
  lines.push(`  slowest/fastest ${s.slowestToFastest.toFixed(3)} (${(spread * 100).toFixed(1)} %)`);
  if (spread > CPU_SPEED_SPREAD) {
    lines.push(
      `  WARNING (> ${CPU_SPEED_SPREAD * 100} %): the CPUs run at different speeds: an unpinned run would land on either; hookbench pins both arms of a round to one CPU`,
    );
  }
  // Medians of 10 runs with a CV of tens of % can differ by more than the threshold from noise alone.
  if (s.cpus.some((c) => c.cv > NOISY_CV)) lines.push(`  (runs noisy, CV > ${NOISY_CV * 100} %: part of this difference may be noise; which CPU is slow also changes over minutes)`);
  return lines;
}
