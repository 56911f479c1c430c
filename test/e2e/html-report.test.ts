/**
 * `batchguard report --html`: a real run with failures whose messages and keys carry markup, its
 * report opened in headless Chromium. The page shows the ledger's figures, the chart is drawn, and
 * no script from a record runs (nor does the page fetch anything).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/temp.js';
import { CHROMIUM, launchChromium } from '../helpers/browser.js';

// The README's picture is refreshed with UPDATE_SCREENSHOTS=1; otherwise the screenshot goes to the
// test's temp folder (taking it is still part of the test).
const DOCS_SCREENSHOT = resolve(import.meta.dirname, '../../docs/report.png');

function writeJob(dir: string): void {
  writeFileSync(
    join(dir, 'job.mjs'),
    `
import { defineJob, FatalError } from 'batchguard';
const records = Array.from({ length: 120 }, (_, i) => ({ id: i % 40 === 7 ? '<img src=x onerror="window.__pwned=2">' + i : 'rec-' + i, i }));
export default defineJob({
  name: 'report-demo',
  source: records,
  key: (r) => r.id,
  checkpoint: { everyRecords: 10, everyMs: 1000 },
  concurrency: 2,
  breaker: { enabled: false },
  maxFailureRate: 1,
  retry: { maxAttempts: 1 },
  handler: async (r) => {
    await new Promise((done) => setTimeout(done, 2));
    if (r.i % 10 === 3) throw new FatalError('bad payload <script>window.__pwned=1</script> in record ' + r.i);
    if (r.i % 40 === 7) throw new FatalError('no such customer ' + r.i);
  },
});
`,
  );
}

describe.skipIf(!existsSync(CHROMIUM))('batchguard report --html (skipped only where Debian chromium is not installed)', () => {
  let browser: Browser;
  beforeAll(async () => {
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
  });

  it('shows the figures, draws the chart, and runs no script from the records', async () => {
    const dir = tempDir();
    writeJob(dir);
    const run = await runCli(['run', 'job.mjs', '--json', '--no-progress'], { cwd: dir });
    expect(run.code, run.stderr).toBe(0);
    const summary = JSON.parse(run.stdout) as { runId: string; failed: number; succeeded: number; total: number };
    expect(summary.failed).toBe(15);

    const out = join(dir, 'report.html');
    const report = await runCli(['report', 'job.mjs', '--html', out], { cwd: dir });
    expect(report.code, report.stderr).toBe(0);
    const source = readFileSync(out, 'utf8');
    expect(source).not.toContain('<script>window.__pwned');
    expect(source).not.toContain('<img src=x');

    const page = await browser.newPage({ viewport: { width: 960, height: 1200 } });
    const requests: string[] = [];
    page.on('request', (request) => {
      if (!request.url().startsWith('file:')) requests.push(request.url());
    });
    await page.goto(`file://${out}`);
    const figure = (id: string): Promise<string> => page.locator(`[data-figure="${id}"]`).innerText();
    expect(await figure('total')).toBe('120');
    expect(await figure('failed')).toBe(String(summary.failed));
    expect(await figure('succeeded')).toBe(String(summary.succeeded));
    expect(await figure('run-done')).toBe('120');
    expect(await figure('run-failed')).toBe('15');
    expect(await page.locator('h1').innerText()).toBe('report-demo');

    const chart = await page.locator('svg.chart').boundingBox();
    expect(chart?.width).toBeGreaterThan(100);
    expect(chart?.height).toBeGreaterThan(50);
    const line = await page.locator('svg.chart polyline.rate').boundingBox();
    expect(line?.width).toBeGreaterThan(0);
    expect(await page.locator('svg.chart rect.failed').count()).toBeGreaterThan(0);

    // The markup in messages and keys is shown as text, and none of it ran.
    expect(await page.locator('.group .message').allInnerTexts()).toContain('bad payload <script>window.__pwned=1</script> in record 3');
    expect(await page.locator('.group .keys').allInnerTexts()).toEqual(
      expect.arrayContaining([expect.stringContaining('<img src=x onerror="window.__pwned=2">7')]),
    );
    expect(await page.evaluate('typeof window.__pwned')).toBe('undefined');
    expect(await page.locator('script').count()).toBe(0);
    expect(requests).toEqual([]);

    const screenshot = process.env.UPDATE_SCREENSHOTS === '1' ? DOCS_SCREENSHOT : join(dir, 'report.png');
    mkdirSync(resolve(screenshot, '..'), { recursive: true });
    await page.screenshot({ path: screenshot, fullPage: true });
    expect(readFileSync(screenshot).length).toBeGreaterThan(1000);
    await page.close();
  });

  it('names a run that is not in the ledger, and a missing --html', async () => {
    const dir = tempDir();
    writeJob(dir);
    await runCli(['run', 'job.mjs', '--no-progress'], { cwd: dir });
    const wrongRun = await runCli(['report', 'job.mjs', '--html', join(dir, 'r.html'), '--run', 'nope'], { cwd: dir });
    expect(wrongRun.code).toBe(2);
    expect(wrongRun.stderr).toContain('--run nope: no such run');
    const noFile = await runCli(['report', 'job.mjs'], { cwd: dir });
    expect(noFile.code).toBe(2);
    expect(noFile.stderr).toContain('report needs --html FILE');
  });
});
