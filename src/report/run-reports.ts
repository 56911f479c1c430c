/**
 * Each run leaves `summary.json` and `failures.jsonl` in the folder its ledger names for it
 * (`<ledger>.runs/<run id>/` beside a SQLite ledger file): the record of that run, readable without
 * batchguard. The memory ledger names none, and no report files are written.
 */
import { createWriteStream, mkdirSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import { join } from 'node:path';
import type { Ledger } from '../ledger/ledger.js';
import { toFailureLine } from './failure-line.js';
import type { RunReportPaths, Summary } from './summary.js';

/** Writes the run's reports; a report that cannot be written must not lose the run, so errors are returned as undefined. */
export async function writeRunReports(ledger: Ledger, summary: Summary): Promise<RunReportPaths | undefined> {
  const dir = ledger.reportFolder(summary.runId);
  if (dir === undefined) return undefined;
  try {
    // Private, as the ledger: reports hold keys and error messages.
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const paths = { summary: join(dir, 'summary.json'), failures: join(dir, 'failures.jsonl') };
    const out = createWriteStream(paths.failures, { mode: 0o600 });
    for await (const row of ledger.rows({ statuses: ['failed', 'skipped'], runId: summary.runId })) {
      if (!out.write(`${JSON.stringify(toFailureLine(row))}\n`)) await once(out, 'drain');
    }
    out.end();
    await once(out, 'finish');
    writeFileSync(paths.summary, `${JSON.stringify({ ...summary, reports: paths }, null, 2)}\n`, { mode: 0o600 });
    return paths;
  } catch {
    return undefined;
  }
}
