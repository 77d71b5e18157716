import { describe, expect, test } from 'vitest';
import type { Results } from '../bench/results.js';
import { changeChart } from '../reports/charts/change.js';
import { buildCharts, CHART_BUILDERS, chartInput } from '../reports/charts/index.js';
import { VERDICT_COLOURS } from '../reports/charts/theme.js';
import type { Chart } from '../reports/charts/types.js';
import { compareResults } from '../reports/compare.js';
import { percentWithCi } from '../reports/format.js';
import { cellViews } from '../reports/model.js';
import { Resvg } from '@resvg/resvg-js';
import { PNG_FONTS, svgToPng } from '../reports/render.js';
import { renderScene } from './fixtures/reports-scene.js';
import { syntheticResults } from './fixtures/reports-synthetic.js';

// Rendering tests on SYNTHETIC results (see the fixture): they check what is drawn, not the kernel.
const single = syntheticResults();
const other = syntheticResults({ kernelRelease: '6.1.0-56-amd64', seed: 2 });
const matrix = [single, other];

function chart(results: Results[], name: string): Chart {
  const found = buildCharts(results).find((c) => c.name === name);
  if (!found) throw new Error(`no ${name} chart`);
  return found;
}

/** The bars of a layered bar chart are its first layer (the error bars' ticks are rects too). */
const BARS = 'child_layer_0_marks';
const BUDGET_RULES = 'child_layer_2_marks';

const measured = (results: Results) => results.cells.filter((c) => ['PASS', 'FAIL', 'INCONCLUSIVE'].includes(c.verdict));

describe('every chart', () => {
  for (const [label, results] of [['one run', [single]], ['kernel matrix', matrix]] as const) {
    test(`compiles without warnings and renders SVG and PNG (${label})`, async () => {
      const charts = buildCharts(results);
      expect(charts.map((c) => c.name)).toEqual(
        label === 'one run' ? ['overhead', 'ns-per-event', 'collateral', 'rounds', 'perf'] : ['overhead', 'ns-per-event', 'collateral', 'kernels', 'rounds', 'perf'],
      );
      for (const c of charts) {
        const scene = await renderScene(c.spec);
        expect(scene.warnings, c.name).toEqual([]);
        expect(scene.items.filter((i) => i.role === 'mark').length, c.name).toBeGreaterThan(0);
        expect(scene.svg.startsWith('<svg')).toBe(true);
        expect(scene.svg).toContain('DejaVu Sans');
        const png = await svgToPng(scene.svg);
        expect(png.subarray(1, 4).toString()).toBe('PNG');
        expect(png.length).toBeGreaterThan(10_000);
      }
    });
  }

  test('every spec inlines its data and has a title', () => {
    for (const c of buildCharts(matrix)) {
      const spec = c.spec as { data?: { values?: unknown[] }; title?: { text?: string } };
      expect(spec.data?.values?.length, c.name).toBeGreaterThan(0);
      expect(spec.title?.text, c.name).toBeTruthy();
    }
  });
});

test('PNG text is drawn: the fonts charts name are installed (Debian: fonts-dejavu-core)', () => {
  const text = '<svg xmlns="http://www.w3.org/2000/svg" width="200" height="40"><text x="4" y="28" font-family="DejaVu Sans, Helvetica, Arial, sans-serif" font-size="20">overhead</text></svg>';
  const pixels = new Resvg(text, { font: PNG_FONTS }).render().pixels;
  let inked = 0;
  for (let i = 3; i < pixels.length; i += 4) if (pixels[i] > 0) inked++;
  expect(inked).toBeGreaterThan(200);
});

describe('overhead chart', () => {
  test('one bar per measured cell at its median, coloured by verdict, with its CI as an error bar', async () => {
    const scene = await renderScene(chart([single], 'overhead').spec);
    const bars = scene.marks('rect').filter((b) => b.name === BARS);
    const expected = measured(single);
    expect(bars.map((b) => b.datum.cell).sort()).toEqual(expected.map((c) => `${c.mechanism} × ${c.workload}`).sort());
    for (const bar of bars) {
      const cell = expected.find((c) => `${c.mechanism} × ${c.workload}` === bar.datum.cell)!;
      expect(bar.datum.overhead).toBe(cell.stats!.overheadMedian.value);
      expect(bar.fill).toBe(VERDICT_COLOURS[cell.verdict]);
      expect(bar.datum.overheadText).toBe(percentWithCi(cell.stats!.overheadMedian));
      expect(bar.datum.blocks).toMatch(new RegExp(`^${cell.stats!.blocks} blocks, sd \\d+(\\.\\d+)? pp$`));
    }
    const errorBars = scene.marks('rule').filter((r) => r.datum.ciLow !== undefined && r.datum.cell);
    const withCi = errorBars.filter((r) => typeof r.x2 === 'number' && r.x !== r.x2);
    expect(new Set(withCi.map((r) => r.datum.cell)).size).toBe(expected.length);
  });

  test('INVALID and UNSUPPORTED cells get no bar, only their verdict and reason', async () => {
    const scene = await renderScene(chart([single], 'overhead').spec);
    const texts = scene.marks('text').map((t) => t.text).filter(Boolean);
    expect(texts).toContain('INVALID: probe counted 0.000 events/op, expected 1 (synthetic)');
    expect(texts.filter((t) => String(t).startsWith('UNSUPPORTED: '))).toHaveLength(3);
    expect(scene.marks('rect').some((b) => b.datum.verdict === 'INVALID' || b.datum.verdict === 'UNSUPPORTED')).toBe(false);
  });

  test('the budget is a rule at 5 % on the overhead axis', async () => {
    const scene = await renderScene(chart([single], 'overhead').spec);
    const x = scene.view.scale('x') as unknown as (v: number) => number;
    const budgetRules = scene.marks('rule').filter((r) => r.name === BUDGET_RULES);
    expect(budgetRules.length).toBe(single.options.workloads.length);
    for (const rule of budgetRules) expect(rule.x).toBeCloseTo(x(5), 6);
  });

  test('a run where nothing could be measured: only reasons, drawn without warnings', async () => {
    const nothing = syntheticResults({ mechanisms: ['kprobe'], workloads: ['mprotect', 'null'], force: { 'kprobe×mprotect': 'UNSUPPORTED', 'kprobe×null': 'UNSUPPORTED' } });
    const charts = buildCharts([nothing]);
    expect(charts.map((c) => c.name)).toEqual(['overhead', 'collateral']);
    const scene = await renderScene(charts[0].spec);
    expect(scene.warnings).toEqual([]);
    expect(scene.marks('rect').filter((b) => b.name === BARS)).toEqual([]);
    expect(scene.marks('text').map((t) => t.text)).toEqual(['UNSUPPORTED: CONFIG_KPROBES is not set (synthetic)', 'UNSUPPORTED: CONFIG_KPROBES is not set (synthetic)']);
  });

  test('a symmetric-log axis only when overheads reach the hundreds', () => {
    const withAudit = chart([single], 'overhead').spec as { spec: { layer: { encoding: { x: { scale?: { type?: string } } } }[] } };
    expect(withAudit.spec.layer[0].encoding.x.scale?.type).toBe('symlog');
    const small = syntheticResults({ mechanisms: ['tracepoint', 'ftrace'], force: {} });
    const linear = chart([small], 'overhead').spec as typeof withAudit;
    expect(linear.spec.layer[0].encoding.x.scale?.type).toBe('linear');
  });
});

describe('ns per event chart', () => {
  test('a point per cell with hooked events on a log axis, BPF in-program ns beside it', async () => {
    const c = chart([single], 'ns-per-event');
    const scene = await renderScene(c.spec);
    expect(scene.view.scale('x') && (scene.view.scale('x') as unknown as { type: string }).type).toBe('log');
    const points = scene.marks('symbol');
    const added = points.filter((p) => p.datum.measure === 'added wall-clock ns per event');
    const expectedCells = measured(single).filter((cell) => cell.stats!.nsPerEvent && cell.stats!.nsPerEvent.value > 0);
    expect(added.map((p) => p.datum.cell).sort()).toEqual(expectedCells.map((cell) => `${cell.mechanism} × ${cell.workload}`).sort());
    const inProgram = points.filter((p) => p.datum.measure === 'ns inside the BPF program (BPF stats)');
    expect(inProgram.map((p) => p.datum.cell)).toEqual(['bpftrace × mprotect']);
    expect(added.every((p) => !String(p.datum.cell).includes('null'))).toBe(true);
  });
});

describe('rounds chart', () => {
  test('both arms of every round of every measured cell, none of cells without an overhead', async () => {
    const scene = await renderScene(chart([single], 'rounds').spec);
    const points = scene.marks('symbol').filter((p) => p.datum.arm && p.datum.round !== undefined);
    const cells = measured(single);
    const expectedPoints = cells.reduce((n, c) => n + 2 * c.rounds.length, 0);
    expect(points.length).toBe(expectedPoints);
    const flagged = points.filter((p) => p.datum.outlier);
    expect(flagged.length).toBe(cells.reduce((n, c) => n + 2 * c.stats!.outlierRounds.length, 0));
    expect(flagged.length).toBeGreaterThan(0);
    expect(points.some((p) => String(p.datum.cell).startsWith('bpftrace × open'))).toBe(false);
    const one = cells[0];
    const probed = points.filter((p) => p.datum.cell === `${one.mechanism} × ${one.workload}` && p.datum.arm === 'probed' && p.datum.round === 3);
    expect(probed[0].datum.nsPerOp).toBeCloseTo(one.rounds[3].probed.nsPerOp, 1);
  });
});

describe('collateral chart', () => {
  test('only cells that expect no hooked events', async () => {
    const scene = await renderScene(chart([single], 'collateral').spec);
    const bars = scene.marks('rect').filter((b) => b.name === BARS);
    expect(bars.length).toBeGreaterThan(0);
    expect(bars.every((b) => b.datum.workload === 'null')).toBe(true);
  });
});

describe('kernels chart', () => {
  test('absent for one run; one bar per host/kernel per measured cell for a matrix', async () => {
    expect(CHART_BUILDERS.find((b) => b.name === 'kernels')!.build(chartInput([single]))).toBeNull();
    const scene = await renderScene(chart(matrix, 'kernels').spec);
    const bars = scene.marks('rect').filter((b) => b.name === BARS);
    expect(bars.length).toBe(measured(single).length + measured(other).length);
    expect(new Set(bars.map((b) => b.datum.kernel))).toEqual(new Set(['synthetic-host 6.18.0-synthetic', 'synthetic-host 6.1.0-56-amd64']));
  });
});

describe('perf chart', () => {
  test('counters the machine cannot count, and counters that never changed, are left out and named', async () => {
    const c = chart([single], 'perf');
    const scene = await renderScene(c.spec);
    const counters = new Set(scene.marks('rect').map((b) => b.datum.counter));
    expect(counters).toEqual(new Set(['task-clock, CPU ns', 'page-faults']));
    const subtitle = (c.spec as { title: { subtitle: string[] } }).title.subtitle.join('\n');
    expect(subtitle).toContain('Not counted on this machine: cycles, instructions');
    expect(subtitle).toContain('No change in any cell: context-switches, cpu-migrations');
    const view = cellViews([single]).find((v) => v.measured)!;
    const bar = scene.marks('rect').find((b) => b.datum.cell === view.name && b.datum.counter === 'task-clock, CPU ns')!;
    expect(bar.datum.delta).toBeCloseTo(view.measured!.perfDeltaPerOp['task-clock']! * 1e6, 6);
  });
});

describe('compare chart', () => {
  test('a point with its CI per comparable cell, over the ± noise band', async () => {
    const comparison = compareResults(single, syntheticResults({ shiftPp: 10 }), { noise: 1, confidence: 0.95 });
    const spec = changeChart(comparison)!;
    const scene = await renderScene(spec);
    expect(scene.warnings).toEqual([]);
    const comparable = comparison.cells.filter((c) => c.change);
    const points = scene.marks('symbol');
    expect(points.map((p) => p.datum.cell).sort()).toEqual(comparable.map((c) => `${c.mechanism} × ${c.workload}`).sort());
    const tracepoint = points.find((p) => p.datum.cell === 'tracepoint × mprotect')!;
    expect(tracepoint.datum.status).toBe('regressed');
    const x = scene.view.scale('x') as unknown as (v: number) => number;
    expect(scene.marks('rect')).toHaveLength(1);
    const band = scene.marks('rect')[0];
    expect([band.x, band.x2].sort((a, b) => a! - b!)).toEqual([x(-1), x(1)]);
  });
});
