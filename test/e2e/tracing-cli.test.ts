/**
 * Tracing through the real CLI, set up as a user does it: the SDK registered by a module that
 * `NODE_OPTIONS=--import` loads first, a job file with `tracing: true` whose handler makes its own
 * spans, and a process that exits as soon as the run ends. Every span must reach the exporter.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/temp.js';

const SETUP = resolve(import.meta.dirname, '../helpers/otel-file-tracing.mjs');
// The job file sits in a folder of its own: it finds the API where the test's setup found it.
const API = pathToFileURL(createRequire(import.meta.url).resolve('@opentelemetry/api')).href;

interface ExportedSpan {
  name: string;
  id: string;
  traceId: string;
  parent?: string;
  attributes: Record<string, unknown>;
  status: { code: number; message?: string };
}

describe('tracing through the CLI', () => {
  it('exports the run, its records, their attempts and the handler’s spans before the process exits', async () => {
    const dir = tempDir();
    writeFileSync(
      join(dir, 'traced.mjs'),
      `
import { defineJob, FatalError } from 'batchguard';
import { trace } from ${JSON.stringify(API)};
const tracer = trace.getTracer('job');
export default defineJob({
  name: 'traced-cli', source: [1, 2, 3, 4, 5].map((id) => ({ id })), key: (r) => String(r.id),
  maxFailureRate: 1, tracing: true,
  handler: async (r) => {
    await new Promise((done) => setTimeout(done, 2));
    await tracer.startActiveSpan('lookup', async (span) => { span.end(); });
    if (r.id === 4) throw new FatalError('no such city');
    return r.id;
  },
});
`,
    );
    const spansFile = join(dir, 'spans.jsonl');
    const result = await runCli(['run', 'traced.mjs', '--ledger', 'memory', '--no-progress'], {
      cwd: dir,
      env: { NODE_OPTIONS: `--import ${pathToFileURL(SETUP).href}`, BATCHGUARD_TEST_SPANS: spansFile },
    });
    expect(result.stderr).not.toContain('warning');
    expect(result.code).toBe(0);
    expect(existsSync(spansFile)).toBe(true);
    const spans = readFileSync(spansFile, 'utf8')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as ExportedSpan);
    const named = (name: string): ExportedSpan[] => spans.filter((span) => span.name === name);
    const [run, ...moreRuns] = named('batchguard.run');
    expect(moreRuns).toEqual([]);
    expect(run?.attributes).toMatchObject({
      'batchguard.job.name': 'traced-cli',
      'batchguard.run.succeeded': 4,
      'batchguard.run.failed': 1,
    });
    const records = named('batchguard.record');
    expect(records.map((span) => span.attributes['batchguard.record.key']).sort()).toEqual(['1', '2', '3', '4', '5']);
    for (const record of records) expect(record.parent).toBe(run?.id);
    const attempts = named('batchguard.attempt');
    expect(attempts).toHaveLength(5);
    for (const attempt of attempts) {
      const record = records.find((span) => span.id === attempt.parent);
      expect(record?.attributes['batchguard.record.key']).toBe(attempt.attributes['batchguard.record.key']);
    }
    const lookups = named('lookup');
    expect(lookups).toHaveLength(5);
    expect(lookups.map((span) => span.parent).sort()).toEqual(attempts.map((span) => span.id).sort());
    const failed = attempts.find((span) => span.attributes['batchguard.record.key'] === '4');
    expect(failed?.attributes).toMatchObject({ 'batchguard.attempt.outcome': 'failed', 'batchguard.failure.kind': 'fatal' });
    expect(failed?.status).toEqual({ code: 2, message: 'FatalError: no such city' });
    expect(new Set(spans.map((span) => span.traceId)).size).toBe(1);
  }, 60_000);
});
