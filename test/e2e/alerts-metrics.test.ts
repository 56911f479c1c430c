/**
 * Alerts and metrics through the real CLI, against real local HTTP servers: a webhook receiver, a
 * Sentry ingest endpoint (its DSN pointed at 127.0.0.1), and Prometheus scrapes checked by promtool.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli, spawnCli, waitFor, writeJsonl } from '../helpers/cli.js';
import { closeReceivers, receiver } from '../helpers/http-receiver.js';
import { tempDir } from '../helpers/temp.js';

afterEach(closeReceivers);

/**
 * A job of `count` records of which ids ending in 00–29 (30%) fail with `failure`; the breaker off so
 * only the threshold speaks. With GATE (a file) in its environment, the records from GATE_FROM on
 * wait while that file exists: the test holds the run where it wants to look at it.
 */
function failingJob(dir: string, name: string, count: number, failure: string, extra = ''): void {
  writeJsonl(dir, `${name}.jsonl`, count);
  writeFileSync(
    join(dir, `${name}.mjs`),
    `
import { existsSync } from 'node:fs';
import { defineJob, jsonl, FatalError } from 'batchguard';
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
export default defineJob({
  name: '${name}',
  source: jsonl(${JSON.stringify(join(dir, `${name}.jsonl`))}),
  key: (r) => String(r.id),
  concurrency: 4,
  breaker: { enabled: false },
  retry: { maxAttempts: 2, backoff: { kind: 'constant', delayMs: 1 } },
  ${extra}
  handler: async (r) => {
    if (process.env.GATE && r.id >= Number(process.env.GATE_FROM ?? 0)) while (existsSync(process.env.GATE)) await sleep(10);
    await sleep(Number(process.env.DELAY_MS ?? 0));
    if (r.id % 100 < 30) throw ${failure};
  },
});
`,
  );
}

describe('alerts', () => {
  it('a run over its failure threshold sends exactly one Slack-compatible POST for that crossing', async () => {
    const dir = tempDir();
    const hook = await receiver();
    failingJob(dir, 'orders-sync', 200, "new FatalError('rejected: record ' + r.id)");
    const url = `http://127.0.0.1:${hook.port}/services/T000/B000/s3cr3t-hook-token`;
    const result = await runCli(['run', 'orders-sync.mjs', '--no-progress', '--alert-webhook', url], { cwd: dir });
    expect(result.code).toBe(1);
    expect(hook.received).toHaveLength(1);
    const [post] = hook.received;
    expect(post).toMatchObject({ method: 'POST', url: '/services/T000/B000/s3cr3t-hook-token' });
    expect(post!.headers['content-type']).toBe('application/json');
    const body = JSON.parse(post!.body) as Record<string, unknown>;
    expect(typeof body.text).toBe('string');
    expect(body.text).toContain('orders-sync');
    expect(body.text).toContain('30.0%');
    expect(body).toMatchObject({ job: 'orders-sync', rule: 'threshold-exceeded', failed: 60, finished: 200, failureRate: 0.3 });
    expect(result.stdout + result.stderr).not.toContain('s3cr3t');
  });

  it("a failing webhook is retried, reported once with its URL redacted, and never changes the run's outcome", async () => {
    const dir = tempDir();
    const hook = await receiver(503);
    failingJob(
      dir,
      'flaky-hook',
      100,
      "new FatalError('rejected')",
      `alerts: { webhook: { url: 'http://127.0.0.1:${hook.port}/hook/s3cr3t', retries: 2, timeoutMs: 2000 } },`,
    );
    const result = await runCli(['run', 'flaky-hook.mjs', '--no-progress'], { cwd: dir });
    expect(result.code).toBe(1);
    expect(hook.received).toHaveLength(3);
    expect(result.stderr).toContain(`the alert webhook http://127.0.0.1:${hook.port}/… failed: HTTP 503 (the run goes on)`);
    expect(result.stdout + result.stderr).not.toContain('s3cr3t');
    expect(result.stdout).toContain('failed');
  });

  it('a bad alerts option is a usage error naming the field', async () => {
    const dir = tempDir();
    failingJob(dir, 'bad-alerts', 10, "new FatalError('x')", "alerts: { rules: [{ kind: 'failure-rate', threshold: 5 }] },");
    const result = await runCli(['run', 'bad-alerts.mjs', '--no-progress'], { cwd: dir });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('alerts.rules[0].threshold must be a finite number from 0 to 1');
    expect(result.stderr).not.toMatch(/\n\s+at /);
  });

  it('sends record failures to Sentry grouped by fingerprint, tagged with key and run id, with retries as breadcrumbs', async () => {
    const dir = tempDir();
    const ingest = await receiver();
    failingJob(dir, 'geo', 100, "new Error('upstream refused record ' + r.id)", 'alerts: { sentry: { maxEventsPerGroup: 5 } },');
    const result = await runCli(['run', 'geo.mjs', '--no-progress', '--json'], {
      cwd: dir,
      env: { SENTRY_DSN: `http://publickey@127.0.0.1:${ingest.port}/1` },
    });
    expect(result.code).toBe(1);
    const summary = JSON.parse(result.stdout) as { runId: string; failed: number };
    expect(summary.failed).toBe(30);
    const failures = await runCli(['failures', 'geo.mjs', '--format', 'jsonl'], { cwd: dir });
    const fingerprints = new Set(
      failures.stdout
        .trim()
        .split('\n')
        .map((l) => (JSON.parse(l) as { fingerprint: string }).fingerprint),
    );
    expect(fingerprints.size).toBe(1);

    expect(ingest.received.every((r) => r.method === 'POST' && r.url.startsWith('/api/1/envelope/'))).toBe(true);
    const events = ingest.received
      .flatMap((r) =>
        r.body
          .split('\n')
          .filter((line) => line.startsWith('{'))
          .map((line) => JSON.parse(line) as Record<string, any>),
      )
      .filter((item) => item.event_id !== undefined && (item.exception !== undefined || item.message !== undefined));
    const failuresSent = events.filter((e) => e.exception);
    // 30 failures of one cause: at most maxEventsPerGroup of them reach Sentry, all in one group.
    expect(failuresSent).toHaveLength(5);
    for (const event of failuresSent) {
      expect(event.fingerprint).toEqual([...fingerprints]);
      expect(event.tags).toMatchObject({ job: 'geo', runId: summary.runId, kind: 'exhausted' });
      expect(Number(event.tags.key) % 100).toBeLessThan(30);
      expect(event.exception.values[0].value).toMatch(/^upstream refused record \d+$/);
      expect(event.breadcrumbs.map((b: { category: string }) => b.category)).toContain('retry');
    }
    const alerts = events.filter((e) => e.message !== undefined);
    expect(alerts).toHaveLength(1);
    expect(JSON.stringify(alerts[0]!.message)).toContain('job geo: threshold-exceeded');
  });
});

/** Parses the Prometheus text format strictly enough to read values: `name{labels} value` lines. */
function sampleValue(text: string, series: string): number | undefined {
  for (const line of text.split('\n')) {
    if (line.startsWith(`${series} `)) return Number(line.slice(series.length + 1));
  }
  return undefined;
}

const promtool = ['/usr/bin/promtool', '/usr/local/bin/promtool'].find((p) => existsSync(p));

describe('metrics', () => {
  it('serves Prometheus metrics during a run that promtool accepts', async () => {
    const dir = tempDir();
    failingJob(dir, 'metered', 400, "new FatalError('rejected')");
    // Records 60 on wait at the gate until the test has scraped: 30 fail, 30 succeed, 4 hold the slots.
    const gate = join(dir, 'gate');
    writeFileSync(gate, '');
    const child = spawnCli(['run', 'metered.mjs', '--no-progress', '--metrics-port', '0', '--max-failure-rate', '0.5'], {
      cwd: dir,
      env: { DELAY_MS: '5', GATE: gate, GATE_FROM: '60' },
    });
    let stderr = '';
    child.stderr?.on('data', (c) => (stderr += c));
    await waitFor(() => /metrics on (http:\S+)/.test(stderr));
    const url = /metrics on (http:\S+)/.exec(stderr)![1]!;
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
    const scrape = async (): Promise<string> => {
      const response = await fetch(url);
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toContain('text/plain');
      return response.text();
    };
    // Scrape until the 60 records before the gate are done and its 4 slots are taken.
    let text = '';
    await waitFor(async () => {
      text = await scrape();
      return sampleValue(text, 'batchguard_records_total{outcome="succeeded"}') === 30 && sampleValue(text, 'batchguard_in_flight') === 4;
    });
    expect(child.exitCode).toBeNull();
    expect(sampleValue(text, 'batchguard_records_total{outcome="failed"}')).toBe(30);
    expect(sampleValue(text, 'batchguard_concurrency_limit')).toBe(4);
    expect(sampleValue(text, 'batchguard_breaker_state')).toBe(0);
    expect(sampleValue(text, 'batchguard_attempts_total')).toBe(64);
    expect(sampleValue(text, 'batchguard_in_flight')).toBeLessThanOrEqual(4);
    expect(sampleValue(text, 'batchguard_handler_duration_seconds_count{outcome="succeeded"}')).toBeGreaterThan(0);
    expect(sampleValue(text, 'batchguard_retries_total')).toBe(0);
    expect(text).toContain('# TYPE batchguard_commit_duration_seconds histogram');
    if (promtool) {
      // promtool reads the exposition from stdin and exits non-zero on any format error.
      execFileSync(promtool, ['check', 'metrics'], { input: text });
    } else {
      throw new Error('promtool is not installed (Debian package prometheus): cannot check the exposition format');
    }
    rmSync(gate);
    const result = await child.result;
    expect(result.code).toBe(0);
    expect(
      await fetch(url).then(
        () => 'answered',
        () => 'closed',
      ),
    ).toBe('closed');
  });

  it('reports the adaptive concurrency limit of the moment, and no more records in flight than it', async () => {
    const dir = tempDir();
    // concurrency { min: 2, max: 16 } starts at 2: every record waits at the gate, so it stays there.
    failingJob(dir, 'adaptive', 100, "new FatalError('rejected')", 'concurrency: { min: 2, max: 16 },');
    const gate = join(dir, 'gate');
    writeFileSync(gate, '');
    const child = spawnCli(['run', 'adaptive.mjs', '--no-progress', '--metrics-port', '0', '--max-failure-rate', '0.5'], {
      cwd: dir,
      env: { GATE: gate },
    });
    let stderr = '';
    child.stderr?.on('data', (c) => (stderr += c));
    await waitFor(() => /metrics on (http:\S+)/.test(stderr));
    const url = /metrics on (http:\S+)/.exec(stderr)![1]!;
    let text = '';
    await waitFor(async () => {
      text = await (await fetch(url)).text();
      return sampleValue(text, 'batchguard_in_flight') === 2;
    });
    expect(sampleValue(text, 'batchguard_concurrency_limit')).toBe(2);
    expect(sampleValue(text, 'batchguard_in_flight')).toBeLessThanOrEqual(sampleValue(text, 'batchguard_concurrency_limit') as number);
    expect(sampleValue(text, 'batchguard_attempts_total')).toBe(2);
    rmSync(gate);
    const result = await child.result;
    expect(result.code).toBe(0);
  });

  it('refuses a taken port as a usage error before processing anything', async () => {
    const dir = tempDir();
    const taken = await receiver();
    failingJob(dir, 'port-taken', 10, "new FatalError('x')");
    const result = await runCli(['run', 'port-taken.mjs', '--no-progress', '--metrics-port', String(taken.port)], { cwd: dir });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`--metrics-port ${taken.port}: cannot listen on 127.0.0.1:${taken.port} (EADDRINUSE)`);
  });
});
