import { appendFileSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock.js';
import { runJob } from '../../src/engine/run-job.js';
import { SourceError } from '../../src/errors.js';
import { defineJob } from '../../src/job.js';
import { openLedger } from '../../src/ledger/open-ledger.js';
import { csv } from '../../src/sources/csv.js';
import { jsonl } from '../../src/sources/jsonl.js';
import type { Source, SourcePosition } from '../../src/sources/source.js';
import { drive } from '../helpers/drive.js';
import { storedRows } from '../helpers/stored.js';
import { tempDir } from '../helpers/temp.js';

interface Row {
  id: string | number;
}

/** Wraps a source to record the `from` of every read. */
function recording<T>(inner: Source<T>): Source<T> & { froms: (SourcePosition | undefined)[] } {
  const froms: (SourcePosition | undefined)[] = [];
  return {
    froms,
    description: inner.description,
    seekable: inner.seekable,
    fingerprint: () => inner.fingerprint(),
    read: (from, signal) => {
      froms.push(from);
      return inner.read(from, signal);
    },
  };
}

const jsonlLine = (i: number): string => JSON.stringify({ id: i, name: `record-${i}` });

describe('engine over real files', () => {
  it('records an invalid JSON line as invalid, keyed @line:N with its line, and skips a blank line', async () => {
    const dir = tempDir();
    const file = join(dir, 'in.jsonl');
    const lines = [jsonlLine(1), '{"id": 2, oops', '', jsonlLine(4), '   ', jsonlLine(6)];
    writeFileSync(file, `${lines.join('\n')}\n`);
    const ledger = join(dir, 'l.sqlite');
    const seen: string[] = [];
    const job = defineJob<Row>({
      name: 'jsonl-invalid',
      source: jsonl<Row>(file),
      key: (r) => String(r.id),
      maxFailureRate: 1,
      handler: (r, ctx) => {
        seen.push(`${ctx.key}@${ctx.position.line}`);
        return r.id;
      },
    });
    const clock = new ManualClock();
    const summary = await drive(runJob(job, { ledger, clock }), clock);
    expect(seen).toEqual(['1@1', '4@4', '6@6']);
    // Blank lines are not items: 4 items, seq 0..3.
    expect(summary).toMatchObject({ total: 4, succeeded: 3, failed: 1, pending: 0, attempts: 3, sourceExhausted: true });
    const rows = await storedRows(ledger);
    expect(rows.map(({ seq, key, status, kind, line, offset }) => ({ seq, key, status, kind, line, offset }))).toEqual([
      { seq: 1, key: '@line:2', status: 'failed', kind: 'invalid', line: 2, offset: Buffer.byteLength(`${lines[0]}\n`) },
    ]);
    expect(rows[0]?.error?.name).toBe('InvalidRecord');
    expect(rows[0]?.error?.message.startsWith('line 2: invalid JSON: ')).toBe(true);
    expect(summary.topErrors).toHaveLength(1);
    expect(summary.topErrors[0]).toMatchObject({ name: 'InvalidRecord', count: 1, sampleKeys: ['@line:2'] });
  });

  it('records a malformed CSV row as invalid, keyed @line:N with its line', async () => {
    const dir = tempDir();
    const file = join(dir, 'in.csv');
    writeFileSync(file, 'id,name\n1,one\n2\n3,three\n4,"four, quoted"\n');
    const ledger = join(dir, 'l.sqlite');
    const seen: string[] = [];
    const job = defineJob<{ id: string; name: string }>({
      name: 'csv-invalid',
      source: csv<{ id: string; name: string }>(file),
      key: (r) => r.id,
      maxFailureRate: 1,
      handler: (r, ctx) => {
        seen.push(`${r.id}:${r.name}@${ctx.position.line}`);
      },
    });
    const clock = new ManualClock();
    const summary = await drive(runJob(job, { ledger, clock }), clock);
    expect(seen).toEqual(['1:one@2', '3:three@4', '4:four, quoted@5']);
    expect(summary).toMatchObject({ total: 4, succeeded: 3, failed: 1, pending: 0 });
    const rows = await storedRows(ledger);
    expect(rows.map(({ seq, key, kind, line, offset }) => ({ seq, key, kind, line, offset }))).toEqual([
      { seq: 1, key: '@line:3', kind: 'invalid', line: 3, offset: Buffer.byteLength('id,name\n1,one\n') },
    ]);
    expect(rows[0]?.error?.message.startsWith('line 3: ')).toBe(true);
  });

  const formats = [
    {
      kind: 'jsonl',
      write: (file: string, from: number, to: number, append = false) => {
        const text = Array.from({ length: to - from }, (_, i) => `${jsonlLine(from + i)}\n`).join('');
        if (append) appendFileSync(file, text);
        else writeFileSync(file, text);
      },
      source: (file: string): Source<Row> => jsonl<Row>(file),
    },
    {
      kind: 'csv',
      write: (file: string, from: number, to: number, append = false) => {
        const text = Array.from({ length: to - from }, (_, i) => `${from + i},record-${from + i}\n`).join('');
        if (append) appendFileSync(file, text);
        else writeFileSync(file, `id,name\n${text}`);
      },
      source: (file: string): Source<Row> => csv<Row>(file) as Source<Row>,
    },
  ] as const;

  for (const format of formats) {
    describe(`${format.kind} resume`, () => {
      it('seeks on resume after a stop mid-file, and never hands a record to the handler twice', async () => {
        const dir = tempDir();
        const file = join(dir, `in.${format.kind}`);
        format.write(file, 0, 60);
        const ledger = join(dir, 'l.sqlite');
        const source = recording(format.source(file));
        const calls: string[] = [];
        const controller = new AbortController();
        const job = defineJob<Row>({
          name: `resume-${format.kind}`,
          source,
          key: (r) => String(r.id),
          concurrency: 3,
          checkpoint: { everyRecords: 7, everyMs: 60_000 },
          handler: async (r) => {
            calls.push(String(r.id));
            if (String(r.id) === '25') controller.abort('test stop');
          },
        });
        const clock = new ManualClock();
        const first = await drive(runJob(job, { ledger, clock, signal: controller.signal }), clock);
        expect(first.status).toBe('interrupted');
        expect(first.pending).toBe(0);
        expect(first.succeeded).toBe(calls.length);
        expect(source.froms).toEqual([undefined]);

        const second = await drive(runJob(job, { ledger, clock }), clock);
        expect(source.froms).toHaveLength(2);
        const from = source.froms[1] as SourcePosition;
        expect(from.seq).toBeGreaterThan(0);
        expect(from.offset).toBeGreaterThan(0);
        expect(from.seq).toBeLessThanOrEqual(26);
        expect(second).toMatchObject({
          status: 'completed',
          total: 60,
          succeeded: 60,
          failed: 0,
          pending: 0,
          alreadyDone: first.succeeded,
        });
        expect(calls).toHaveLength(60);
        expect(new Set(calls).size).toBe(60);
      });

      it('refuses to resume over a changed file with SOURCE_DRIFT, processing nothing; acceptDrift proceeds', async () => {
        const dir = tempDir();
        const file = join(dir, `in.${format.kind}`);
        format.write(file, 0, 30);
        const ledger = join(dir, 'l.sqlite');
        const calls: string[] = [];
        const controller = new AbortController();
        const job = defineJob<Row>({
          name: `drift-${format.kind}`,
          source: format.source(file),
          key: (r) => String(r.id),
          concurrency: 2,
          handler: async (r) => {
            calls.push(String(r.id));
            if (String(r.id) === '10') controller.abort('test stop');
          },
        });
        const clock = new ManualClock();
        const first = await drive(runJob(job, { ledger, clock, signal: controller.signal }), clock);
        expect(first.status).toBe('interrupted');
        const callsAfterFirst = calls.length;

        const sizeBefore = statSync(file).size;
        // The first five records deleted, ten appended.
        format.write(file, 5, 40);
        const sizeAfter = statSync(file).size;
        let error: unknown;
        try {
          await drive(runJob(job, { ledger, clock }), clock);
        } catch (caught) {
          error = caught;
        }
        expect(error).toBeInstanceOf(SourceError);
        expect((error as SourceError).code).toBe('SOURCE_DRIFT');
        expect((error as SourceError).message).toContain(
          `the source changed since the ledger last read it (size ${sizeBefore} → ${sizeAfter} bytes; its first 64 KiB differ`,
        );
        expect(calls).toHaveLength(callsAfterFirst);
        const check = openLedger(ledger).ledger;
        expect(await check.counts()).toMatchObject({ succeeded: first.succeeded, failed: 0, total: first.total });
        expect((await check.runs(10)).map((r) => r.status)).toEqual(['interrupted']);
        expect(await check.holder()).toBeUndefined();
        await check.close();

        const accepted = await drive(runJob(job, { ledger, clock, acceptDrift: true }), clock);
        expect(accepted).toMatchObject({ status: 'completed', total: 35, succeeded: 35, failed: 0, pending: 0 });
        // Matching by key redoes nothing: every record of the file now ran once, and the deleted ones only before.
        expect(new Set(calls).size).toBe(calls.length);
        for (let id = 5; id < 40; id++) expect(calls).toContain(String(id));
      });

      it('resumes over a file whose modification time alone changed', async () => {
        const dir = tempDir();
        const file = join(dir, `in.${format.kind}`);
        format.write(file, 0, 20);
        const ledger = join(dir, 'l.sqlite');
        const source = recording(format.source(file));
        const calls: string[] = [];
        const controller = new AbortController();
        const job = defineJob<Row>({
          name: `touch-${format.kind}`,
          source,
          key: (r) => String(r.id),
          concurrency: 1,
          handler: async (r) => {
            calls.push(String(r.id));
            if (String(r.id) === '5') controller.abort('test stop');
          },
        });
        const clock = new ManualClock();
        await drive(runJob(job, { ledger, clock, signal: controller.signal }), clock);
        const future = new Date(Date.now() + 3_600_000);
        utimesSync(file, future, future);
        const second = await drive(runJob(job, { ledger, clock }), clock);
        expect(second).toMatchObject({ status: 'completed', total: 20, succeeded: 20 });
        // The pass that checked the keys read from the start; the run itself sought the resume point.
        expect(source.froms).toHaveLength(3);
        expect((source.froms[2] as SourcePosition).offset).toBeGreaterThan(0);
        expect(new Set(calls).size).toBe(20);
        expect(calls).toHaveLength(20);
      });
    });
  }
});
