/**
 * `batchguard dashboard` driven in headless Chromium while a slow run goes on: the counts on the
 * page move, and once the run has ended they are those of `status --json`. The dashboard opens the
 * ledger read-only, so the run beside it is never in its way.
 */
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { runCli, spawnCli, waitFor } from '../helpers/cli.js';
import { tempDir } from '../helpers/temp.js';
import { CHROMIUM, launchChromium } from '../helpers/browser.js';

function writeJob(dir: string): void {
  writeFileSync(
    join(dir, 'job.mjs'),
    `
import { defineJob, FatalError } from 'batchguard';
export default defineJob({
  name: 'dashboard-demo',
  source: Array.from({ length: 300 }, (_, i) => ({ id: 'rec-' + i, i })),
  key: (r) => r.id,
  checkpoint: { everyRecords: 5, everyMs: 200 },
  concurrency: 1,
  breaker: { enabled: false },
  maxFailureRate: 1,
  retry: { maxAttempts: 1 },
  handler: async (r) => {
    await new Promise((done) => setTimeout(done, 15));
    if (r.i % 25 === 4) throw new FatalError('bad <b>record</b> ' + r.i);
  },
});
`,
  );
}

describe.skipIf(!existsSync(CHROMIUM))('batchguard dashboard (skipped only where Debian chromium is not installed)', () => {
  let browser: Browser;
  beforeAll(async () => {
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
  });

  it('follows a run live and ends with the figures of status --json', async () => {
    const dir = tempDir();
    writeJob(dir);
    // A first short run creates the ledger, so the dashboard has something to open.
    expect((await runCli(['run', 'job.mjs', '--no-progress', '--max-records', '5'], { cwd: dir })).code).toBe(5);
    const run = spawnCli(['run', 'job.mjs', '--no-progress'], { cwd: dir });
    const dashboard = spawnCli(['dashboard', 'job.mjs'], { cwd: dir });
    let out = '';
    dashboard.stdout?.on('data', (chunk) => (out += chunk));
    try {
      await waitFor(() => /http:\/\/127\.0\.0\.1:\d+\//.test(out));
      const url = /http:\/\/127\.0\.0\.1:\d+\//.exec(out)![0];
      const page = await browser.newPage();
      await page.goto(url);
      const done = async (): Promise<number> => {
        const text = await page
          .locator('[data-figure="succeeded"]')
          .innerText()
          .catch(() => '-1');
        const failed = await page
          .locator('[data-figure="failed"]')
          .innerText()
          .catch(() => '-1');
        return Number(text) + Number(failed);
      };
      await page.locator('[data-figure="succeeded"]').waitFor();
      const first = await done();
      // The counts move while the run goes on (the page is updated by events, not reloaded).
      await expect.poll(done, { timeout: 60_000, interval: 200 }).toBeGreaterThan(first);
      const result = await run.result;
      expect(result.code, result.stderr).toBe(0);
      const status = JSON.parse((await runCli(['status', 'job.mjs', '--json'], { cwd: dir })).stdout) as Record<string, number>;
      for (const id of ['total', 'succeeded', 'failed', 'skipped', 'pending']) {
        await expect.poll(() => page.locator(`[data-figure="${id}"]`).innerText(), { timeout: 10_000 }).toBe(String(status[id]));
      }
      expect(status.failed).toBe(12);
      // A message with markup is shown as text.
      expect(await page.locator('#groups .message').first().innerText()).toMatch(/^bad <b>record<\/b> \d+$/);
      expect(await page.locator('#groups b').count()).toBe(0);
      expect(await page.locator('#commands').innerText()).toContain('rerun job.mjs --failed');
      await page.close();
    } finally {
      run.kill('SIGKILL');
      dashboard.kill('SIGTERM');
    }
    const ended = await dashboard.result;
    expect(ended.code, ended.stderr).toBe(0);
  });
});
