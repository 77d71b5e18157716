import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import type { Command } from 'commander';
import { UsageError } from '../bench/errors.js';
import { addRunOptions, assertRoot, parseLatencyCycles, parseNumber, parseRunOptions, type RawRunOptions } from '../bench/options.js';
import { ACCEL_CHOICES, type AccelChoice, type AccelDecision, chooseAccel } from './accel.js';
import { buildComparison, comparisonTable, type KernelOutcome, kernelLines, readKernelResults, writeComparison } from './comparison.js';
import { defaultKernelCache } from './debianKernel.js';
import { VmEnvironmentError, VmRunError, VmUsageError } from './errors.js';
import { hookbenchGuestCommand } from './guestCommand.js';
import { GUEST_RESULTS_DIR } from './initScript.js';
import type { Results } from '../bench/results.js';
import { parseKernelSpecs, type ResolvedKernel, resolveKernel } from './kernels.js';
import { runInVm } from './run.js';

/** What `hookbench vm` needs from the CLI that registers it. */
export interface VmCommandWiring {
  /** Where the command's exit code goes (0/1/3 from the guests' verdicts, 2 for any VM or input error). */
  setExit: (code: number) => void;
}

interface VmOptions {
  kernel: string[];
  modules: string[];
  memory: string;
  cpus: string;
  accel: string;
  timeout: string;
  out?: string;
}

interface VmSettings {
  memoryMiB: number;
  cpus: number;
  accel: AccelChoice;
  timeoutS: number;
  outDir: string;
}

const log = (line: string): void => void process.stderr.write(`vm: ${line}\n`);
const collect = (value: string, previous: string[]): string[] => [...previous, value];

/** `2G`, `1536M` or plain MiB. */
export function parseMemory(text: string): number {
  const m = /^([0-9]+)([MG]?)$/i.exec(text);
  const mib = m ? Number(m[1]) * (m[2]!.toUpperCase() === 'G' ? 1024 : 1) : NaN;
  if (!(mib >= 256 && mib <= 262_144)) throw new VmUsageError(`--memory must be 256M to 256G (e.g. 2G, 1536M), got '${text}'`);
  return mib;
}

function parseSettings(o: VmOptions): VmSettings {
  if (!(ACCEL_CHOICES as readonly string[]).includes(o.accel)) throw new VmUsageError(`--accel must be one of ${ACCEL_CHOICES.join(', ')}, got '${o.accel}'`);
  return {
    memoryMiB: parseMemory(o.memory),
    cpus: parseNumber('cpus', o.cpus, { integer: true, min: 1, max: 64 }),
    accel: o.accel as AccelChoice,
    timeoutS: parseNumber('timeout', o.timeout, { min: 10, max: 7 * 86_400 }),
    outDir: resolve(o.out ?? defaultVmDir()),
  };
}

function defaultVmDir(now = new Date()): string {
  return join('results', `vm-${now.toISOString().replace(/[:.]/g, '-').replace(/-\d{3}Z$/, 'Z')}`);
}

/**
 * What a VM is for when the user names no mechanism: the function-level hooks a host kernel may lack,
 * beside the syscall tracepoint as the reference point.
 */
export const VM_DEFAULT_MECHANISMS = 'tracepoint,kprobe,kretprobe,ftrace';

/**
 * The hookbench arguments the guest runs. By default `run` with the run options the user typed
 * (validated here, on the host, before anything boots); after `--`, the user's own subcommand.
 * A guest `run` always writes into the results share.
 */
function guestArgs(cmd: Command, runOptionNames: readonly string[], passThrough: readonly string[]): string[] {
  const typed = runOptionNames.filter((name) => cmd.getOptionValueSource(name) === 'cli');
  if (passThrough.length > 0) {
    if (typed.length > 0) throw new VmUsageError(`run options (--${typed.join(', --')}) apply only without a guest command after --`);
    const needsOut = passThrough[0] === 'run' && !passThrough.some((a) => /^--(out|resume)(=|$)/.test(a));
    return needsOut ? [...passThrough, '--out', GUEST_RESULTS_DIR] : [...passThrough];
  }
  const raw = cmd.opts() as RawRunOptions;
  parseRunOptions(raw);
  if (raw.latencyCycles !== undefined) parseLatencyCycles(raw.latencyCycles);
  const values = cmd.opts() as Record<string, string>;
  const forwarded = typed.flatMap((name) => [cmd.options.find((o) => o.attributeName() === name)!.long!, values[name]!]);
  if (!typed.includes('mechanisms')) forwarded.push('--mechanisms', VM_DEFAULT_MECHANISMS);
  // Reports are rendered on the host afterwards: under emulation the renderers would take minutes.
  return ['run', ...forwarded, '--no-report', '--out', GUEST_RESULTS_DIR];
}

/** One directory per kernel under the output directory, named after the package or the vmlinuz file. */
function kernelDirs(outDir: string, kernels: readonly ResolvedKernel[]): string[] {
  const seen = new Map<string, number>();
  return kernels.map((k) => {
    const name = basename(k.label).replace(/[^A-Za-z0-9._+-]/g, '_');
    const n = (seen.get(name) ?? 0) + 1;
    seen.set(name, n);
    return join(outDir, n === 1 ? name : `${name}-${n}`);
  });
}

async function runKernel(kernel: ResolvedKernel, dir: string, s: VmSettings, accel: AccelDecision, command: string[]): Promise<KernelOutcome> {
  const base = { kernel: kernel.label, release: kernel.release, accel: accel.accel, memoryMiB: s.memoryMiB, cpus: s.cpus };
  const prefix = `[${kernel.release ?? basename(kernel.label)}] `;
  log(`${kernel.label}: booting (${accel.accel}, ${s.cpus} vCPU, ${s.memoryMiB} MiB), results in ${dir}`);
  try {
    const r = await runInVm({
      kernel,
      memoryMiB: s.memoryMiB,
      cpus: s.cpus,
      accel: accel.accel,
      guestCommand: command,
      resultsDir: dir,
      timeoutS: s.timeoutS,
      onConsoleLine: (line) => void process.stdout.write(`${prefix}${line}\n`),
    });
    log(`${kernel.label}: booted in ${r.bootS.toFixed(1)} s (not part of any measurement), guest command ${r.runS.toFixed(1)} s, exit ${r.exitCode}`);
    return { dir, run: { ...base, bootS: r.bootS, runS: r.runS, guestExitCode: r.exitCode, error: null }, results: readKernelResults(dir) };
  } catch (err) {
    if (!(err instanceof VmRunError) || err.kind === 'interrupted') throw err;
    process.stderr.write(`hookbench: ${err.report()}\n`);
    return { dir, run: { ...base, bootS: null, runS: null, guestExitCode: null, error: err.message }, results: null };
  }
}

/** Each kernel's report in its own directory, and one across all kernels (with the kernels chart) on top. */
async function writeKernelReports(outDir: string, outcomes: readonly KernelOutcome[]): Promise<void> {
  const measured = outcomes.filter((o): o is KernelOutcome & { results: Results } => o.results !== null);
  if (measured.length === 0) return;
  const { writeReports } = await import('../reports/index.js');
  for (const o of measured) await writeReports([o.results], o.dir);
  if (measured.length > 1) await writeReports(measured.map((o) => o.results), outDir, { jsonPaths: measured.map((o) => join(o.dir, 'results.json')) });
  log(`reports written (${measured.length > 1 ? `${join(outDir, 'report.html')} across kernels, ` : ''}one per kernel directory)`);
}

/** The worst outcome decides: 2 (a VM or guest error) over 1 (a cell failed) over 3 (inconclusive) over 0. */
export function combinedExitCode(outcomes: readonly KernelOutcome[]): number {
  const rank = (code: number | null): number => (code === 0 ? 0 : code === 3 ? 1 : code === 1 ? 2 : 3);
  const worst = Math.max(0, ...outcomes.map((o) => rank(o.run.error ? null : o.run.guestExitCode)));
  return [0, 3, 1, 2][worst]!;
}

async function vmCommand(cmd: Command, runOptionNames: readonly string[], passThrough: string[]): Promise<number> {
  await assertRoot();
  const o = cmd.opts() as VmOptions;
  const settings = parseSettings(o);
  if (existsSync(settings.outDir) && readdirSync(settings.outDir).length > 0) throw new VmUsageError(`--out ${settings.outDir} is not empty`);
  const specs = parseKernelSpecs(o.kernel, o.modules);
  const command = hookbenchGuestCommand(guestArgs(cmd, runOptionNames, passThrough));

  const kernels: ResolvedKernel[] = [];
  for (const spec of specs) {
    const k = await resolveKernel(spec, { cacheDir: defaultKernelCache(), log });
    log(`${k.label}: ${k.fromCache ? 'from the cache, no download' : 'downloaded'} (${k.bootImage})`);
    kernels.push(k);
  }
  const accel = await chooseAccel(settings.accel, kernels[0]!);
  const emulated = accel.accel === 'tcg' ? ': absolute times are emulated, compare ratios' : '';
  log(`accel ${accel.accel.toUpperCase()} (${accel.reason})${emulated}`);

  mkdirSync(settings.outDir, { recursive: true });
  const dirs = kernelDirs(settings.outDir, kernels);
  const outcomes: KernelOutcome[] = [];
  for (const [i, kernel] of kernels.entries()) outcomes.push(await runKernel(kernel, dirs[i]!, settings, accel, command));

  const comparison = buildComparison(settings.outDir, accel.reason, outcomes);
  const path = writeComparison(settings.outDir, comparison);
  await writeKernelReports(settings.outDir, outcomes);
  const table = comparisonTable(outcomes, process.stdout.isTTY === true);
  process.stdout.write(`\n${kernelLines(comparison).join('\n')}\n${table ? `\n${table}\n` : ''}\ncomparison: ${path}\n`);
  return combinedExitCode(outcomes);
}

/** Adds `hookbench vm`: the same run (or any subcommand after --) inside qemu, on each --kernel in turn. */
export function registerVmCommand(program: Command, wiring: VmCommandWiring): Command {
  const cmd = program
    .command('vm')
    .description('run hookbench inside qemu on other kernels, one after another, and compare them')
    .argument('[guest...]', 'after --, a hookbench subcommand for the guest instead of run (e.g. -- doctor)')
    .option('--kernel <spec>', 'Debian line (6.1, 6.12), package (linux-image-6.1.0-56-amd64) or vmlinuz path; repeatable', collect, [])
    .option('--modules <dir>', 'lib/modules/<release> (with modules.dep) for a vmlinuz path, in order; repeatable', collect, [])
    .option('--memory <size>', 'guest memory (e.g. 2G, 1536M)', '2G')
    .option('--cpus <n>', 'guest vCPUs', '2')
    .option('--accel <mode>', 'auto (KVM only if a probe boot works), kvm or tcg', 'auto')
    .option('--timeout <s>', 'seconds per kernel, boot included, before its guest is killed', '3600')
    .option('--out <dir>', 'output directory: one results directory per kernel and comparison.json (default results/vm-<timestamp>)');
  const before = new Set(cmd.options.map((opt) => opt.attributeName()));
  addRunOptions(cmd);
  cmd.options.find((opt) => opt.long === '--mechanisms')!.default(VM_DEFAULT_MECHANISMS);
  const runOptionNames = cmd.options.map((opt) => opt.attributeName()).filter((name) => !before.has(name));
  cmd.action(async (passThrough: string[]) => {
    try {
      wiring.setExit(await vmCommand(cmd, runOptionNames, passThrough));
    } catch (err) {
      if (!(err instanceof VmUsageError || err instanceof VmEnvironmentError || err instanceof UsageError)) throw err;
      process.stderr.write(`hookbench: ${err.message}\n`);
      wiring.setExit(2);
    }
  });
  return cmd;
}
