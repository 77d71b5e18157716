import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { resultsCsv } from '../csv.js';
import { REPORT_FILES, type Exporter } from '../exporter.js';
import { reportHtml } from '../html.js';
import { summaryMarkdown } from '../markdown.js';
import { chartFileLinks } from './charts.js';

async function writeOne(outDir: string, file: string, content: string): Promise<string[]> {
  const path = join(outDir, file);
  await writeFile(path, content);
  return [path];
}

export const csvExporter: Exporter = {
  name: 'csv',
  write: ({ results }, outDir) => writeOne(outDir, REPORT_FILES.csv, resultsCsv(results)),
};

export const markdownExporter: Exporter = {
  name: 'markdown',
  write: ({ results, charts, jsonFiles, sources }, outDir) => {
    const headline = charts[0] ? `${REPORT_FILES.chartsDir}/${charts[0].name}.png` : null;
    return writeOne(outDir, REPORT_FILES.markdown, summaryMarkdown(results, { chartImage: headline, jsonFiles, sources }));
  },
};

export const htmlExporter: Exporter = {
  name: 'html',
  write: async ({ results, charts, jsonFiles, sources }, outDir) => {
    const links = {
      jsonFiles,
      sources,
      csvFile: REPORT_FILES.csv,
      markdownFile: REPORT_FILES.markdown,
      chartFiles: new Map(charts.map((c) => [c.name, chartFileLinks(c.name)])),
    };
    return writeOne(outDir, REPORT_FILES.html, await reportHtml(results, charts, links));
  },
};
