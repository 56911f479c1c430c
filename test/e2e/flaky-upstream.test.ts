/**
 * A flaky upstream that is still serving is not an outage. A real nginx answers 20% of requests
 * 503 with `Retry-After: 1` and drops 6% of connections without a response, decided per key and
 * attempt number (the same key+attempt always gets the same answer), and 404 for three keys that
 * do not exist. 300 records at concurrency 16 under the spawned CLI with the default breaker and
 * retry budget must finish with exit 0: every other record succeeds, no key+attempt is called
 * twice (from nginx's own access log), and no retry comes sooner than its Retry-After.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, writeJsonl } from '../helpers/cli.js';
import { NGINX_BIN, startNginx, type Nginx } from '../helpers/nginx.js';
import { tempDir } from '../helpers/temp.js';

const RECORDS = 300;
const MISSING = new Set([17, 150, 299]);

const HTTP = `
  log_format attempts '$arg_key $arg_attempt $status $msec';
  split_clients "$arg_key-$arg_attempt" $verdict {
    20% unavailable;
    6% drop;
    * ok;
  }
  map $arg_key $missing {
    ~^missing- 1;
    default 0;
  }
  server {
    listen 127.0.0.1:PORT;
    location /item {
      if ($missing) { return 404; }
      if ($verdict = unavailable) {
        add_header Retry-After 1 always;
        return 503;
      }
      if ($verdict = drop) { return 444; }
      default_type application/json;
      return 200 '{"ok":true}';
    }
  }
`;

interface Call {
  key: string;
  attempt: number;
  status: number;
  atMs: number;
}

function calls(nginx: Nginx): Call[] {
  return readFileSync(nginx.accessLog, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [key, attempt, status, msec] = line.split(' ');
      return { key: key as string, attempt: Number(attempt), status: Number(status), atMs: Math.round(Number(msec) * 1000) };
    });
}

// nginx-light is a Debian package (.ci/run installs it); without it this test cannot run at all.
describe.skipIf(!NGINX_BIN)('a flaky upstream (real nginx: 20% 503 with Retry-After, 6% dropped connections)', () => {
  let nginx: Nginx;
  beforeAll(async () => {
    nginx = await startNginx(HTTP);
  });
  afterAll(async () => {
    await nginx?.stop();
  });

  it('finishes with exit 0: every existing record succeeds, no key+attempt twice, no retry before its Retry-After', async () => {
    const dir = tempDir();
    writeJsonl(dir, 'records.jsonl', RECORDS, (i) => ({ id: MISSING.has(i) ? `missing-${i}` : `item-${i}` }));
    writeFileSync(
      join(dir, 'job.mjs'),
      `
import { defineJob, jsonl } from 'batchguard';

export default defineJob({
  name: 'flaky-upstream',
  source: jsonl(${JSON.stringify(join(dir, 'records.jsonl'))}),
  key: (r) => r.id,
  concurrency: 16,
  timeoutMs: 10_000,
  // 26% of calls fail: 8 attempts leave a record failing them all at 0.26^8 ≈ 2e-5.
  retry: { maxAttempts: 8 },
  handler: async (r, ctx) => {
    const response = await fetch('http://127.0.0.1:${nginx.port}/item?key=' + encodeURIComponent(ctx.key) + '&attempt=' + ctx.attempt);
    if (!response.ok) throw Object.assign(new Error('upstream answered ' + response.status), { status: response.status, headers: response.headers });
    return response.json();
  },
});
`,
    );
    const result = await runCli(['run', 'job.mjs', '--json', '--no-progress'], { cwd: dir });
    expect(result.stderr).not.toMatch(/breaker opened/i);
    expect(result.code).toBe(0);
    const summary = JSON.parse(result.stdout) as {
      status: string;
      succeeded: number;
      failed: number;
      pending: number;
      breaker: { trips: number };
    };
    expect(summary).toMatchObject({ status: 'completed', succeeded: RECORDS - MISSING.size, failed: MISSING.size, pending: 0 });
    expect(summary.breaker.trips).toBe(0);

    const log = calls(nginx);
    // No key+attempt pair twice: every call of a record carries a new attempt number.
    const pairs = new Map<string, number>();
    for (const call of log) pairs.set(`${call.key}#${call.attempt}`, (pairs.get(`${call.key}#${call.attempt}`) ?? 0) + 1);
    expect([...pairs].filter(([, n]) => n > 1)).toEqual([]);
    // Each existing key's last call succeeded; the missing ones were called once (404 is fatal).
    const byKey = new Map<string, Call[]>();
    for (const call of log) byKey.set(call.key, [...(byKey.get(call.key) ?? []), call]);
    expect(byKey.size).toBe(RECORDS);
    for (const [key, keyCalls] of byKey) {
      keyCalls.sort((a, b) => a.attempt - b.attempt);
      expect(keyCalls.map((c) => c.attempt)).toEqual(keyCalls.map((_, i) => i + 1));
      if (key.startsWith('missing-')) expect(keyCalls.map((c) => c.status)).toEqual([404]);
      else expect(keyCalls.at(-1)?.status).toBe(200);
      // A retry after a 503 comes at least Retry-After (1 s) after the 503 was answered. The log's
      // time is when nginx finished the request: the 503's is before the client saw it, the
      // retry's after the client sent it.
      for (let i = 1; i < keyCalls.length; i++) {
        const previous = keyCalls[i - 1] as Call;
        if (previous.status === 503) expect((keyCalls[i] as Call).atMs - previous.atMs).toBeGreaterThanOrEqual(1000);
      }
    }
    // The upstream was as flaky as claimed: about a quarter of all calls failed.
    const failedCalls = log.filter((c) => c.status === 503 || c.status === 444).length;
    expect(failedCalls / log.length).toBeGreaterThan(0.15);
  }, 180_000);
});
