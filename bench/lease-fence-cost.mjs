/**
 * What fencing adds to a group commit: the lease check before a write outside the ledger
 * (`assertHeld`: the ledger file's identity and the token, in an empty IMMEDIATE transaction),
 * next to the cost of a small commit (which checks the token inside its own transaction).
 *
 *   npm run build && node bench/lease-fence-cost.mjs
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSqliteLedger } from '../dist/sqlite.js';
const path = join(mkdtempSync(join(tmpdir(), 'fence-')), 'l.sqlite');
const ledger = openSqliteLedger(path);
await ledger.begin({ runId: 'r', job: 'j', fingerprint: undefined, acceptDrift: false, options: {} });
const n = 20000;
let t = process.hrtime.bigint();
for (let i = 0; i < n; i++) await ledger.assertHeld();
console.log(`assertHeld: ${(Number(process.hrtime.bigint() - t) / n / 1000).toFixed(1)} µs`);
t = process.hrtime.bigint();
for (let i = 0; i < n; i++)
  await ledger.commit({
    runId: 'r',
    succeeded: [{ first: i, last: i }],
    rows: [],
    watermark: { seq: i + 1 },
    seen: i + 1,
    exhausted: false,
  });
console.log(`commit of one range: ${(Number(process.hrtime.bigint() - t) / n / 1000).toFixed(1)} µs`);
await ledger.close();
