import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium, type BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { writeReports } from '../reports/index.js';
import { syntheticResults } from './fixtures/reports-synthetic.js';

// report.html in a real browser (Debian's chromium), offline. Rendering check on SYNTHETIC results:
// a kernel matrix, so that every chart kind is on the page.
const ARTIFACTS = resolve('test-artifacts');
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

let context: BrowserContext;
let profile: string;
let reportUrl: string;

beforeAll(async () => {
  const outDir = await mkdtemp(join(tmpdir(), 'hookbench-browser-'));
  await writeReports([syntheticResults(), syntheticResults({ kernelRelease: '6.1.0-56-amd64', seed: 2 })], outDir);
  reportUrl = pathToFileURL(join(outDir, 'report.html')).href;
  profile = await mkdtemp(join(tmpdir(), 'hookbench-chromium-'));
  context = await chromium.launchPersistentContext(profile, { executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS, headless: true, viewport: { width: 1280, height: 900 } });
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
