/**
 * Each run leaves `summary.json` and `failures.jsonl` in the folder its ledger names for it
 * (`<ledger>.runs/<run id>/` beside a SQLite ledger file): the record of that run, readable without
 * batchguard. The memory ledger names none, and no report files are written.
 */
import { closeSync, mkdirSync, openSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Ledger, RecordRow, RowFilter } from '../ledger/ledger.js';
import { toFailureLine } from './failure-line.js';
import type { RunReportPaths, Summary } from './summary.js';

/** Failure lines gathered before one write: memory stays bounded whatever the number of failures. */
const CHUNK_CHARS = 256 * 1024;

/** Writes the run's reports; a report that cannot be written must not lose the run, so errors are returned as undefined. */
export async function writeRunReports(ledger: Ledger, summary: Summary): Promise<RunReportPaths | undefined> {
  const dir = ledger.reportFolder(summary.runId);
  if (dir === undefined) return undefined;
  try {
    // Private, as the ledger: reports hold keys and error messages.
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const paths = { summary: join(dir, 'summary.json'), failures: join(dir, 'failures.jsonl') };
    // Written synchronously, as the ledger's own writes are: a write stream's open, writes and close
    // are each a round trip through libuv's thread pool, most of the cost of a run with no failure.
    const fd = openSync(paths.failures, 'w', 0o600);
    try {
      let chunk = '';
      const add = (row: RecordRow): void => {
        chunk += `${JSON.stringify(toFailureLine(row))}\n`;
        if (chunk.length >= CHUNK_CHARS) {
          writeFileSync(fd, chunk);
          chunk = '';
        }
      };
      const filter: RowFilter = { statuses: ['failed', 'skipped'], runId: summary.runId };
      // By pages where the ledger reads them so: a step of async iteration a row cost more than the line.
      if (ledger.rowPages) for await (const page of ledger.rowPages(filter)) for (const row of page) add(row);
      else for await (const row of ledger.rows(filter)) add(row);
      // writeFileSync on a descriptor writes at its position, until every byte is written.
      if (chunk.length > 0) writeFileSync(fd, chunk);
    } finally {
      closeSync(fd);
    }
    writeFileSync(paths.summary, `${JSON.stringify({ ...summary, reports: paths }, null, 2)}\n`, { mode: 0o600 });
    return paths;
  } catch {
    return undefined;
  }
}
