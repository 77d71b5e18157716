import { Journal } from '../probes/journal.js';
import { MECHANISMS } from '../probes/registry.js';
import type { Support } from '../probes/types.js';
import { undoAll } from '../probes/undo.js';
import { buildWorkloads, workloadArgv } from '../workloads/build.js';
import { calibrateIterations } from '../workloads/calibrate.js';
import { collectEnvironment } from './environment.js';
import { parseWorkloadLine, runUnderPerfStat } from './perfstat.js';
import type { Environment } from './results.js';
import { coefficientOfVariation, median } from './statistics.js';

/** CV of back-to-back baseline runs above this makes a 1-pp precision expensive: warn. */
export const NOISY_CV = 0.03;
const NOISE_RUNS = 10;

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
}

/** Tries every mechanism for real (attach + detach), and measures how noisy this machine is. */
export async function doctor(options: { runMs: number; noise: boolean }): Promise<DoctorReport> {
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
  return { environment: await collectEnvironment(), mechanisms, noise: options.noise ? await noiseChecks(options.runMs) : [] };
}

async function noiseChecks(runMs: number): Promise<NoiseCheck[]> {
  const built = await buildWorkloads();
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
  return lines.join('\n');
}
