/**
 * `batchguard report --html`: a real run with failures whose messages and keys carry markup, after
 * two smaller runs of the same job, its report opened in headless Chromium. The page shows the
 * ledger's figures, the chart over time is drawn, the history chart has one bar and one point per
 * run with the figures `batchguard runs --json` lists, and no script from a record runs (nor does the
 * page fetch anything).
 */
import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/temp.js';
import { CHROMIUM, launchChromium } from '../helpers/browser.js';

// The README's picture is refreshed with UPDATE_SCREENSHOTS=1; otherwise the screenshot goes to the
// test's temp folder (taking it is still part of the test).
const DOCS_SCREENSHOT = resolve(import.meta.dirname, '../../docs/report.png');

/** Writes the job, over `records.jsonl` in `dir` (empty until `addRecords`). */
function writeJob(dir: string): void {
  writeFileSync(join(dir, 'records.jsonl'), '');
  writeFileSync(
    join(dir, 'job.mjs'),
    `
import { defineJob, FatalError, jsonl } from 'batchguard';
export default defineJob({
  name: 'report-demo',
  source: jsonl(${JSON.stringify(join(dir, 'records.jsonl'))}),
  key: (r) => r.id,
  checkpoint: { everyRecords: 10, everyMs: 1000 },
  concurrency: 2,
  breaker: { enabled: false },
  maxFailureRate: 1,
  retry: { maxAttempts: 1 },
  handler: async (r) => {
    await new Promise((done) => setTimeout(done, r.sleepMs ?? 2));
    if (r.batch) {
      // Another cause than the main run's, so its failures are a group of their own.
      if (r.i % r.failEvery === 0) throw new RangeError('batch record ' + r.i + ' out of range');
      return;
    }
    if (r.i % 10 === 3) throw new FatalError('bad payload <script>window.__pwned=1</script> in record ' + r.i);
    if (r.i % 40 === 7) throw new FatalError('no such customer ' + r.i);
  },
});
`,
  );
}

/**
 * Appends records for the next run: 120 whose keys and failure messages carry markup (1 in 8
 * failing), or, for an earlier `batch`, 30 plain ones taking `sleepMs` each, 1 in `failEvery` failing.
 */
function addRecords(dir: string, batch?: { name: string; sleepMs: number; failEvery: number }): void {
  const records = batch
    ? Array.from({ length: 30 }, (_, i) => ({
        id: `${batch.name}-${i}`,
        i,
        batch: batch.name,
        sleepMs: batch.sleepMs,
        failEvery: batch.failEvery,
      }))
    : Array.from({ length: 120 }, (_, i) => ({ id: i % 40 === 7 ? `<img src=x onerror="window.__pwned=2">${i}` : `rec-${i}`, i }));
  appendFileSync(join(dir, 'records.jsonl'), records.map((r) => `${JSON.stringify(r)}\n`).join(''));
}

describe.skipIf(!existsSync(CHROMIUM))('batchguard report --html (skipped only where Debian chromium is not installed)', () => {
  let browser: Browser;
  beforeAll(async () => {
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
  });

  it('shows the figures, draws the charts, and runs no script from the records', async () => {
    const dir = tempDir();
    writeJob(dir);
    // Two earlier runs, slower and faster, failing 1 in 5 and 1 in 10 of their records.
    for (const batch of [
      { name: 'a', sleepMs: 8, failEvery: 5 },
      { name: 'b', sleepMs: 1, failEvery: 10 },
    ]) {
      addRecords(dir, batch);
      const earlier = await runCli(['run', 'job.mjs', '--no-progress'], { cwd: dir });
      expect(earlier.code, earlier.stderr).toBe(0);
    }
    addRecords(dir);
    const run = await runCli(['run', 'job.mjs', '--json', '--no-progress'], { cwd: dir });
    expect(run.code, run.stderr).toBe(0);
    const summary = JSON.parse(run.stdout) as { runId: string; failed: number; succeeded: number; total: number };
    expect(summary.total).toBe(180);
    expect(summary.failed).toBe(15 + 6 + 3);
    const listed = (await runCli(['runs', 'job.mjs', '--json'], { cwd: dir })).stdout
      .trim()
      .split('\n')
      .map(
        (line) =>
          JSON.parse(line) as {
            runId: string;
            startedAt: string;
            records: number;
            failed: number;
            skipped: number;
            recordsPerSecond: number;
            failureRate: number;
          },
      );
    expect(listed.map((r) => [r.records, r.failureRate])).toEqual([
      [120, 0.125],
      [30, 0.1],
      [30, 0.2],
    ]);

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
    expect(await figure('total')).toBe('180');
    expect(await figure('failed')).toBe(String(summary.failed));
    expect(await figure('succeeded')).toBe(String(summary.succeeded));
    expect(await figure('run-done')).toBe('120');
    expect(await figure('run-failed')).toBe('15');
    expect(await page.locator('h1').innerText()).toBe('report-demo');

    const chart = await page.locator('svg.chart').first().boundingBox();
    expect(chart?.width).toBeGreaterThan(100);
    expect(chart?.height).toBeGreaterThan(50);
    const line = await page.locator('svg.chart polyline.rate').boundingBox();
    expect(line?.width).toBeGreaterThan(0);
    expect(await page.locator('svg.chart rect.failed').count()).toBeGreaterThan(0);

    // The history: one bar and one point per run, oldest first, with the figures `runs --json` lists.
    const bars = page.locator('svg.history g.history-run');
    expect(await bars.count()).toBe(3);
    const oldestFirst = [...listed].reverse();
    const maxSpeed = Math.max(...listed.map((r) => r.recordsPerSecond));
    const tallest = Math.max(
      ...(await page.locator('svg.history rect.throughput').evaluateAll((rects) => rects.map((r) => r.getBoundingClientRect().height))),
    );
    for (const [i, listedRun] of oldestFirst.entries()) {
      const bar = bars.nth(i);
      expect(await bar.getAttribute('data-run-id')).toBe(listedRun.runId);
      expect(Number(await bar.getAttribute('data-records-per-second'))).toBe(listedRun.recordsPerSecond);
      expect(Number(await bar.getAttribute('data-failure-rate'))).toBe(listedRun.failureRate);
      expect(await bar.locator('title').textContent()).toContain(
        `${listedRun.recordsPerSecond} records/s, ${(listedRun.failureRate * 100).toFixed(1)}% failed (${listedRun.failed} of ${listedRun.records - listedRun.skipped} records)`,
      );
      expect(await bar.locator('text.run-label').textContent()).toBe(
        `${listedRun.startedAt.slice(5, 16).replace('T', ' ')} ${listedRun.runId.slice(0, 8)}`,
      );
      // Drawn to scale: the bar's height against the tallest, the point's height against the others.
      const height = (await bar.locator('rect.throughput').boundingBox())!.height;
      expect(height / tallest).toBeCloseTo(listedRun.recordsPerSecond / maxSpeed, 1);
      expect(await bar.locator('circle.failure-rate').count()).toBe(1);
    }
    const pointY = async (i: number): Promise<number> => (await bars.nth(i).locator('circle.failure-rate').boundingBox())!.y;
    // 20% (oldest) is drawn above 12.5% (this run), which is above 10%: a higher rate is higher up.
    expect(await pointY(0)).toBeLessThan(await pointY(2));
    expect(await pointY(2)).toBeLessThan(await pointY(1));
    expect(await bars.nth(2).getAttribute('class')).toBe('history-run current');

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
    addRecords(dir);
    await runCli(['run', 'job.mjs', '--no-progress'], { cwd: dir });
    const wrongRun = await runCli(['report', 'job.mjs', '--html', join(dir, 'r.html'), '--run', 'nope'], { cwd: dir });
    expect(wrongRun.code).toBe(2);
    expect(wrongRun.stderr).toContain('--run nope: no such run');
    const noFile = await runCli(['report', 'job.mjs'], { cwd: dir });
    expect(noFile.code).toBe(2);
    expect(noFile.stderr).toContain('report needs --html FILE');
  });
});
