import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import { beforeAll, describe, expect, it } from 'vitest';
import { collectEnvironment, parseKernelConfig, parseLockdown, selectConfigFlags } from '../bench/environment.js';
import { EnvironmentSchema, type Environment } from '../bench/results.js';
import { ensureTracefs, TRACEFS } from '../probes/tracefs.js';

describe('collectEnvironment on this machine', () => {
  let env: Environment;
  beforeAll(async () => {
    env = await collectEnvironment();
  });

  it('produces a document the results schema accepts', () => {
    expect(EnvironmentSchema.parse(env)).toEqual(env);
  });

  it('reports the running kernel and CPU', () => {
    expect(env.kernelRelease).toBe(os.release());
    expect(env.kernelVersion).toBe(os.version());
    expect(env.arch).toBe(execFileSync('uname', ['-m'], { encoding: 'utf8' }).trim());
    expect(env.vcpus).toBe(os.cpus().length);
    expect(env.cpuModel).toBe(os.cpus()[0].model.trim());
    expect(env.memoryMiB).toBeGreaterThan(100);
    expect(env.hostname).toBe(os.hostname());
  });

  /** The running kernel's config as `zcat`/`cat` give it: read apart from bench/environment.ts. */
  function kernelConfigText(): string | null {
    for (const cmd of [['zcat', '/proc/config.gz'], ['cat', `/boot/config-${os.release()}`]]) {
      try {
        return execFileSync(cmd[0]!, cmd.slice(1), { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
      } catch {
        // not this one: try the next place
      }
    }
    return null;
  }

  it('reads the hook-relevant kernel config as the kernel states it, and its tracefs agrees', async (ctx) => {
    const text = kernelConfigText();
    if (text === null) ctx.skip(`this kernel's config is not readable (no /proc/config.gz, no /boot/config-${os.release()})`);
    const stated = (symbol: string): string => new RegExp(`^CONFIG_${symbol}=(.*)$`, 'm').exec(text!)?.[1]?.replace(/^"|"$/g, '') ?? 'n';
    for (const symbol of ['KPROBES', 'KPROBE_EVENTS', 'UPROBE_EVENTS', 'FTRACE_SYSCALLS', 'FUNCTION_TRACER', 'BPF_SYSCALL', 'AUDITSYSCALL']) {
      expect(env.config[symbol] ?? 'n', symbol).toBe(stated(symbol));
    }
    expect(Object.keys(env.config)).toEqual(expect.arrayContaining(['UPROBES', 'AUDITSYSCALL', 'DEBUG_INFO_BTF', 'FPROBE']));
    // The files tracefs offers follow the same config: a check of both readings at once.
    await ensureTracefs();
    const tracefs = TRACEFS;
    expect(existsSync(`${tracefs}/kprobe_events`), 'kprobe_events').toBe(env.config.KPROBE_EVENTS === 'y');
    expect(existsSync(`${tracefs}/events/syscalls`), 'events/syscalls').toBe(env.config.FTRACE_SYSCALLS === 'y');
  });

  it('reads lockdown (as root, mounting securityfs when needed)', () => {
    if (process.getuid?.() !== 0) return;
    expect(env.lockdown).toMatch(/^(none|integrity|confidentiality)$/);
    expect(readFileSync('/sys/kernel/security/lockdown', 'utf8')).toContain(`[${env.lockdown}]`);
  });

  it('lists every CPU vulnerability file with its status', () => {
    const dir = '/sys/devices/system/cpu/vulnerabilities';
    const names = readdirSync(dir).sort();
    expect(Object.keys(env.mitigations)).toEqual(names);
    expect(env.mitigations[names[0]]).toBe(readFileSync(`${dir}/${names[0]}`, 'utf8').trim());
  });

  it('detects the virtualisation the cpuinfo hypervisor flag announces', () => {
    const flagged = /^flags\s*:.*\bhypervisor\b/m.test(readFileSync('/proc/cpuinfo', 'utf8'));
    if (flagged) expect(env.virtualization).toBeTruthy();
  });

  it('takes accel from HOOKBENCH_ACCEL and is null without it', async () => {
    expect(env.accel).toBe(process.env.HOOKBENCH_ACCEL || null);
    const saved = process.env.HOOKBENCH_ACCEL;
    process.env.HOOKBENCH_ACCEL = 'tcg';
    try {
      expect((await collectEnvironment()).accel).toBe('tcg');
    } finally {
      if (saved === undefined) delete process.env.HOOKBENCH_ACCEL;
      else process.env.HOOKBENCH_ACCEL = saved;
    }
  });

  it('records the tools it found and null for the rest', () => {
    expect(env.tools.node).toBe(process.version);
    expect(env.tools.perf).toMatch(/^perf version \d/);
    expect(env.tools.bpftrace).toMatch(/^bpftrace v\d/);
    expect(env.tools.auditctl).toMatch(/^auditctl version \d/);
    expect(env.tools.cc).toMatch(/\d+\.\d+/);
  });

  it('identifies hookbench by package version and git commit', () => {
    const manifest = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
    expect(env.hookbench.version).toBe(manifest.version);
    const head = execFileSync('git', ['rev-parse', 'HEAD'], { encoding: 'utf8', cwd: new URL('..', import.meta.url) }).trim();
    expect(env.hookbench.commit).toBe(head);
  });
});

describe('environment parsers', () => {
  it('parses set, unset and string config symbols', () => {
    const config = parseKernelConfig('CONFIG_FTRACE=y\n# CONFIG_KPROBES is not set\nCONFIG_LSM="lockdown,bpf"\nCONFIG_HZ=250\n');
    expect(Object.fromEntries(config)).toEqual({ FTRACE: 'y', KPROBES: 'n', LSM: 'lockdown,bpf', HZ: '250' });
  });

  it('reports unmentioned symbols as n, and everything as null without a config', () => {
    const flags = selectConfigFlags(parseKernelConfig('CONFIG_FTRACE=y\nCONFIG_PREEMPT_NONE=y\n'));
    expect(flags.FTRACE).toBe('y');
    expect(flags.KPROBE_EVENTS).toBe('n');
    expect(flags.PREEMPT_NONE).toBe('y');
    expect(Object.values(selectConfigFlags(null)).every((v) => v === null)).toBe(true);
  });

  it('takes the bracketed lockdown mode', () => {
    expect(parseLockdown('none [integrity] confidentiality')).toBe('integrity');
    expect(parseLockdown('[none] integrity confidentiality')).toBe('none');
    expect(parseLockdown('')).toBeNull();
  });
});
