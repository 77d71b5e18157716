import type { Results } from '../bench/results.js';
import type { Chart } from './charts/types.js';

/**
 * One output format of a report, as hyperfine's exporters are: each writes its files into the
 * output directory and returns their paths. They are written as a set (the HTML links to the CSV,
 * the Markdown to a chart image), under the file names below.
 */

export const REPORT_FILES = {
  html: 'report.html',
  markdown: 'summary.md',
  csv: 'results.csv',
  chartsDir: 'charts',
} as const;

export interface ReportInput {
  /** One run, or several (a kernel matrix, many hosts: a merged report). */
  results: Results[];
  /** The charts the data has something for, built once for every exporter. */
  charts: Chart[];
  /** Each input's results.json, relative to the output directory, in the order of `results`. */
  jsonFiles: string[];
  /** Where each input was read from, as the user named it; empty when not known. */
  sources: string[];
}

export interface Exporter {
  readonly name: string;
  write(input: ReportInput, outDir: string): Promise<string[]>;
}
