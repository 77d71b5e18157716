import { access, mkdir } from 'node:fs/promises';
import { isAbsolute, join, relative } from 'node:path';
import type { Results } from '../bench/results.js';
import { buildCharts } from './charts/index.js';
import { chartsExporter } from './export/charts.js';
import { csvExporter, htmlExporter, markdownExporter } from './export/documents.js';
import type { Exporter } from './exporter.js';

/** Everything a report consists of, in the order they are written. */
export const EXPORTERS: readonly Exporter[] = [csvExporter, markdownExporter, htmlExporter, chartsExporter];

export interface WriteReportsOptions {
  /**
   * Each input's results.json, in the order of the results, linked from the documents (for a merged
   * report, the copies kept beside it). Default: the output directory's own results.json when it has
   * one (what `hookbench run` leaves there).
   */
  jsonPaths?: string[];
  /** Where each input was read from, as the user named it, when that is not the linked file. */
  sources?: string[];
}

async function defaultJsonPaths(outDir: string): Promise<string[]> {
  const own = join(outDir, 'results.json');
  return access(own).then(
    () => [own],
    () => [],
  );
}

/** A link from a file in outDir: relative when it can be, absolute otherwise (another drive, say). */
function linkFrom(outDir: string, path: string): string {
  const rel = relative(outDir, path);
  return isAbsolute(rel) ? path : rel.split('\\').join('/');
}

/**
 * Writes report.html, summary.md, results.csv and charts/<chart>.{vl.json,svg,png} for one run
 * or several (a kernel matrix, many hosts) into outDir (created if missing); returns the paths written.
 */
export async function writeReports(results: Results[], outDir: string, options: WriteReportsOptions = {}): Promise<string[]> {
  if (results.length === 0) throw new Error('writeReports needs at least one results document');
  await mkdir(outDir, { recursive: true });
  const jsonPaths = options.jsonPaths ?? (await defaultJsonPaths(outDir));
  const input = { results, charts: buildCharts(results), jsonFiles: jsonPaths.map((p) => linkFrom(outDir, p)), sources: options.sources ?? [] };
  const written = await Promise.all(EXPORTERS.map((exporter) => exporter.write(input, outDir)));
  return written.flat();
}
