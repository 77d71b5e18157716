import type { Placement, Results } from '../bench/results.js';
import { placementIsolation } from './method.js';

/**
 * The environment fingerprint as label/value facts, for the HTML table (all of them) and the
 * Markdown summary (the few that tell machines apart).
 */

export type Fact = [label: string, value: string];

const orNone = (value: string | null | undefined) => (value === null || value === undefined || value === '' ? '—' : value);

/** "0.1.0 (0123456789ab)": the version, and the commit when known. */
export function hookbenchVersion(results: Results): string {
  const { version, commit } = results.environment.hookbench;
  return commit ? `${version} (${commit.slice(0, 12)})` : version;
}

function recordFacts(prefix: string, record: Record<string, string | null>, absent = '—'): Fact[] {
  return Object.keys(record)
    .sort()
    .map((key) => [`${prefix}${key}`, record[key] ?? absent]);
}

/** Every field of the fingerprint, in reading order. */
export function environmentFacts(results: Results): Fact[] {
  const env = results.environment;
  return [
    ['host', env.hostname],
    ['kernel', env.kernelRelease],
    ['kernel version', env.kernelVersion],
    ['architecture', env.arch],
    ['CPU', env.cpuModel],
    ['vCPUs', String(env.vcpus)],
    ['memory', `${env.memoryMiB.toLocaleString('en-US')} MiB`],
    ['virtualisation', orNone(env.virtualization)],
    ['VM acceleration', orNone(env.accel)],
    ['lockdown', orNone(env.lockdown)],
    ['CPU governor', orNone(env.governor)],
    ['hookbench', hookbenchVersion(results)],
    ['measurement CPUs', placementCpus(results.placement)],
    ['harness isolation', placementIsolation(results.placement)],
    ['placement policy', results.placement.policy],
    ['started', results.startedAt],
    ['finished', orNone(results.finishedAt)],
    ...recordFacts('', env.tools),
    ...recordFacts('', env.config, 'not set'),
    ...recordFacts('mitigation: ', env.mitigations),
  ];
}

/** One line per run: "Linux 6.18.0 x86_64 · Intel Xeon … · 2 vCPUs · kvm · hookbench 0.1.0 (abc) · 2026-11-25". */
export function environmentLine(results: Results): string {
  const env = results.environment;
  const virtualisation = [env.virtualization, env.accel].filter(Boolean).join(', ') || 'bare metal';
  return [
    `Linux ${env.kernelRelease} ${env.arch}`,
    env.cpuModel,
    `${env.vcpus} vCPUs, ${env.memoryMiB.toLocaleString('en-US')} MiB`,
    virtualisation,
    `lockdown ${orNone(env.lockdown)}`,
    `hookbench ${hookbenchVersion(results)}`,
    results.startedAt.slice(0, 10),
  ].join(' · ');
}

function placementCpus(placement: Placement): string {
  return placement.measurementCpus.length ? placement.measurementCpus.join(', ') : '—';
}

/** "CPUs 0, 1; hookbench's own processes kept off the measuring CPU (policy ...)"; a one-CPU run says it isolated nothing. */
export function placementLine(placement: Placement): string {
  const cpus = placement.measurementCpus;
  return `workload on CPU${cpus.length > 1 ? 's' : ''} ${placementCpus(placement)}; ${placementIsolation(placement)} (${placement.policy})`;
}
