/**
 * The dashboard and the metrics endpoint listen on 127.0.0.1 by default, and there answer only
 * requests addressed to a loopback name: a page elsewhere that points a name of its own at
 * 127.0.0.1 (DNS rebinding) must not read keys, error messages or figures through the browser.
 */
import { rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli, spawnCli, waitFor, writeJsonl, writeNoopJob } from '../helpers/cli.js';
import { tempDir } from '../helpers/temp.js';

/** GET `url` with the given Host header (fetch does not let a caller set it). */
function get(url: string, host?: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers: host === undefined ? {} : { host } }, (response) => {
      let body = '';
      response.on('data', (chunk) => (body += chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('local servers and the Host header', () => {
  it('the dashboard refuses a rebound name, and serves its page whatever the query string', async () => {
    const dir = tempDir();
    writeNoopJob(dir, 'hosted', 10);
    expect((await runCli(['run', 'job.mjs', '--no-progress'], { cwd: dir })).code).toBe(0);
    const dashboard = spawnCli(['dashboard', 'job.mjs'], { cwd: dir });
    let out = '';
    dashboard.stdout?.on('data', (chunk) => (out += chunk));
    try {
      await waitFor(() => /http:\/\/127\.0\.0\.1:(\d+)\//.test(out));
      const port = /http:\/\/127\.0\.0\.1:(\d+)\//.exec(out)![1]!;
      const base = `http://127.0.0.1:${port}`;
      const rebound = await get(`${base}/snapshot.json`, `evil.example:${port}`);
      expect(rebound.status).toBe(403);
      expect(rebound.body).toContain('not to "evil.example:');
      expect(rebound.body).not.toContain('hosted');
      expect((await get(`${base}/snapshot.json`, `localhost:${port}`)).status).toBe(200);
      const snapshot = await get(`${base}/snapshot.json?at=now`);
      expect(JSON.parse(snapshot.body)).toMatchObject({ job: 'hosted' });
      const page = await get(`${base}/?from=bookmark`);
      expect(page.status).toBe(200);
      expect(page.body).toContain('<html');
    } finally {
      dashboard.kill('SIGINT');
      await dashboard.result;
    }
  });

  it('the metrics endpoint refuses a rebound name and answers Prometheus at its address', async () => {
    const dir = tempDir();
    const records = writeJsonl(dir, 'records.jsonl', 20);
    const gate = join(dir, 'gate');
    writeFileSync(gate, '');
    writeFileSync(
      join(dir, 'job.mjs'),
      `import { existsSync } from 'node:fs';
import { defineJob, jsonl } from 'batchguard';
export default defineJob({
  name: 'metered-host',
  source: jsonl(${JSON.stringify(records)}),
  key: (r) => String(r.id),
  handler: async () => { while (existsSync(${JSON.stringify(gate)})) await new Promise((r) => setTimeout(r, 20)); },
});
`,
    );
    const run = spawnCli(['run', 'job.mjs', '--no-progress', '--metrics-port', '0'], { cwd: dir });
    let stderr = '';
    run.stderr?.on('data', (chunk) => (stderr += chunk));
    try {
      await waitFor(() => /metrics on (http:\S+)/.test(stderr));
      const url = /metrics on (http:\S+)/.exec(stderr)![1]!;
      const port = new URL(url).port;
      const rebound = await get(url, `attacker.example:${port}`);
      expect(rebound.status).toBe(403);
      expect(rebound.body).not.toContain('batchguard_');
      const scraped = await get(url);
      expect(scraped.status).toBe(200);
      expect(scraped.body).toContain('batchguard_records_total');
    } finally {
      rmSync(gate, { force: true });
    }
    expect((await run.result).code).toBe(0);
  });
});
