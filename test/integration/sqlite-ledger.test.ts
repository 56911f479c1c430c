// The SQLite backend's own storage: raw SQL here reads its tables or tampers with them (an older schema, a missing column) on purpose.
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LedgerError, SourceError, StorageError } from '../../src/errors.js';
import type { CommitBatch, RecordRow, RunStart } from '../../src/ledger/ledger.js';
import Database from 'better-sqlite3';
import { SCHEMA_SQL } from '../../src/ledger/sqlite/schema.js';
import { openSqliteLedgerFile } from '../../src/ledger/sqlite/open-sqlite-ledger.js';
import type { SqliteLedger } from '../../src/ledger/sqlite/sqlite-ledger.js';
import type { SourceFingerprint } from '../../src/sources/source.js';
import { withDatabase as query } from '../helpers/ledger.js';
import { tempDir } from '../helpers/temp.js';

const FINGERPRINT: SourceFingerprint = { description: 'jsonl:data/in.jsonl', size: 1000, mtimeMs: 1_700_000_000_000, sampleHash: 'aaaa' };

function start(runId: string, overrides: Partial<RunStart> = {}): RunStart {
  return { runId, job: 'ledger-test', fingerprint: FINGERPRINT, acceptDrift: false, options: { concurrency: 4 }, ...overrides };
}

function row(seq: number, overrides: Partial<RecordRow> = {}): RecordRow {
  return {
    seq,
    key: `key-${seq}`,
    status: 'failed',
    kind: 'exhausted',
    attempts: 3,
    error: { name: 'Error', message: `failure of ${seq}` },
    fingerprint: 'fp-a',
    rule: 'default',
    runId: 'run-1',
    line: seq + 1,
    offset: seq * 100,
    updatedAt: '2025-01-01T00:00:00.000Z',
    ...overrides,
  };
}

function batch(runId: string, overrides: Partial<CommitBatch> = {}): CommitBatch {
  return { runId, succeeded: [], rows: [], watermark: { seq: 0 }, seen: 0, exhausted: false, ...overrides };
}

function ledgerPath(): string {
  return join(tempDir(), 'ledger.sqlite');
}

function rangeRows(path: string): { first_seq: number; last_seq: number; run_id: string }[] {
  return query(path, (db) => db.prepare('SELECT first_seq, last_seq, run_id FROM succeeded_ranges ORDER BY first_seq').all() as never);
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}

function syncError(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected an error');
}

async function withLedger<T>(path: string, use: (ledger: SqliteLedger) => Promise<T>): Promise<T> {
  const ledger = openSqliteLedgerFile(path);
  try {
    return await use(ledger);
  } finally {
    await ledger.close();
  }
}

describe('SQLite ledger on a real file', () => {
  it('keeps exact counts across begin, commits, finish and a reopen', async () => {
    const path = ledgerPath();
    await withLedger(path, async (ledger) => {
      const resume = await ledger.begin(start('run-1'));
      expect(resume).toMatchObject({ finishedAbove: [], alreadyDone: 0 });
      expect(resume.watermark).toBeUndefined();
      expect(resume.crashedRunId).toBeUndefined();
      await ledger.commit(
        batch('run-1', {
          succeeded: [{ first: 0, last: 9 }],
          rows: [row(10), row(11), row(12, { status: 'skipped', kind: undefined })],
          watermark: { seq: 13, line: 14, offset: 1300 },
          seen: 15,
        }),
      );
      expect(await ledger.counts()).toEqual({ total: 15, succeeded: 10, failed: 2, skipped: 1, pending: 2, sourceExhausted: false });
      await ledger.finish('run-1', 'interrupted', { note: 'first' });
    });
    await withLedger(path, async (ledger) => {
      const counts = await ledger.counts();
      expect(counts).toEqual({ total: 15, succeeded: 10, failed: 2, skipped: 1, pending: 2, sourceExhausted: false });
      expect(counts.total).toBe(counts.succeeded + counts.failed + counts.skipped + counts.pending);
      const resume = await ledger.begin(start('run-2'));
      expect(resume).toMatchObject({ watermark: { seq: 13, line: 14, offset: 1300 }, finishedAbove: [], alreadyDone: 13 });
      expect(resume.crashedRunId).toBeUndefined();
      await ledger.commit(batch('run-2', { succeeded: [{ first: 13, last: 14 }], watermark: { seq: 14 }, seen: 15, exhausted: true }));
      await ledger.finish('run-2', 'completed', { note: 'second' });
    });
    await withLedger(path, async (ledger) => {
      expect(await ledger.counts()).toEqual({ total: 15, succeeded: 12, failed: 2, skipped: 1, pending: 0, sourceExhausted: true });
    });
  });

  it("refuses to open, for writing or reading, a file that holds another job's runs, when told the job", async () => {
    const path = ledgerPath();
    await withLedger(path, async (ledger) => {
      await ledger.begin(start('run-1'));
      await ledger.finish('run-1', 'completed', {});
    });
    const message = `the ledger ${path} holds the runs of job "ledger-test", not of job "enrich": its outcomes are that job's`;
    for (const readOnly of [false, true]) {
      const error = syncError(() => openSqliteLedgerFile(path, { job: 'enrich', readOnly }));
      expect(error).toBeInstanceOf(LedgerError);
      expect((error as LedgerError).message).toContain(message);
    }
    // Its own job, a ledger without runs, or no job said: opened as before.
    await openSqliteLedgerFile(path, { job: 'ledger-test' }).close();
    await openSqliteLedgerFile(ledgerPath(), { job: 'enrich' }).close();
    await openSqliteLedgerFile(path).close();
  });

  it('refuses a ledger path that is a folder, a named pipe or a device, for writing or reading, without opening it', () => {
    const dir = tempDir();
    const fifo = join(dir, 'fifo');
    execFileSync('mkfifo', [fifo]);
    for (const [path, what] of [
      [dir, 'a folder'],
      [fifo, 'a named pipe (FIFO)'],
      ['/dev/null', 'a device'],
    ] as const) {
      for (const readOnly of [false, true]) {
        // A named pipe's open would wait for a writer for ever: refused before anything opens it.
        expect(() => openSqliteLedgerFile(path, { readOnly })).toThrow(LedgerError);
        expect(() => openSqliteLedgerFile(path, { readOnly })).toThrow(
          `the ledger ${path} is ${what}, not a file: --ledger (or the job's ledger option) names the SQLite file that keeps the job's outcomes`,
        );
      }
    }
  });

  it('keeps a timeline per run: one point per commit with outcomes, across a reopen', async () => {
    const path = ledgerPath();
    await withLedger(path, async (ledger) => {
      await ledger.begin(start('run-1'));
      await ledger.commit(
        batch('run-1', { succeeded: [{ first: 0, last: 9 }], rows: [row(10), row(11, { status: 'skipped', kind: undefined })], seen: 12 }),
      );
      await ledger.commit(batch('run-1', { seen: 12 }));
      await ledger.commit(batch('run-1', { rows: [row(12)], seen: 13 }));
      await ledger.finish('run-1', 'interrupted', {});
    });
    await withLedger(path, async (ledger) => {
      await ledger.begin(start('run-2'));
      await ledger.commit(batch('run-2', { succeeded: [{ first: 13, last: 14 }], seen: 15 }));
      const first = await ledger.timeline('run-1');
      expect(first.map(({ done, failed }) => ({ done, failed }))).toEqual([
        { done: 12, failed: 1 },
        { done: 1, failed: 1 },
      ]);
      expect(Date.parse(first[0]!.at)).toBeLessThanOrEqual(Date.parse(first[1]!.at));
      expect((await ledger.timeline('run-2')).map(({ done, failed }) => ({ done, failed }))).toEqual([{ done: 2, failed: 0 }]);
      expect(await ledger.timeline('no-such-run')).toEqual([]);
      await ledger.finish('run-2', 'completed', {});
    });
  });

  it('returns the finished records at and above the watermark, ranges and rows merged', async () => {
    const path = ledgerPath();
    await withLedger(path, async (ledger) => {
      await ledger.begin(start('run-1'));
      await ledger.commit(
        batch('run-1', {
          succeeded: [
            { first: 0, last: 4 },
            { first: 6, last: 8 },
            { first: 12, last: 12 },
          ],
          rows: [row(5), row(9), row(14)],
          watermark: { seq: 7, line: 8, offset: 700 },
          seen: 15,
        }),
      );
      await ledger.finish('run-1', 'interrupted', {});
    });
    await withLedger(path, async (ledger) => {
      const resume = await ledger.begin(start('run-2'));
      expect(resume.watermark).toEqual({ seq: 7, line: 8, offset: 700 });
      expect(resume.finishedAbove).toEqual([
        { first: 6, last: 9 },
        { first: 12, last: 12 },
        { first: 14, last: 14 },
      ]);
      expect(resume.alreadyDone).toBe(12);
    });
  });

  it('extends the last success range in place within a run, and starts a new row otherwise', async () => {
    const path = ledgerPath();
    await withLedger(path, async (ledger) => {
      await ledger.begin(start('run-1'));
      for (let i = 0; i < 5; i++) {
        await ledger.commit(
          batch('run-1', { succeeded: [{ first: i * 10, last: i * 10 + 9 }], watermark: { seq: i * 10 + 10 }, seen: i * 10 + 10 }),
        );
      }
      expect(rangeRows(path)).toEqual([{ first_seq: 0, last_seq: 49, run_id: 'run-1' }]);
      // A gap (seq 50 failed): a new range row, which later batches extend.
      await ledger.commit(batch('run-1', { succeeded: [{ first: 51, last: 55 }], rows: [row(50)], seen: 56 }));
      await ledger.commit(batch('run-1', { succeeded: [{ first: 56, last: 60 }], seen: 61 }));
      expect(rangeRows(path)).toEqual([
        { first_seq: 0, last_seq: 49, run_id: 'run-1' },
        { first_seq: 51, last_seq: 60, run_id: 'run-1' },
      ]);
      await ledger.finish('run-1', 'interrupted', {});
    });
    await withLedger(path, async (ledger) => {
      await ledger.begin(start('run-2'));
      await ledger.commit(batch('run-2', { succeeded: [{ first: 61, last: 70 }], seen: 71 }));
      expect(rangeRows(path)).toEqual([
        { first_seq: 0, last_seq: 49, run_id: 'run-1' },
        { first_seq: 51, last_seq: 60, run_id: 'run-1' },
        { first_seq: 61, last_seq: 70, run_id: 'run-2' },
      ]);
      expect(await ledger.counts()).toMatchObject({ total: 71, succeeded: 70, failed: 1, pending: 0 });
    });
  });

  it('upserts rows by seq: one row per record, holding its latest state', async () => {
    const path = ledgerPath();
    await withLedger(path, async (ledger) => {
      await ledger.begin(start('run-1'));
      await ledger.commit(batch('run-1', { rows: [row(3, { fingerprint: 'fp-old' })], seen: 4 }));
      await ledger.commit(
        batch('run-1', {
          rows: [
            row(3, {
              status: 'skipped',
              kind: undefined,
              error: undefined,
              fingerprint: undefined,
              rule: undefined,
              attempts: 0,
              runId: 'run-1',
            }),
          ],
          seen: 4,
        }),
      );
      const rows = query(path, (db) => db.prepare('SELECT seq, key, status, kind, attempts, error, fingerprint FROM records').all());
      expect(rows).toEqual([{ seq: 3, key: 'key-3', status: 'skipped', kind: null, attempts: 0, error: null, fingerprint: null }]);
      expect(await ledger.counts()).toEqual({ total: 4, succeeded: 0, failed: 0, skipped: 1, pending: 3, sourceExhausted: false });
      await ledger.commit(batch('run-1', { rows: [row(3, { status: 'succeeded', kind: undefined, attempts: 2 })], seen: 4 }));
      expect(await ledger.counts()).toEqual({ total: 4, succeeded: 1, failed: 0, skipped: 0, pending: 3, sourceExhausted: false });
      expect(query(path, (db) => db.prepare('SELECT COUNT(*) FROM records').pluck().get())).toBe(1);
    });
  });

  it('commits nothing of a batch whose transaction fails', async () => {
    const path = ledgerPath();
    await withLedger(path, async (ledger) => {
      await ledger.begin(start('run-1'));
      await ledger.commit(
        batch('run-1', {
          succeeded: [
            { first: 0, last: 1 },
            { first: 5, last: 6 },
          ],
          rows: [row(3)],
          watermark: { seq: 7 },
          seen: 7,
        }),
      );
      // A row without its attempts violates a NOT NULL constraint after the range and the first row
      // were written: the whole batch, its range, its rows, its watermark and its counters, must roll back.
      const error = await rejection(
        Promise.resolve().then(() =>
          ledger.commit(
            batch('run-1', {
              rows: [row(4), row(2, { attempts: null as unknown as number })],
              succeeded: [{ first: 7, last: 8 }],
              watermark: { seq: 9 },
              seen: 9,
              exhausted: true,
            }),
          ),
        ),
      );
      expect(error).toBeInstanceOf(Error);
      expect(await ledger.counts()).toEqual({ total: 7, succeeded: 4, failed: 1, skipped: 0, pending: 2, sourceExhausted: false });
      expect(query(path, (db) => db.prepare("SELECT value FROM meta WHERE key = 'watermark'").pluck().get())).toBe('{"seq":7}');
      // The range the failed batch would have extended is as stored, not as that batch left it in
      // memory: the next success counts once, and the records of the failed batch not at all.
      await ledger.commit(batch('run-1', { succeeded: [{ first: 9, last: 9 }], watermark: { seq: 10 }, seen: 10 }));
      expect(await ledger.counts()).toEqual({ total: 10, succeeded: 5, failed: 1, skipped: 0, pending: 4, sourceExhausted: false });
    });
  });

  it('groups failures by fingerprint for topErrors, most frequent first, samples in source order, with templates beneath', async () => {
    const path = ledgerPath();
    await withLedger(path, async (ledger) => {
      await ledger.begin(start('run-1'));
      const a = (seq: number, template: string | undefined): RecordRow =>
        row(seq, { fingerprint: 'fp-a', template, error: { name: 'HttpError', message: `status 503 at ${seq}` } });
      await ledger.commit(
        batch('run-1', {
          rows: [
            a(8, 'status <n> at <n>'),
            a(2, 'status <n> at <n>'),
            a(5, 'upstream <n>'),
            a(9, 'status <n> at <n>'),
            row(1, {
              fingerprint: 'fp-c',
              kind: 'fatal',
              rule: 'programming-TypeError',
              template: 'x is undefined',
              error: { name: 'TypeError', message: 'x is undefined' },
            }),
            // Rows stored before templates were: the first message, masked, stands in.
            row(7, { fingerprint: 'fp-b', error: { name: 'RangeError', message: 'too big' } }),
            row(4, { fingerprint: 'fp-b', error: { name: 'RangeError', message: 'too big (4)' } }),
            row(3, { status: 'skipped', kind: undefined, fingerprint: 'fp-c' }),
            row(6, {
              fingerprint: 'fp-c',
              kind: 'fatal',
              rule: 'programming-TypeError',
              template: 'y is undefined',
              error: { name: 'TypeError', message: 'y is undefined' },
            }),
          ],
          seen: 10,
        }),
      );
      expect(await ledger.topErrors(5, 3)).toEqual([
        {
          fingerprint: 'fp-a',
          name: 'HttpError',
          message: 'status 503 at 2',
          kind: 'exhausted',
          rule: 'default',
          count: 4,
          sampleKeys: ['key-2', 'key-5', 'key-8'],
          templates: [
            { template: 'status <n> at <n>', count: 3, sampleKeys: ['key-2', 'key-8', 'key-9'] },
            { template: 'upstream <n>', count: 1, sampleKeys: ['key-5'] },
          ],
        },
        {
          fingerprint: 'fp-b',
          name: 'RangeError',
          message: 'too big (4)',
          kind: 'exhausted',
          rule: 'default',
          count: 2,
          sampleKeys: ['key-4', 'key-7'],
          templates: [{ template: 'too big (<n>)', count: 2, sampleKeys: ['key-4', 'key-7'] }],
        },
        {
          fingerprint: 'fp-c',
          name: 'TypeError',
          message: 'x is undefined',
          kind: 'fatal',
          rule: 'programming-TypeError',
          count: 2,
          sampleKeys: ['key-1', 'key-6'],
          templates: [
            { template: 'x is undefined', count: 1, sampleKeys: ['key-1'] },
            { template: 'y is undefined', count: 1, sampleKeys: ['key-6'] },
          ],
        },
      ]);
      expect((await ledger.topErrors(1, 1)).map((g) => [g.fingerprint, g.sampleKeys])).toEqual([['fp-a', ['key-2']]]);
    });
  });

  it('adds the template column to a ledger created without it', async () => {
    const path = ledgerPath();
    const db = new Database(path);
    db.exec(SCHEMA_SQL.replace(',\n  template    TEXT', ''));
    db.close();
    await withLedger(path, async (ledger) => {
      await ledger.begin(start('run-1'));
      await ledger.commit(batch('run-1', { rows: [row(1, { template: 'failure of <n>' })], seen: 2 }));
      const rows = [];
      for await (const r of ledger.rows({ statuses: ['failed'] })) rows.push(r);
      expect(rows.map((r) => r.template)).toEqual(['failure of <n>']);
    });
  });

  it('gives by pages (rowPages) the rows rows() gives, in the same order', async () => {
    const path = ledgerPath();
    await withLedger(path, async (ledger) => {
      await ledger.begin(start('run-1'));
      // 300 of them, out of order, failed and skipped: pages of 128 end inside the run's rows.
      const rows = Array.from({ length: 300 }, (_, i) =>
        row((i * 7) % 300, i % 3 === 0 ? { status: 'skipped', kind: undefined, error: undefined, blockedBy: ['key-x'] } : {}),
      );
      await ledger.commit(batch('run-1', { rows, seen: 300 }));
      const filter = { statuses: ['failed', 'skipped'] as const, runId: 'run-1' };
      const byRow: RecordRow[] = [];
      for await (const r of ledger.rows({ ...filter, statuses: [...filter.statuses] })) byRow.push(r);
      const pages: (readonly RecordRow[])[] = [];
      for await (const page of ledger.rowPages({ ...filter, statuses: [...filter.statuses] })) pages.push(page);
      expect(pages.map((page) => page.length)).toEqual([128, 128, 44]);
      expect(pages.flat()).toEqual(byRow);
      expect(byRow.map((r) => r.seq)).toEqual(Array.from({ length: 300 }, (_, seq) => seq));
    });
  });

  it('lists runs newest first with their status, pid, host and summary', async () => {
    const path = ledgerPath();
    await withLedger(path, async (ledger) => {
      await ledger.begin(start('run-1'));
      await ledger.finish('run-1', 'completed', { succeeded: 1 });
      await ledger.begin(start('run-2'));
      await ledger.finish('run-2', 'interrupted', { succeeded: 2 });
      await ledger.begin(start('run-3'));
    });
    await withLedger(path, async (ledger) => {
      const runs = await ledger.runs(10);
      expect(runs.map((r) => [r.runId, r.status, r.pid, r.host, r.summary])).toEqual([
        ['run-3', 'running', process.pid, hostname(), undefined],
        ['run-2', 'interrupted', process.pid, hostname(), { succeeded: 2 }],
        ['run-1', 'completed', process.pid, hostname(), { succeeded: 1 }],
      ]);
      expect(runs[0]?.endedAt).toBeUndefined();
      expect(typeof runs[1]?.endedAt).toBe('string');
      expect((await ledger.runs(2)).map((r) => r.runId)).toEqual(['run-3', 'run-2']);
    });
  });
});

describe('SQLite ledger source drift', () => {
  async function firstRun(path: string): Promise<void> {
    await withLedger(path, async (ledger) => {
      await ledger.begin(start('run-1'));
      await ledger.commit(batch('run-1', { succeeded: [{ first: 0, last: 4 }], watermark: { seq: 5, line: 6, offset: 500 }, seen: 6 }));
      await ledger.finish('run-1', 'interrupted', {});
    });
  }

  it.each([
    [{ size: 1200 }, 'size 1000 → 1200 bytes'],
    [{ sampleHash: 'bbbb' }, 'its first 64 KiB differ'],
    [{ description: 'jsonl:data/other.jsonl' }, 'it was jsonl:data/in.jsonl, now jsonl:data/other.jsonl'],
  ])('refuses to resume over a source with %j, saying what changed', async (change, said) => {
    const path = ledgerPath();
    await firstRun(path);
    await withLedger(path, async (ledger) => {
      const error = await rejection(ledger.begin(start('run-2', { fingerprint: { ...FINGERPRINT, ...change } })));
      expect(error).toBeInstanceOf(SourceError);
      expect((error as SourceError).code).toBe('SOURCE_DRIFT');
      expect((error as SourceError).message).toContain(`the source changed since the ledger last read it (${said})`);
      expect((error as SourceError).message).toContain('--accept-drift');
      // Nothing of the refused run remains: no lease, no run row.
      expect(await ledger.holder()).toBeUndefined();
      expect((await ledger.runs(10)).map((r) => r.runId)).toEqual(['run-1']);
    });
  });

  it('names every change at once', async () => {
    const path = ledgerPath();
    await firstRun(path);
    await withLedger(path, async (ledger) => {
      const error = await rejection(ledger.begin(start('run-2', { fingerprint: { ...FINGERPRINT, size: 1, sampleHash: 'cccc' } })));
      expect((error as SourceError).message).toContain('(size 1000 → 1 bytes; its first 64 KiB differ)');
    });
  });

  it('reports a changed modification time alone as uncertain drift, for the engine to check by key, keeping the watermark', async () => {
    const path = ledgerPath();
    await firstRun(path);
    await withLedger(path, async (ledger) => {
      const resume = await ledger.begin(
        start('run-2', { fingerprint: { ...FINGERPRINT, mtimeMs: (FINGERPRINT.mtimeMs as number) + 60_000 } }),
      );
      expect(resume.watermark).toEqual({ seq: 5, line: 6, offset: 500 });
      expect(resume.drift).toEqual({ reason: 'it was modified since the ledger last read it', certain: false });
    });
  });

  it('with acceptDrift reports certain drift and keeps the old reference until the outcomes are moved', async () => {
    const path = ledgerPath();
    const changed = { ...FINGERPRINT, size: 1200 };
    await firstRun(path);
    await withLedger(path, async (ledger) => {
      const resume = await ledger.begin(start('run-2', { fingerprint: changed, acceptDrift: true }));
      expect(resume.drift).toEqual({ reason: 'size 1000 → 1200 bytes', certain: true });
      expect(resume.watermark).toEqual({ seq: 5, line: 6, offset: 500 });
      await ledger.finish('run-2', 'interrupted', {});
    });
    // A run that died before moving the outcomes leaves the drift to be found again.
    await withLedger(path, async (ledger) => {
      await expect(ledger.begin(start('run-3', { fingerprint: changed }))).rejects.toThrow('size 1000 → 1200 bytes');
      await ledger.begin(start('run-3', { fingerprint: changed, acceptDrift: true }));
      await ledger.acceptSource(changed, { offset: 500, hash: 'h1' }, 9);
      await ledger.finish('run-3', 'completed', {});
      const resume = await ledger.begin(start('run-4', { fingerprint: changed, sample: { offset: 500, hash: 'h1' } }));
      expect(resume.drift).toBeUndefined();
      expect(await ledger.counts()).toMatchObject({ total: 9, succeeded: 5, pending: 4 });
    });
  });

  it('refuses when the bytes around the resume point changed, whatever the size and first bytes say', async () => {
    const path = ledgerPath();
    await withLedger(path, async (ledger) => {
      await ledger.begin(start('run-1'));
      await ledger.commit(
        batch('run-1', {
          succeeded: [{ first: 0, last: 4 }],
          watermark: { seq: 5, line: 6, offset: 500 },
          seen: 6,
          sourceSample: { offset: 500, hash: 'h1' },
        }),
      );
      await ledger.finish('run-1', 'interrupted', {});
      expect((await ledger.sourceState()).sample).toEqual({ offset: 500, hash: 'h1' });
      const error = await rejection(ledger.begin(start('run-2', { sample: { offset: 500, hash: 'h2' } })));
      expect((error as SourceError).code).toBe('SOURCE_DRIFT');
      expect((error as SourceError).message).toContain('(the bytes around the resume point (byte 500) differ)');
      await expect(ledger.begin(start('run-2', { sample: { offset: 500, hash: 'h1' } }))).resolves.toMatchObject({ watermark: { seq: 5 } });
    });
  });

  it('refuses a source that resolves to another file, naming both paths', async () => {
    const path = ledgerPath();
    await withLedger(path, async (ledger) => {
      await ledger.begin(start('run-1', { fingerprint: { ...FINGERPRINT, path: '/data/a/in.jsonl' } }));
      await ledger.finish('run-1', 'completed', {});
      const error = await rejection(ledger.begin(start('run-2', { fingerprint: { ...FINGERPRINT, path: '/data/b/in.jsonl' } })));
      expect(error).toBeInstanceOf(SourceError);
      expect((error as SourceError).code).toBe('SOURCE_MOVED');
      expect((error as SourceError).message).toContain('records the source /data/a/in.jsonl, but the job now reads /data/b/in.jsonl');
      expect((await ledger.runs(10)).map((r) => r.runId)).toEqual(['run-1']);
    });
  });

  it("moves rows to their records' new positions, rewrites the ranges, drops what is gone, and supersedes the key file", async () => {
    const path = ledgerPath();
    await firstRun(path);
    await withLedger(path, async (ledger) => {
      await ledger.begin(start('run-2'));
      const before = await ledger.keys();
      before.add('key-5', 5, 6);
      before.add('key-6', 6, 7);
      await ledger.commit(batch('run-2', { rows: [row(5), row(6)], watermark: { seq: 7, line: 8, offset: 700 }, seen: 7 }));
      await ledger.finish('run-2', 'interrupted', {});
      const moved = [4, 0, 1, -1, 3, 6, -1];
      await ledger.begin(start('run-3'));
      expect((await ledger.keys()).find('key-6')).toEqual({ seq: 6, line: 7 });
      const after = ledger.newKeys(10);
      after.add('key-5', 2, 3);
      await ledger.applySourceMap(
        'run-3',
        { ...FINGERPRINT, size: 900 },
        {
          seen: 6,
          succeeded: [
            { first: 0, last: 1 },
            { first: 3, last: 4 },
          ],
          moved: [{ from: 5, to: { seq: 2, line: 3, offset: 20 } }],
          newSeqOf: (seq) => moved[seq] ?? -1,
          keys: after,
          watermark: { seq: 2, line: 3, offset: 20 },
          sample: { offset: 20, hash: 'h' },
        },
      );
      expect(await ledger.counts()).toMatchObject({ total: 6, succeeded: 4, failed: 1, pending: 1, sourceExhausted: true });
      const rows = [];
      for await (const r of ledger.rows({ statuses: ['failed'] })) rows.push(r);
      expect(rows.map((r) => [r.seq, r.key, r.line, r.offset])).toEqual([[2, 'key-5', 3, 20]]);
      expect(rangeRows(path).map((r) => [r.first_seq, r.last_seq, r.run_id])).toEqual([
        [0, 1, 'run-3'],
        [3, 4, 'run-3'],
      ]);
      // The keys are the source's as it is now: the key file's entries from before are superseded.
      const keys = await ledger.keys();
      expect(keys.size).toBe(1);
      expect(keys.find('key-5')).toEqual({ seq: 2, line: 3 });
      expect(keys.find('key-6')).toBeUndefined();
      await ledger.finish('run-3', 'completed', {});
      const resume = await ledger.begin(start('run-4', { fingerprint: { ...FINGERPRINT, size: 900 }, sample: { offset: 20, hash: 'h' } }));
      expect(resume).toMatchObject({ watermark: { seq: 2, line: 3, offset: 20 }, finishedAbove: [{ first: 2, last: 4 }], alreadyDone: 5 });
    });
  });

  it('accepts any fingerprint on a ledger that never saw one, and skips the check for sources without one', async () => {
    const path = ledgerPath();
    await withLedger(path, async (ledger) => {
      await ledger.begin(start('run-1', { fingerprint: undefined }));
      await ledger.finish('run-1', 'completed', {});
      await ledger.begin(start('run-2'));
      await ledger.finish('run-2', 'completed', {});
      await expect(ledger.begin(start('run-3', { fingerprint: undefined }))).resolves.toBeDefined();
    });
  });
});

describe('SQLite ledger that cannot be used', () => {
  it('refuses a ledger of another schema version with LEDGER_UNUSABLE', async () => {
    const path = ledgerPath();
    await withLedger(path, async () => undefined);
    query(path, (db) => db.prepare("UPDATE meta SET value = '2' WHERE key = 'schema'").run());
    const error = syncError(() => openSqliteLedgerFile(path));
    expect(error).toBeInstanceOf(LedgerError);
    expect((error as LedgerError).code).toBe('LEDGER_UNUSABLE');
    expect((error as LedgerError).message).toBe(
      `the ledger ${path} has schema 2, written by a newer batchguard; this batchguard reads schema 1: upgrade batchguard to use this ledger (nothing was changed in it)`,
    );
  });

  it('refuses a path that is a directory with LEDGER_UNUSABLE naming the path', () => {
    const path = ledgerPath();
    mkdirSync(path);
    const error = syncError(() => openSqliteLedgerFile(path));
    expect(error).toBeInstanceOf(LedgerError);
    expect((error as LedgerError).code).toBe('LEDGER_UNUSABLE');
    expect((error as LedgerError).message.startsWith(`the ledger ${path} is a folder, not a file: `)).toBe(true);
  });

  it('refuses a path under a regular file with LEDGER_UNUSABLE', () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'file'), 'x');
    const path = join(dir, 'file', 'ledger.sqlite');
    const error = syncError(() => openSqliteLedgerFile(path));
    expect(error).toBeInstanceOf(LedgerError);
    expect((error as LedgerError).code).toBe('LEDGER_UNUSABLE');
    expect((error as LedgerError).message.startsWith(`cannot open the ledger ${path}: `)).toBe(true);
  });

  it('refuses a file that is not an SQLite database with STORAGE_DAMAGED', () => {
    const path = ledgerPath();
    writeFileSync(path, 'this is not a database\n'.repeat(200));
    const error = syncError(() => openSqliteLedgerFile(path));
    expect(error).toBeInstanceOf(StorageError);
    expect((error as StorageError).code).toBe('STORAGE_DAMAGED');
    expect((error as StorageError).message).toContain(`the ledger ${path} is not an SQLite database`);
  });

  it('refuses a ledger whose tables do not match this version (a column missing) with LEDGER_UNUSABLE, not a raw SQLite error', async () => {
    const path = ledgerPath();
    await withLedger(path, async () => undefined);
    // As a ledger written before the records table gained a column, with the same schema number.
    query(path, (db) => db.exec('ALTER TABLE records DROP COLUMN rule'));
    const error = syncError(() => openSqliteLedgerFile(path));
    expect(error).toBeInstanceOf(LedgerError);
    expect((error as LedgerError).code).toBe('LEDGER_UNUSABLE');
    expect((error as LedgerError).message).toContain(path);
  });
});
