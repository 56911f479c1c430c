/**
 * A crash note is durable before the attempts it covers start, with every ledger: a record released
 * from a wait (here its dependency) starts outside the note in force, so a new note must name it
 * first. Its handler kills the process at once (SIGKILL, nothing runs after it); the next run must
 * find the record among its crash suspects. The SQLite ledger writes the note before the attempt
 * starts; the PostgreSQL ledger's note is a round trip, which the attempt must wait for.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { openLedger } from '../../src/ledger/open-ledger.js';
import { runCli, writeJsonl } from '../helpers/cli.js';
import { describePg, freshSchema, pgPool, PG_URL } from '../helpers/pg-schema.js';
import { tempDir } from '../helpers/temp.js';

const RECORDS = 1500;
/** The record that kills the process, and the later record it waits for (well past the first note's reach). */
const CRASHER = 0;
const DEPENDENCY = 1200;

function writeJob(dir: string): void {
  writeJsonl(dir, 'records.jsonl', RECORDS);
  writeFileSync(
    join(dir, 'job.mjs'),
    `
import { defineJob, jsonl } from 'batchguard';
export default defineJob({
  name: 'durable-note',
  source: jsonl(${JSON.stringify(join(dir, 'records.jsonl'))}),
  key: (r) => String(r.id),
  dependsOn: (r) => (r.id === ${CRASHER} ? ['${DEPENDENCY}'] : []),
  concurrency: 4,
  handler: async (r) => {
    if (r.id === ${CRASHER}) process.kill(process.pid, 'SIGKILL');
  },
});
`,
  );
}

describePg('the crash note of a record released from a wait (real process)', () => {
  pgPool();

  for (const backend of ['sqlite', 'postgres'] as const) {
    it(`makes it a suspect of the next run when its handler kills the process at once (${backend})`, async () => {
      const dir = tempDir();
      writeJob(dir);
      const schema = freshSchema('bg_e2e_note');
      const location = backend === 'postgres' ? PG_URL : join(dir, 'ledger.sqlite');
      // One process: a job with dependsOn over PostgreSQL would otherwise join as a worker, and workers
      // keep no crash notes (docs/workers.md).
      const died = await runCli(['run', 'job.mjs', '--ledger', location, '--pg-schema', schema, '--json', '--no-progress', '--no-worker'], {
        cwd: dir,
      });
      expect(died.signal).toBe('SIGKILL');

      const { ledger } = openLedger(location, { job: 'durable-note', pgSchema: schema });
      try {
        // The next run's start: the dead run's last note becomes its crash evidence.
        const next = await ledger.begin({
          runId: 'next',
          job: 'durable-note',
          fingerprint: undefined,
          acceptDrift: true,
          options: {},
          takeOver: true,
        });
        expect(next.crashedRunId).toBeDefined();
        expect([...next.crashes.suspects.keys()]).toContain(CRASHER);
      } finally {
        await ledger.close();
      }
    }, 60_000);
  }
});
