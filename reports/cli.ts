import { mkdir, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Command } from 'commander';
import { UsageError } from '../bench/errors.js';
import { compareExitCode, compareSets } from './compare.js';
import { loadResultsSet, ResultsInputError, type LoadedResults } from './load.js';
import { keepInputs } from './mergedInputs.js';
import { reportWarnings } from './mergeWarnings.js';
import { cellTable } from './table.js';

/**
 * `hookbench report` and `hookbench compare`. The renderers (vega, resvg) load only when a command
 * needs them: every hookbench start, a VM guest's under emulation included, is spared them. The command functions return the exit code and
 * print through `io`, so tests drive them directly; registerReportCommands wires them to commander.
 */

export interface CommandIo {
  out: (text: string) => void;
  err: (text: string) => void;
  /** Colour the terminal table (stdout is a TTY). */
  colour: boolean;
}

export const processIo = (): CommandIo => ({
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
  colour: Boolean(process.stdout.isTTY),
});

/** Bad input gets one line and exit 2; anything else is a bug and keeps its stack. */
async function guarded(io: CommandIo, body: () => Promise<number>): Promise<number> {
  try {
    return await body();
  } catch (error) {
    if (error instanceof ResultsInputError || error instanceof UsageError) {
      io.err(`hookbench: ${error.message}\n`);
      return 2;
    }
    throw error;
  }
}

/** The directory a path names, or the one a results.json file is in: the default place to write beside it. */
async function beside(path: string): Promise<string> {
  return (await stat(path)).isDirectory() ? path : dirname(path);
}

/** Every results document the paths stand for (a merged report directory: each of its inputs), in order. */
async function loadAll(paths: readonly string[]): Promise<LoadedResults[]> {
  return (await Promise.all(paths.map(loadResultsSet))).flat();
}

const DEFAULT_MATRIX_OUT = 'hookbench-report';
const DEFAULT_COMPARE_OUT = 'hookbench-compare';

export interface ReportCommandOptions {
  out?: string;
}

/**
 * One input: its report beside it. Several (any mix of hosts and kernels, merged report directories
 * too): one report over all, each input's results.json kept in its inputs/ (see mergedInputs.ts).
 */
export async function reportCommand(paths: string[], options: ReportCommandOptions, io: CommandIo): Promise<number> {
  return guarded(io, async () => {
    const loaded = await loadAll(paths);
    const outDir = options.out ?? (paths.length === 1 ? await beside(paths[0]) : DEFAULT_MATRIX_OUT);
    const results = loaded.map((l) => l.results);
    const sources = loaded.map((l) => l.jsonPath);
    const jsonPaths = loaded.length > 1 ? await keepInputs(loaded, outDir) : sources;
    const { writeReports } = await import('./index.js');
    const files = await writeReports(results, outDir, { jsonPaths, sources });
    const warnings = reportWarnings(results, sources).map((w) => `warning: ${w}\n`);
    io.out(`${cellTable(results, { colour: io.colour })}\n\n${warnings.join('')}wrote ${files.length} files to ${outDir} (open ${join(outDir, 'report.html')})\n`);
    return 0;
  });
}

export interface CompareCommandOptions {
  noise?: string;
  out?: string;
  /** BASE as several paths (instead of the BASE argument). */
  base?: string[];
  /** NEW as several paths (instead of the NEW argument). */
  new?: string[];
}

interface CompareSides {
  base: string[];
  next: string[];
}

/** BASE and NEW as the two arguments, or as --base PATH... --new PATH...: one way or the other, not both. */
function compareSides(basePath: string | undefined, nextPath: string | undefined, options: CompareCommandOptions): CompareSides {
  const positional = [basePath, nextPath].filter((p): p is string => p !== undefined);
  const listed = options.base !== undefined || options.new !== undefined;
  if (listed && positional.length > 0) throw new UsageError('give BASE and NEW either as the two arguments or as --base PATH... --new PATH..., not both');
  if (listed) {
    if (!options.base?.length || !options.new?.length) throw new UsageError('--base and --new go together, each with at least one results path');
    return { base: options.base, next: options.new };
  }
  if (positional.length < 2) throw new UsageError('compare needs BASE and NEW: two results paths, or --base PATH... --new PATH...');
  return { base: [positional[0]], next: [positional[1]] };
}

function parseNoise(text: string): number {
  const noise = Number(text);
  if (text.trim() === '' || !Number.isFinite(noise) || noise < 0) {
    throw new UsageError(`--noise must be a non-negative number of percentage points, got '${text}'`);
  }
  return noise;
}

/**
 * Exit 1 when a cell confidently regressed (a CI gate), 0 otherwise, 2 on bad input. Each side is one
 * or several results paths; a merged report directory stands for all its inputs.
 */
export async function compareCommand(basePath: string | undefined, nextPath: string | undefined, options: CompareCommandOptions, io: CommandIo): Promise<number> {
  return guarded(io, async () => {
    const noise = parseNoise(options.noise ?? '1');
    const sides = compareSides(basePath, nextPath, options);
    const [base, next] = await Promise.all([loadAll(sides.base), loadAll(sides.next)]);
    const comparison = compareSets(base.map((l) => l.results), next.map((l) => l.results), { noise, confidence: 0.95 });
    const outDir = options.out ?? (sides.next.length === 1 ? await beside(sides.next[0]) : DEFAULT_COMPARE_OUT);
    const chartsDir = join(outDir, 'charts');
    await mkdir(chartsDir, { recursive: true });
    const { comparisonChart, comparisonHtml, comparisonMarkdown, comparisonTable } = await import('./compareOutput.js');
    const { writeChartFiles } = await import('./render.js');
    const chart = comparisonChart(comparison);
    const chartFiles = chart ? await writeChartFiles(chart, chartsDir) : [];
    const written = [join(outDir, 'compare.md'), join(outDir, 'compare.html'), ...chartFiles];
    await writeFile(written[0], comparisonMarkdown(comparison, chart ? 'charts/compare.png' : null));
    await writeFile(written[1], await comparisonHtml(comparison));
    io.out(`${comparisonTable(comparison, io.colour)}\n\nwrote ${written.join(', ')}\n`);
    return compareExitCode(comparison);
  });
}

/**
 * Adds `report` and `compare` to the hookbench program. `setExit` receives each command's exit
 * code (default: process.exitCode).
 */
export function registerReportCommands(program: Command, setExit: (code: number) => void = (code) => (process.exitCode = code)): void {
  program
    .command('report')
    .description('rewrite report.html, summary.md, results.csv and the charts from results; several (any hosts and kernels): one merged report')
    .argument('<results...>', 'results directories, results.json files or merged report directories')
    .option('--out <dir>', `output directory (default: beside the results; for several, ./${DEFAULT_MATRIX_OUT})`)
    .action(async (paths: string[], options: ReportCommandOptions) => setExit(await reportCommand(paths, options, processIo())));
  program
    .command('compare')
    .description('change in overhead per cell from BASE to NEW, with CIs; exit 1 on a confident regression')
    .argument('[base]', 'results directory, results.json or merged report directory of the reference')
    .argument('[new]', 'results directory, results.json or merged report directory to judge')
    .option('--base <results...>', 'BASE as several results (instead of the BASE argument); with several hosts/kernels, cells match by host/kernel')
    .option('--new <results...>', 'NEW as several results (instead of the NEW argument)')
    .option('--noise <pp>', 'percentage points a change must clear, beyond its CI, to count', '1')
    .option('--out <dir>', `where compare.md and compare.html go (default: beside NEW; for several, ./${DEFAULT_COMPARE_OUT})`)
    .action(async (base: string | undefined, next: string | undefined, options: CompareCommandOptions) =>
      setExit(await compareCommand(base, next, options, processIo())),
    );
}
