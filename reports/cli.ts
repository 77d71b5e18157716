import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Command } from 'commander';
import { UsageError } from '../bench/errors.js';
import { compareExitCode, compareResults } from './compare.js';
import { loadResults, ResultsInputError, type LoadedResults } from './load.js';
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

/** Where a results directory or a results.json lives: the default place to write beside it. */
const resultsDir = (loaded: LoadedResults) => dirname(loaded.jsonPath);

const DEFAULT_MATRIX_OUT = 'hookbench-report';

export interface ReportCommandOptions {
  out?: string;
}

export async function reportCommand(paths: string[], options: ReportCommandOptions, io: CommandIo): Promise<number> {
  return guarded(io, async () => {
    const loaded = await Promise.all(paths.map(loadResults));
    const outDir = options.out ?? (loaded.length === 1 ? resultsDir(loaded[0]) : DEFAULT_MATRIX_OUT);
    const results = loaded.map((l) => l.results);
    const { writeReports } = await import('./index.js');
    const files = await writeReports(results, outDir, { jsonPaths: loaded.map((l) => l.jsonPath) });
    io.out(`${cellTable(results, { colour: io.colour })}\n\nwrote ${files.length} files to ${outDir} (open ${join(outDir, 'report.html')})\n`);
    return 0;
  });
}

export interface CompareCommandOptions {
  noise?: string;
  out?: string;
}

function parseNoise(text: string): number {
  const noise = Number(text);
  if (text.trim() === '' || !Number.isFinite(noise) || noise < 0) {
    throw new UsageError(`--noise must be a non-negative number of percentage points, got '${text}'`);
  }
  return noise;
}

/** Exit 1 when a cell confidently regressed (a CI gate), 0 otherwise, 2 on bad input. */
export async function compareCommand(basePath: string, nextPath: string, options: CompareCommandOptions, io: CommandIo): Promise<number> {
  return guarded(io, async () => {
    const noise = parseNoise(options.noise ?? '1');
    const [base, next] = await Promise.all([loadResults(basePath), loadResults(nextPath)]);
    const comparison = compareResults(base.results, next.results, { noise, confidence: 0.95 });
    const outDir = options.out ?? resultsDir(next);
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
    .description('rewrite report.html, summary.md, results.csv and the charts from results (several: a kernel matrix)')
    .argument('<results...>', 'results directories or results.json files')
    .option('--out <dir>', `output directory (default: beside the results; for several, ./${DEFAULT_MATRIX_OUT})`)
    .action(async (paths: string[], options: ReportCommandOptions) => setExit(await reportCommand(paths, options, processIo())));
  program
    .command('compare')
    .description('change in overhead per cell from BASE to NEW, with CIs; exit 1 on a confident regression')
    .argument('<base>', 'results directory or results.json of the reference run')
    .argument('<new>', 'results directory or results.json of the run to judge')
    .option('--noise <pp>', 'percentage points a change must clear, beyond its CI, to count', '1')
    .option('--out <dir>', 'where compare.md and compare.html go (default: beside NEW)')
    .action(async (base: string, next: string, options: CompareCommandOptions) => setExit(await compareCommand(base, next, options, processIo())));
}
