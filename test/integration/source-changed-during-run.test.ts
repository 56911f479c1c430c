/**
 * A file source changed in place while a run reads it (truncated, or rewritten as `export > file`
 * does: truncated, then written again), with real files: the run does not end "completed" over
 * records half of which came from another file, nor record the cut-off last line as an invalid
 * record. It stops with SOURCE_DRIFT (exit code 2) once it reaches the end, having saved what
 * finished; the next run finds the drift as before. A file that only grew is read to its new end.
 */
import { appendFileSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runJob } from '../../src/engine/run-job.js';
import { SourceError } from '../../src/errors.js';
import { defineJob } from '../../src/job.js';
import { openLedger } from '../../src/ledger/open-ledger.js';
import { csv } from '../../src/sources/csv.js';
import { jsonl } from '../../src/sources/jsonl.js';
import type { Source } from '../../src/sources/source.js';
import { tempDir } from '../helpers/temp.js';

const RECORDS = 40_000;
/** The record whose handler changes the file: the reader is then far from the file's end. */
const CHANGE_AT = 500;

interface Row {
  id: number | string;
}

const jsonlText = (from: number, to: number): string => {
  let text = '';
  for (let id = from; id < to; id++) text += `${JSON.stringify({ id, name: `record-${id}` })}\n`;
  return text;
};
const csvText = (from: number, to: number): string => {
  let text = 'id,name\n';
  for (let id = from; id < to; id++) text += `${id},record-${id}\n`;
  return text;
};

type Format = { kind: string; text: typeof jsonlText; source: (path: string) => Source<Row> };
const FORMATS: Format[] = [
  { kind: 'jsonl', text: jsonlText, source: (path) => jsonl<Row>(path) },
  { kind: 'csv', text: csvText, source: (path) => csv<Row>(path) },
];

/** Runs a job over `text` whose handler calls `change(path)` at record CHANGE_AT; returns the error or summary and the ledger's failures. */
async function runChanging(format: Format, change: (path: string) => void) {
  const dir = tempDir();
  const path = join(dir, `in.${format.kind}`);
  const ledger = join(dir, 'l.sqlite');
  writeFileSync(path, format.text(0, RECORDS));
  const job = defineJob<Row>({
    name: `changed-${format.kind}`,
    source: format.source(path),
    key: (r) => String(r.id),
    concurrency: 2,
    maxFailureRate: 1,
    handler: async (r) => {
      if (Number(r.id) === CHANGE_AT) change(path);
    },
  });
  const outcome = await runJob(job, { ledger }).then(
    (summary) => ({ summary, error: undefined }),
    (error: unknown) => ({ summary: undefined, error }),
  );
  const { ledger: check } = openLedger(ledger, { job: job.name });
  try {
    const counts = await check.counts();
    const groups = await check.topErrors(10, 3);
    return { ...outcome, counts, groups, rerun: () => runJob(job, { ledger }) };
  } finally {
    await check.close();
  }
}

describe.each(FORMATS)('a $kind source changed while the run reads it', (format) => {
  it('truncated in place: the run stops with SOURCE_DRIFT, saves what finished, records no cut-off line', async () => {
    const sizeNow = Buffer.byteLength(format.text(0, RECORDS));
    // Mid-line, and well past where the reader is when record CHANGE_AT runs.
    const r = await runChanging(format, (path) => truncateSync(path, Math.floor(sizeNow * 0.6) + 3));
    expect(r.summary).toBeUndefined();
    expect(r.error).toBeInstanceOf(SourceError);
    expect((r.error as SourceError).code).toBe('SOURCE_DRIFT');
    expect((r.error as Error).message).toMatch(/changed while this run read it: it shrank from \d+ to \d+ bytes/);
    expect(r.counts.succeeded).toBeGreaterThan(CHANGE_AT);
    expect(r.counts.failed).toBe(0);
    expect(r.groups).toEqual([]);
    // The next run finds the drift, as it did.
    await expect(r.rerun()).rejects.toMatchObject({ code: 'SOURCE_DRIFT' });
  });

  it('rewritten in place with other records: the run stops with SOURCE_DRIFT instead of ending completed', async () => {
    // What `export > file` does: truncate, then write; the new file is longer, so the reader reads
    // on into it from its old offset without ever meeting the end early.
    const r = await runChanging(format, (path) => writeFileSync(path, format.text(1_000_000, 1_000_000 + RECORDS + 100)));
    expect(r.summary).toBeUndefined();
    expect((r.error as SourceError).code).toBe('SOURCE_DRIFT');
    expect((r.error as Error).message).toMatch(/changed while this run read it: its first \d+ bytes are not the ones it started with/);
  });

  it('appended to: the run reads the new records to the new end and completes', async () => {
    const r = await runChanging(format, (path) => appendFileSync(path, format.text(RECORDS, RECORDS + 100).replace(/^id,name\n/, '')));
    expect(r.error).toBeUndefined();
    expect(r.summary).toMatchObject({ status: 'completed', total: RECORDS + 100, failed: 0 });
  });
});
