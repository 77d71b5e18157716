import type { Results } from '../bench/results.js';
import { hookbenchVersion } from './environment.js';
import { ciText, nsNumber, percent } from './format.js';
import { escapeHtml, htmlTable, verdictBadge } from './htmlPage.js';
import type { CellView } from './model.js';
import { pivot, RANKING_ROW, RANKING_WORKLOAD, rankingRowIndex, rankings, type Ranking } from './pivot.js';
import { repeatedInputs, type EnvironmentView, type RunView } from './runs.js';

/**
 * The first screen of a report over several inputs: its warnings, the verdict and overhead of every
 * mechanism on every host/kernel with the per-event ranking beneath, and the list of inputs with
 * their raw results. Kept compact so that it fits a 1280 px wide window.
 */

export function warningsHtml(warnings: readonly string[]): string {
  if (warnings.length === 0) return '';
  return `<div class="warnings" role="alert"><strong>Read with care:</strong><ul>${warnings.map((w) => `<li>${escapeHtml(w)}</li>`).join('')}</ul></div>`;
}

/** "2 inputs" beside a cell another input measured too; its tooltip says which one is shown. */
function duplicateMark(view: CellView): string {
  const duplicate = view.duplicate;
  if (!duplicate) return '';
  const title = `measured in ${duplicate.runs.map((r) => r.label).join(' and ')}; shown: ${duplicate.shown.label} (${duplicate.why})`;
  return ` <span class="dup" title="${escapeHtml(title)}">${duplicate.runs.length} inputs</span>`;
}

function pivotCell(view: CellView | null): string {
  if (!view) return '<span class="note">not run</span>';
  const stats = view.measured;
  const figure = stats ? ` <span class="num">${escapeHtml(percent(stats.overheadMedian.value))}</span><span class="ci">${escapeHtml(ciText(stats.overheadMedian))}</span>` : '';
  const reason = !stats && view.reason ? `<span class="ci" title="${escapeHtml(view.reason)}">${escapeHtml(view.reason)}</span>` : '';
  return `${verdictBadge(view.verdict)}${figure}${reason}${duplicateMark(view)}`;
}

function rankingCell(ranking: Ranking): string {
  if (ranking.ranked.length === 0) return `<span class="note">no ${RANKING_WORKLOAD} cell with an overhead</span>`;
  const items = ranking.ranked.map(
    (r) => `<li><span class="cell">${escapeHtml(r.mechanism)}</span> <span class="num">${escapeHtml(nsNumber(r.nsPerEvent.value))} ns</span> <span class="ci">${escapeHtml(ciText(r.nsPerEvent, nsNumber))}</span></li>`,
  );
  return `<ol class="ranking">${items.join('')}</ol>`;
}

/** Mechanisms down (grouped by workload), one column per host/kernel; the ranking after its workload's rows. */
export function pivotHtml(cells: readonly CellView[], environments: readonly EnvironmentView[]): string {
  const table = pivot(cells, environments);
  const rows = table.rows.map((row, i) => [
    i === 0 || table.rows[i - 1].workload !== row.workload ? `<span class="cell">${escapeHtml(row.workload)}</span>` : '',
    `<span class="cell">${escapeHtml(row.mechanism)}</span>`,
    ...row.cells.map(pivotCell),
  ]);
  const ranking = ['', RANKING_ROW, ...rankings(cells, environments).map(rankingCell)];
  rows.splice(rankingRowIndex(table.rows), 0, ranking);
  const headers = ['workload', 'mechanism', ...environments.map((e) => e.label)];
  return `<h2 id="summary">Summary per host/kernel</h2>
<p class="lede">Verdict and overhead [95 % CI] of each mechanism on each host/kernel; the row after the ${RANKING_WORKLOAD} rows ranks the mechanisms by the added ns per hooked ${RANKING_WORKLOAD} call [95 % CI], cheapest first (where two CIs overlap, their order is not established). Every cell's details are under Verdicts.</p>
${htmlTable(headers, rows, 'pivot')}`;
}

/** "2026-11-25 10:00 UTC" from the ISO timestamp hookbench records. */
function startedText(iso: string): string {
  return iso.endsWith('Z') ? `${iso.slice(0, 16).replace('T', ' ')} UTC` : iso;
}

function inputRow(run: RunView, link: string | undefined, source: string | undefined): string[] {
  const env = run.results.environment;
  return [
    `<span class="cell">${run.index}</span>`,
    escapeHtml(run.label),
    escapeHtml(env.hostname),
    escapeHtml(env.kernelRelease),
    escapeHtml(env.accel ? `hookbench vm, ${env.accel}` : (env.virtualization ?? 'bare metal')),
    escapeHtml(hookbenchVersion(run.results)),
    escapeHtml(startedText(run.results.startedAt)),
    String(run.results.cells.length),
    link ? `<a href="${escapeHtml(link)}">${escapeHtml(link)}</a>` : '—',
    source && source !== link ? `<span class="note">${escapeHtml(source)}</span>` : '',
  ];
}

/**
 * Every input, with its raw results.json beside the report (`links`, in the order given) and where it
 * was read from (`sources`); an input given twice is listed with the one it repeats.
 */
export function inputsHtml(results: readonly Results[], runs: readonly RunView[], links: readonly string[], sources: readonly string[]): string {
  const rows = runs.map((run) => inputRow(run, links[run.index - 1], sources[run.index - 1]));
  const repeats = repeatedInputs(results).map(({ index, sameAs }) => [
    `<span class="cell">${index}</span>`,
    `<span class="note">same results as input ${sameAs}, shown once</span>`,
    ...Array.from({ length: 6 }, () => ''),
    links[index - 1] ? `<a href="${escapeHtml(links[index - 1])}">${escapeHtml(links[index - 1])}</a>` : '—',
    sources[index - 1] ? `<span class="note">${escapeHtml(sources[index - 1])}</span>` : '',
  ]);
  const headers = ['#', 'input', 'host', 'kernel', 'virtualisation', 'hookbench', 'started', 'cells', 'raw results', 'read from'];
  return `<h2 id="inputs">Inputs</h2>\n<p>Every input's results.json, with every raw sample, is kept beside this report.</p>\n${htmlTable(headers, [...rows, ...repeats], 'inputs')}`;
}
