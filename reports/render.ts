import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { renderAsync } from '@resvg/resvg-js';
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import type { Chart } from './charts/types.js';

/**
 * Spec -> files, offline: vega-lite compiles, vega lays out and draws SVG headlessly, resvg
 * rasterises with the system's fonts (fonts-dejavu-core on Debian). No browser, no download.
 */

export interface CompiledChart {
  vega: vega.Spec;
  /** What vega-lite warned about while compiling: a chart should compile without any. */
  warnings: string[];
}

function collectingLogger(warnings: string[]) {
  const logger = {
    level: () => logger,
    warn: (...args: unknown[]) => (warnings.push(args.map(String).join(' ')), logger),
    error: (...args: unknown[]) => (warnings.push(`error: ${args.map(String).join(' ')}`), logger),
    info: () => logger,
    debug: () => logger,
  };
  return logger as unknown as vega.LoggerInterface;
}

export function compileChart(spec: TopLevelSpec): CompiledChart {
  const warnings: string[] = [];
  const { spec: compiled } = compile(spec, { logger: collectingLogger(warnings) });
  return { vega: compiled as vega.Spec, warnings };
}

export async function chartSvg(spec: TopLevelSpec): Promise<string> {
  const view = new vega.View(vega.parse(compileChart(spec).vega), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** Pixels a PNG may have: beyond this a big small-multiples chart takes seconds to encode. */
const MAX_PNG_PIXELS = 5e6;

/** 1.5 times the SVG's size so text stays crisp when scaled, less for very large charts. */
function pngZoom(svg: string): number {
  const size = /<svg[^>]*\swidth="([\d.]+)"[^>]*\sheight="([\d.]+)"/.exec(svg);
  const pixels = size ? Number(size[1]) * Number(size[2]) : 0;
  return pixels > 0 ? Math.min(1.5, Math.sqrt(MAX_PNG_PIXELS / pixels)) : 1.5;
}

/** The system's fonts, DejaVu Sans (Debian: fonts-dejavu-core) first: without a font, text vanishes from PNGs. */
export const PNG_FONTS = { loadSystemFonts: true, defaultFontFamily: 'DejaVu Sans', sansSerifFamily: 'DejaVu Sans' };

/** Rasterised on libuv's thread pool, so the next chart's layout proceeds meanwhile. */
export async function svgToPng(svg: string): Promise<Buffer> {
  const image = await renderAsync(svg, { fitTo: { mode: 'zoom', value: pngZoom(svg) }, background: 'white', font: PNG_FONTS });
  return image.asPng();
}

/** Writes <name>.vl.json, <name>.svg and <name>.png into dir; returns their paths. */
export async function writeChartFiles(chart: Chart, dir: string): Promise<string[]> {
  const stem = join(dir, chart.name);
  const svg = await chartSvg(chart.spec);
  const files: [string, string | Promise<Buffer>][] = [
    [`${stem}.vl.json`, `${JSON.stringify(chart.spec, null, 2)}\n`],
    [`${stem}.svg`, svg],
    [`${stem}.png`, svgToPng(svg)],
  ];
  await Promise.all(files.map(async ([path, content]) => writeFile(path, await content)));
  return files.map(([path]) => path);
}
