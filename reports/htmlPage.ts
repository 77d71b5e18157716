import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Chart } from './charts/types.js';
import { VERDICT_COLOURS } from './charts/theme.js';

/**
 * A self-contained page: vega, vega-lite and vega-embed inlined from node_modules, chart specs
 * inlined with their data, no external reference of any kind, so it opens offline and from a mail
 * attachment. Shared by report.html and compare.html.
 */

const LIBRARIES = [
  ['vega', 'vega.min.js'],
  ['vega-lite', 'vega-lite.min.js'],
  ['vega-embed', 'vega-embed.min.js'],
] as const;

/** Each package's entry point sits in its build/ directory beside the minified browser bundle. */
async function libraryBundle([pkg, file]: (typeof LIBRARIES)[number]): Promise<string> {
  return readFile(join(dirname(fileURLToPath(import.meta.resolve(pkg))), file), 'utf8');
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c]);
}

/** Text safe inside <script>: nothing can close the element or open an HTML comment. */
function scriptSafe(code: string): string {
  return code.replace(/<\/(script)/gi, '<\\/$1').replace(/<!--/g, '<\\!--');
}

/** JSON that is also a safe script literal. */
function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}

/** A table of trusted HTML cells (escape text before passing it); headers are plain text. */
export function htmlTable(headers: readonly string[], rows: readonly (readonly string[])[], className = ''): string {
  const head = `<tr>${headers.map((h) => `<th>${escapeHtml(h)}</th>`).join('')}</tr>`;
  const body = rows.map((cells) => `<tr>${cells.map((c) => `<td>${c}</td>`).join('')}</tr>`).join('\n');
  return `<div class="table-wrap"><table${className ? ` class="${className}"` : ''}>\n<thead>${head}</thead>\n<tbody>\n${body}\n</tbody>\n</table></div>`;
}

/** Where a figure may wrap: before its CI, and after a comma outside the CI ("4 blocks, sd 0.8 pp"). */
const FIGURE_BREAKS = / (?=\[)|(?<=,) (?![^[]*\])/;

/**
 * A figure that never wraps inside a value ("+20.3 %", "[+18.9, +21.6]", "4 blocks,", "sd 0.8 pp")
 * but may between them: what keeps a wide table within the page.
 */
export function figureHtml(text: string): string {
  return text
    .split(FIGURE_BREAKS)
    .map((part) => `<span class="num">${escapeHtml(part)}</span>`)
    .join(' ');
}

export function verdictBadge(verdict: string): string {
  return `<span class="badge verdict-${escapeHtml(verdict)}">${escapeHtml(verdict)}</span>`;
}

function chartId(chart: Chart): string {
  return `chart-${chart.name}`;
}

/** The chart's container; `links` are its rendered files, relative to the page. */
export function chartFigure(chart: Chart, links: readonly [label: string, href: string][] = []): string {
  const files = links.map(([label, href]) => `<a href="${escapeHtml(href)}">${escapeHtml(label)}</a>`).join(' · ');
  const caption = files ? `<figcaption>${files}</figcaption>` : '';
  return `<figure class="chart"><div id="${chartId(chart)}" class="chart-body" role="img" aria-label="${escapeHtml(chart.title)}"></div>${caption}</figure>`;
}

const VERDICT_STYLES = Object.entries(VERDICT_COLOURS)
  .map(([verdict, colour]) => `.verdict-${verdict}{background:${colour}}`)
  .join('\n');

const STYLE = `
:root{color-scheme:light}
body{font-family:"DejaVu Sans",Helvetica,Arial,sans-serif;margin:0;color:#1d1d1d;background:#fafafa;line-height:1.45}
main{max-width:1320px;margin:0 auto;padding:24px 28px 48px;background:#fff;min-height:100vh;box-sizing:border-box}
h1{font-size:26px;margin:0 0 6px}
h2{font-size:19px;margin:36px 0 12px;padding-bottom:4px;border-bottom:1px solid #e3e3e3}
p.lede{color:#444;margin:4px 0}
a{color:#1f5fa8}
table{border-collapse:collapse;font-size:13px;margin:8px 0;width:100%}
table.facts{width:auto;min-width:50%}
th,td{border-bottom:1px solid #e6e6e6;padding:5px 7px;text-align:left;vertical-align:top}
th{background:#f3f3f3;font-weight:600;position:sticky;top:0}
td .num,td .cell{font-variant-numeric:tabular-nums;white-space:nowrap}
tbody tr:hover{background:#f7f9fc}
.badge{display:inline-block;color:#fff;border-radius:3px;padding:1px 7px;font-size:12px;font-weight:600;letter-spacing:.02em}
${VERDICT_STYLES}
.verdict-INCONCLUSIVE,.verdict-UNSUPPORTED{color:#222}
figure.chart{margin:18px 0 28px;overflow-x:auto}
figure.chart figcaption{font-size:12px;color:#555;margin-top:4px}
.note{color:#555;overflow-wrap:anywhere}
td:last-child{min-width:180px}
.table-wrap{overflow-x:auto}
table.facts td{overflow-wrap:anywhere}
.warnings{background:#fff6d6;border:1px solid #e3b600;border-radius:4px;padding:8px 14px;margin:12px 0}
.warnings ul{margin:4px 0 0;padding-left:20px}
table.pivot td{min-width:0}
table.pivot .ci{display:block;font-size:11px;color:#555}
table.pivot ol.ranking{margin:0;padding-left:20px}
table.pivot ol.ranking .ci{display:inline}
.dup{font-size:11px;background:#ececec;border-radius:3px;padding:0 4px;color:#444;white-space:nowrap}
.method p{max-width:900px}
footer{margin-top:40px;font-size:12px;color:#777}
#vg-tooltip-element{font-family:"DejaVu Sans",Helvetica,Arial,sans-serif;font-size:12px}
`;

export interface PageContent {
  title: string;
  /** The page's body HTML, holding a chartFigure for each chart. */
  body: string;
  charts: readonly Chart[];
}

export async function htmlPage({ title, body, charts }: PageContent): Promise<string> {
  const bundles = await Promise.all(LIBRARIES.map(libraryBundle));
  const specs = charts.map((chart) => ({ id: chartId(chart), spec: chart.spec }));
  const embed = `
const charts = ${scriptJson(specs)};
for (const { id, spec } of charts) {
  vegaEmbed('#' + id, spec, { actions: false, renderer: 'svg' }).catch((error) => {
    document.getElementById(id).textContent = 'This chart could not be drawn: ' + error.message;
    console.error(error);
  });
}`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>${STYLE}</style>
${bundles.map((code) => `<script>${scriptSafe(code)}</script>`).join('\n')}
</head>
<body>
<main>
${body}
</main>
<script>${scriptSafe(embed)}</script>
</body>
</html>
`;
}
