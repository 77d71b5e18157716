import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { execa } from 'execa';
import { TRACEFS } from '../probes/tracefs.js';

/**
 * The kernel state a hookbench run may touch, as a comparable value: a run, a killed run after
 * `hookbench cleanup`, or a refused command must leave it exactly as it was.
 */
export interface KernelState {
  instances: string[];
  dynamicEvents: string[];
  auditRules: string[];
  auditEnabled: string;
  auditPid: string;
  hookbenchProcesses: string[];
  bpfStats: string;
}

function read(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

/** bpftrace, auditd and bare BPF loader processes: the ones a hookbench run starts. */
function toolProcesses(): string[] {
  return readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .flatMap((pid) => {
      const comm = read(`/proc/${pid}/comm`).trim();
      return comm === 'bpftrace' || comm === 'auditd' || comm === 'hb-bpf-loader' ? [`${comm} ${pid}`] : [];
    });
}

export async function kernelState(): Promise<KernelState> {
  const status = (await execa('auditctl', ['-s'])).stdout;
  const field = (name: string) => new RegExp(`^${name} (\\S+)`, 'm').exec(status)?.[1] ?? '';
  return {
    instances: existsSync(`${TRACEFS}/instances`) ? readdirSync(`${TRACEFS}/instances`).sort() : [],
    dynamicEvents: ['kprobe_events', 'uprobe_events'].flatMap((f) => read(`${TRACEFS}/${f}`).split('\n').filter(Boolean)),
    auditRules: (await execa('auditctl', ['-l'])).stdout.split('\n'),
    auditEnabled: field('enabled'),
    auditPid: field('pid'),
    hookbenchProcesses: toolProcesses(),
    bpfStats: read('/proc/sys/kernel/bpf_stats_enabled').trim(),
  };
}

/** A rule and a tracefs instance that belong to the user: every trial must leave both alone. */
export const USER_RULE = ['-w', '/etc/hostname', '-p', 'wa', '-k', 'user-owned'];
export const USER_INSTANCE = `${TRACEFS}/instances/user-owned`;
