import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { REPORT_FILES, type Exporter } from '../exporter.js';
import { writeChartFiles } from '../render.js';

/** Every chart as charts/<name>.vl.json, .svg and .png. */
export const chartsExporter: Exporter = {
  name: 'charts',
  async write({ charts }, outDir) {
    const dir = join(outDir, REPORT_FILES.chartsDir);
    await mkdir(dir, { recursive: true });
    // All at once: each chart's PNG rasterises on the thread pool while the next one is laid out.
    const written = await Promise.all(charts.map((chart) => writeChartFiles(chart, dir)));
    return written.flat();
  },
};

/** The files chartsExporter writes for a chart, relative to the output directory, as [label, href]. */
export function chartFileLinks(name: string): [string, string][] {
  const stem = `${REPORT_FILES.chartsDir}/${name}`;
  return [
    ['SVG', `${stem}.svg`],
    ['PNG', `${stem}.png`],
    ['Vega-Lite spec', `${stem}.vl.json`],
  ];
}
