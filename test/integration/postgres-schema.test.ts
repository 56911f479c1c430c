/**
 * Creating the PostgreSQL ledger's schema (postgres-schema.ts): a new ledger is created by one
 * message, all or nothing, and an opener that loses the race to create it uses the winner's. Each
 * test has a schema of its own.
 */
import { randomBytes } from 'node:crypto';
import { afterEach, expect, it, vi } from 'vitest';
import { LedgerError } from '../../src/errors.js';
import { resolveLeaseOptions } from '../../src/ledger/lease.js';
import type { Ledger } from '../../src/ledger/ledger.js';
import { openLedger } from '../../src/ledger/open-ledger.js';
import { loadPg } from '../../src/ledger/postgres/load-pg.js';
import { describePg, freshSchema, PG_URL, pgPool } from '../helpers/pg-schema.js';

const LEASE = resolveLeaseOptions({ expireMs: 600_000, renewEveryMs: 200_000 });
const opened: Ledger[] = [];
const pool = pgPool();

afterEach(async () => {
  for (const ledger of opened.splice(0)) await ledger.close().catch(() => {});
});

function open(pgSchema: string, job = 'schema-test', url = PG_URL): Ledger {
  const { ledger } = openLedger(url, { job, pgSchema, lease: LEASE });
  opened.push(ledger);
  return ledger;
}

/** The statements `work` sends, by their first words. */
async function statementsOf(work: () => Promise<unknown>): Promise<string[]> {
  const spy = vi.spyOn(loadPg('test').pg.Client.prototype, 'query');
  try {
    await work();
    return spy.mock.calls.map(([config]) => {
      const text = typeof config === 'string' ? config : (config as { text: string }).text;
      return text.trim().split(/\s+/).slice(0, 2).join(' ');
    });
  } finally {
    spy.mockRestore();
  }
}

/** The ledger's tables in `schema` (raw SQL on purpose: what is in the database, whatever the ledger says). */
async function tablesIn(schema: string): Promise<string[]> {
  const { rows } = await pool.query<{ name: string }>('SELECT tablename AS name FROM pg_tables WHERE schemaname = $1 ORDER BY 1', [schema]);
  return rows.map((row) => row.name);
}

describePg('PostgreSQL ledger schema creation', () => {
  it("creates a new ledger with the job's rows in one message", async () => {
    const s = freshSchema('bg_schema');
    const ledger = open(s);
    const sent = await statementsOf(() => ledger.counts());
    // Whether the ledger exists; the creation; the counts asked for.
    expect(sent).toEqual(['SELECT to_regclass($1)', "SELECT pg_advisory_xact_lock(hashtextextended('batchguard", 'SELECT (SELECT']);
    expect(await tablesIn(s)).toContain('steps');
    const { rows } = await pool.query(
      `SELECT (SELECT version FROM "${s}".schema_version) AS version, (SELECT COUNT(*)::int FROM "${s}".lease) AS leases`,
    );
    expect(rows[0]).toEqual({ version: 2, leases: 1 });
  });

  it('keeps a job name that quoting would break, exactly, when it creates the ledger with it', async () => {
    const s = freshSchema('bg_schema');
    const name = "o'brien \\'; DROP TABLE x; -- \\x41 ✓ 日本";
    await open(s, name).counts();
    expect((await pool.query(`SELECT name FROM "${s}".jobs`)).rows).toEqual([{ name }]);
    // The next open finds the same job, not a new one.
    await open(s, name).counts();
    expect((await pool.query(`SELECT COUNT(*)::int AS n FROM "${s}".jobs`)).rows[0]).toEqual({ n: 1 });
  });

  it('opens an existing ledger without creating anything', async () => {
    const s = freshSchema('bg_schema');
    await open(s).counts();
    const sent = await statementsOf(() => open(s).counts());
    expect(sent).toEqual(['SELECT to_regclass($1)', 'SELECT version', 'WITH created', 'SELECT COUNT(*)::int', 'SELECT (SELECT']);
  });

  it('a creation that fails leaves nothing made, and a later open creates the ledger', async () => {
    const s = freshSchema('bg_schema');
    // Raw SQL on purpose: a table of the user's in the way of the ledger's last table.
    await pool.query(`CREATE SCHEMA "${s}"; CREATE TABLE "${s}".steps (id int)`);
    const error = await open(s)
      .counts()
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(error).toBeInstanceOf(LedgerError);
    expect((error as Error).message).toContain('relation "steps" already exists');
    expect(await tablesIn(s)).toEqual(['steps']);
    await pool.query(`DROP TABLE "${s}".steps`);
    expect((await open(s).counts()).total).toBe(0);
    expect(await tablesIn(s)).toContain('schema_version');
  });

  it('an opener that found no ledger, which another created before its own creation ran, uses that one', async () => {
    const s = freshSchema('bg_schema');
    await open(s, 'job-a').counts();
    // As if this opener had asked whether the ledger exists just before the other created it.
    const client = loadPg('test').pg.Client.prototype;
    const original = client.query;
    const spy = vi.spyOn(client, 'query').mockImplementation(function (this: typeof client, ...args: unknown[]) {
      const text = typeof args[0] === 'string' ? args[0] : (args[0] as { text: string }).text;
      if (!text.includes('to_regclass')) return (original as (...a: unknown[]) => unknown).apply(this, args) as never;
      const result = { rows: [{ present: false }], rowCount: 1 };
      const callback = args.find((arg) => typeof arg === 'function') as ((e: null, r: unknown) => void) | undefined;
      if (callback) return callback(null, result) as never;
      return Promise.resolve(result) as never;
    });
    try {
      expect((await open(s, 'job-b').counts()).total).toBe(0);
    } finally {
      spy.mockRestore();
    }
    const { rows } = await pool.query(`SELECT name FROM "${s}".jobs j JOIN "${s}".lease USING (job_id) ORDER BY name`);
    expect(rows).toEqual([{ name: 'job-a' }, { name: 'job-b' }]);
  });

  it('a user with no right to create schemas uses a schema made for it: creates the ledger in it, and upgrades it', async () => {
    const s = freshSchema('bg_schema');
    // Raw SQL on purpose: a role and a schema an administrator made, as docs/postgres.md's "Setup" says.
    const role = `bg_role_${randomBytes(5).toString('hex')}`;
    await pool.query(`CREATE ROLE ${role} LOGIN; CREATE SCHEMA "${s}"; GRANT USAGE, CREATE ON SCHEMA "${s}" TO ${role}`);
    try {
      const url = PG_URL.replace('://postgres@', `://${role}@`);
      const { rows } = await pool.query(`SELECT has_database_privilege($1, current_database(), 'CREATE') AS may`, [role]);
      expect(rows[0]).toEqual({ may: false });
      const first = open(s, 'schema-test', url);
      expect((await first.counts()).total).toBe(0);
      await first.close();
      // A ledger of version 1, to be upgraded.
      await pool.query(`DROP TABLE "${s}".steps; UPDATE "${s}".schema_version SET version = 1`);
      const second = open(s, 'schema-test', url);
      expect((await second.counts()).total).toBe(0);
      await second.close();
      expect(await tablesIn(s)).toContain('steps');
    } finally {
      await pool.query(`DROP SCHEMA IF EXISTS "${s}" CASCADE; DROP ROLE ${role}`);
    }
  });
});
