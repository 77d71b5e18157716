import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { reportCommand } from '../reports/cli.js';
import { writeReports } from '../reports/index.js';
import { mergedInputs, writeInputs } from './fixtures/reports-merged.js';
import { syntheticResults } from './fixtures/reports-synthetic.js';

// report.html in a real browser (Debian's chromium), offline. Rendering check on SYNTHETIC results:
// a kernel matrix, so that every chart kind is on the page; and a report merged from several hosts
// and kernels, which must fit a 1280 px wide window.
const ARTIFACTS = resolve('test-artifacts');
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const VIEWPORT = { width: 1280, height: 900 };

let context: BrowserContext;
let profile: string;
let reportUrl: string;
let mergedUrl: string;

const quiet = { out: () => undefined, err: (text: string) => void process.stderr.write(text), colour: false };

beforeAll(async () => {
  const outDir = await mkdtemp(join(tmpdir(), 'hookbench-browser-'));
  await writeReports([syntheticResults(), syntheticResults({ kernelRelease: '6.1.0-56-amd64', seed: 2 })], outDir);
  reportUrl = pathToFileURL(join(outDir, 'report.html')).href;
  const root = await mkdtemp(join(tmpdir(), 'hookbench-browser-merged-'));
  const merged = join(root, 'merged');
  expect(await reportCommand(await writeInputs(root, mergedInputs()), { out: merged }, quiet)).toBe(0);
  mergedUrl = pathToFileURL(join(merged, 'report.html')).href;
  profile = await mkdtemp(join(tmpdir(), 'hookbench-chromium-'));
  context = await chromium.launchPersistentContext(profile, { executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS, headless: true, viewport: VIEWPORT });
  await mkdir(ARTIFACTS, { recursive: true });
});

afterAll(async () => {
  await context?.close();
  if (profile) await rm(profile, { recursive: true, force: true });
});

test('every chart renders with marks, no console error, no network request; screenshot kept', async () => {
  const requests: string[] = [];
  const errors: string[] = [];
  context.on('request', (request) => requests.push(request.url()));
  const page = await context.newPage();
  page.on('console', (message) => {
    if (message.type() === 'error' || message.type() === 'warning') errors.push(message.text());
  });
  page.on('pageerror', (error) => errors.push(String(error)));
  await page.goto(reportUrl);
  await page.waitForFunction(() => [...document.querySelectorAll('.chart-body')].every((el) => el.querySelector('svg')), null, { timeout: 60_000 });
  const charts = await page.$$eval('.chart-body', (bodies) =>
    bodies.map((body) => ({ id: body.id, marks: body.querySelectorAll('svg g.role-mark > *').length })),
  );
  expect(charts.map((c) => c.id)).toEqual(['chart-overhead', 'chart-ns-per-event', 'chart-collateral', 'chart-kernels', 'chart-rounds', 'chart-perf']);
  for (const chart of charts) expect(chart.marks, chart.id).toBeGreaterThan(0);
  await page.screenshot({ path: join(ARTIFACTS, 'report.png'), fullPage: true });
  await page.screenshot({ path: join(ARTIFACTS, 'report-top.png') });
  expect(errors).toEqual([]);
  expect(requests).toEqual([reportUrl]);
  await page.close();
});

test('a bar tooltip gives the exact overhead, its CI and the blocks\' spread', async () => {
  const page = await context.newPage();
  await page.goto(reportUrl);
  const bar = page.locator('#chart-overhead g.role-mark path').first();
  await bar.waitFor();
  await bar.hover();
  const tooltip = page.locator('#vg-tooltip-element');
  await expect.poll(() => tooltip.textContent()).toMatch(/verdict[A-Z]+overhead \[95 % CI\][+-][\d.,]+ % \[[+-][\d.,]+, [+-][\d.,]+\]/);
  expect(await tooltip.textContent()).toMatch(/blocks ± sd\d+ blocks, sd [\d.]+ pp/);
  await page.screenshot({ path: join(ARTIFACTS, 'report-tooltip.png') });
  await page.close();
});

/** Opens a report and waits until vega has drawn every chart (they set the page's final layout). */
async function openReport(url: string): Promise<Page> {
  const page = await context.newPage();
  await page.goto(url);
  await page.waitForFunction(() => [...document.querySelectorAll('.chart-body')].every((el) => el.querySelector('svg')), null, { timeout: 60_000 });
  return page;
}

interface TableFit {
  heading: string;
  tableWidth: number;
  /** The width its scroll container shows (the .table-wrap's client width). */
  shownWidth: number;
  containerRight: number;
}

describe('a report merged from several hosts and kernels (SYNTHETIC) in a 1280 px window', () => {
  test('the page and every table fit the window: nothing is cut off, nothing needs scrolling sideways; screenshots kept', async () => {
    const page = await openReport(mergedUrl);
    const widths = await page.evaluate(() => ({ scrollWidth: document.documentElement.scrollWidth, clientWidth: document.documentElement.clientWidth, innerWidth: window.innerWidth }));
    expect(widths.innerWidth).toBe(VIEWPORT.width);
    const tables: TableFit[] = await page.$$eval('table', (elements) =>
      elements.map((table) => {
        const wrap = table.closest('.table-wrap') ?? table.parentElement!;
        let heading: Element | null = wrap;
        while (heading && !/^H[1-3]$/.test(heading.tagName)) heading = heading.previousElementSibling;
        return {
          heading: heading?.textContent ?? '(no heading)',
          tableWidth: table.getBoundingClientRect().width,
          shownWidth: wrap.clientWidth,
          containerRight: wrap.getBoundingClientRect().right,
        };
      }),
    );
    await page.screenshot({ path: join(ARTIFACTS, 'report-merged.png'), fullPage: true });
    await page.screenshot({ path: join(ARTIFACTS, 'report-merged-top.png') });
    expect(tables.map((t) => t.heading)).toEqual(expect.arrayContaining(['Summary per host/kernel', 'Inputs', 'Verdicts', 'Environment']));
    for (const t of tables) {
      expect(t.tableWidth, `${t.heading}: table ${t.tableWidth} px wide in a container showing ${t.shownWidth} px`).toBeLessThanOrEqual(t.shownWidth + 0.5);
      expect(t.containerRight, `${t.heading}: container ends at ${t.containerRight} px`).toBeLessThanOrEqual(widths.clientWidth);
    }
    expect(widths.scrollWidth, 'the page scrolls sideways').toBeLessThanOrEqual(widths.clientWidth);
    await page.close();
  });

  test('the first screen holds the warnings and the summary per host/kernel with its ranking row', async () => {
    const page = await openReport(mergedUrl);
    const summary = page.locator('table.pivot');
    const box = (await summary.boundingBox())!;
    expect(box.y, 'the summary starts on the first screen').toBeLessThan(VIEWPORT.height);
    const headers = await summary.locator('th').allTextContents();
    expect(headers).toEqual(['workload', 'mechanism', 'host-a 6.18.0-synthetic', 'host-a 6.12.0-synthetic', 'host-b 6.18.0-synthetic', '6.1.0-57-amd64 (tcg guest)']);
    const ranking = summary.locator('tbody tr', { has: page.locator('ol.ranking') });
    expect(await ranking.locator('td').nth(1).textContent()).toBe('ranked by ns per event');
    expect(await ranking.locator('ol.ranking').count()).toBe(4);
    expect((await ranking.boundingBox())!.y, 'the ranking starts on the first screen').toBeLessThan(VIEWPORT.height);
    const warnings = page.locator('.warnings');
    expect((await warnings.boundingBox())!.y).toBeLessThan(box.y);
    expect(await warnings.textContent()).toContain('different hookbench versions');
    await page.close();
  });
});
