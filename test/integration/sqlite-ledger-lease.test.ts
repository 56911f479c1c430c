// The SQLite backend's lease row: raw SQL here reads it, or forges another host's or an older layout's, on purpose.
import { spawn } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LedgerError } from '../../src/errors.js';
import type { CommitBatch, RunStart } from '../../src/ledger/ledger.js';
import { resolveLeaseOptions } from '../../src/ledger/lease.js';
import { openSqliteLedgerFile } from '../../src/ledger/sqlite/open-sqlite-ledger.js';
import type { SqliteLedger } from '../../src/ledger/sqlite/sqlite-ledger.js';
import { withDatabase as query } from '../helpers/ledger.js';
import { tempDir } from '../helpers/temp.js';

// Short leases keep these tests quick; nothing here depends on how fast the machine is, only on
// the order of events (a renewal is seen or not before the expiry).
const LEASE = resolveLeaseOptions({ expireMs: 900, renewEveryMs: 150 });

function start(runId: string, overrides: Partial<RunStart> = {}): RunStart {
  return { runId, job: 'lease-test', fingerprint: undefined, acceptDrift: false, options: {}, ...overrides };
}

function batch(runId: string, overrides: Partial<CommitBatch> = {}): CommitBatch {
  return { runId, succeeded: [], rows: [], watermark: { seq: 0 }, seen: 0, exhausted: false, ...overrides };
}

function open(path: string): SqliteLedger {
  return openSqliteLedgerFile(path, { lease: LEASE });
}

async function rejection(promise: Promise<unknown>): Promise<LedgerError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(LedgerError);
    return error as LedgerError;
  }
  throw new Error('expected a rejection');
}

function leaseRow(path: string): Record<string, unknown> | undefined {
  return query(path, (db) => db.prepare('SELECT * FROM lease').get() as Record<string, unknown> | undefined);
}

describe('SQLite ledger lease', () => {
  it('refuses a second run while the holder renews its lease, saying when it expires and what to do', async () => {
    const path = join(tempDir(), 'l.sqlite');
    const first = open(path);
    const second = open(path);
    try {
      await first.begin(start('holder-run'));
      const error = await rejection(second.begin(start('intruder-run')));
      expect(error.code).toBe('LEDGER_LOCKED');
      expect(error.message).toContain(`held by run holder-run (pid ${process.pid} on ${hostname()}`);
      expect(error.message).toMatch(/Its lease expires at \d{4}-\d\d-\d\dT[\d:.]+Z \(in \d+ s\) unless renewed again/);
      expect(error.message).toContain('--take-over');
      expect(error.message).not.toContain('wait for it');
      expect(await second.holder()).toMatchObject({ runId: 'holder-run', pid: process.pid, host: hostname(), token: 1 });
      // The refused run left no trace.
      expect((await second.runs(10)).map((r) => r.runId)).toEqual(['holder-run']);
      await first.finish('holder-run', 'completed', {});
      expect(await second.holder()).toBeUndefined();
      await expect(second.begin(start('next-run'))).resolves.toMatchObject({ crashedRunId: undefined });
      expect(await second.holder()).toMatchObject({ runId: 'next-run', token: 2 });
    } finally {
      await first.close();
      await second.close();
    }
  });

  it('takes over a lease from another host once it has expired, whatever its pid says, and marks that run crashed', async () => {
    const path = join(tempDir(), 'l.sqlite');
    const crashed = open(path);
    await crashed.begin(start('crashed-run'));
    await crashed.commit(batch('crashed-run', { succeeded: [{ first: 0, last: 2 }], watermark: { seq: 3 }, seen: 4 }));
    // A crash: the heartbeat stops, nothing is released. The pid is this live process (as PID 1
    // is in every container), the host another: a pid check would call the holder alive for ever.
    await crashed.close();
    query(path, (db) => db.prepare("UPDATE lease SET host = 'another-host', pid = ?").run(process.pid));
    const expiresAt = Number(leaseRow(path)?.expires_at);
    const next = open(path);
    try {
      const resume = await next.begin(start('next-run'));
      // Nothing on this host can prove a holder elsewhere dead: the expiry decides.
      expect(Date.now()).toBeGreaterThanOrEqual(expiresAt);
      expect(resume.crashedRunId).toBe('crashed-run');
      expect(resume.watermark).toEqual({ seq: 3 });
      expect((await next.runs(10)).map((r) => [r.runId, r.status])).toEqual([
        ['next-run', 'running'],
        ['crashed-run', 'crashed'],
      ]);
      expect(await next.holder()).toMatchObject({ runId: 'next-run', token: 2 });
    } finally {
      await next.close();
    }
  });

  it("reports a lease's holder as gone only when it is on this host and its process lock exists and is free; a reader creates no lock", async () => {
    const path = join(tempDir(), 'l.sqlite');
    const holder = open(path);
    const reader = openSqliteLedgerFile(path, { lease: LEASE, readOnly: true });
    try {
      await holder.begin(start('holder-run'));
      expect(await reader.holder()).not.toHaveProperty('gone');
      // A crash: the lock goes with the process, the lease stays in force.
      await holder.close();
      expect(await reader.holder()).toMatchObject({ runId: 'holder-run', gone: true });
      query(path, (db) => db.prepare("UPDATE lease SET host = 'another-host'").run());
      expect(await reader.holder()).not.toHaveProperty('gone');
      query(path, (db) => db.prepare('UPDATE lease SET host = ?').run(hostname()));
      rmSync(`${path}.lock`);
      expect(await reader.holder()).not.toHaveProperty('gone');
      expect(existsSync(`${path}.lock`)).toBe(false);
    } finally {
      await reader.close();
    }
  });

  it('takes over at once the lease of a process on this host that was killed (its process lock is gone), without waiting for the expiry', async () => {
    const path = join(tempDir(), 'l.sqlite');
    const dist = resolve(import.meta.dirname, '../../dist/ledger/sqlite/open-sqlite-ledger.js');
    const script = `
      import { openSqliteLedgerFile } from ${JSON.stringify(dist)};
      const ledger = openSqliteLedgerFile(${JSON.stringify(path)}, { lease: { expireMs: 600000, renewEveryMs: 1000 } });
      await ledger.begin({ runId: 'killed-run', job: 'lease-test', fingerprint: undefined, acceptDrift: false, options: {} });
      process.stdout.write('ready');
      setInterval(() => {}, 1000);
    `;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((ready, failed) => {
      child.stdout.on('data', () => ready());
      child.on('exit', (code) => failed(new Error(`the holder exited with ${code} before taking the lease`)));
    });
    const open10Min = openSqliteLedgerFile(path, { lease: resolveLeaseOptions({ expireMs: 600_000 }) });
    try {
      child.kill('SIGKILL');
      await new Promise((done) => child.on('exit', done));
      const expiresAt = Number(leaseRow(path)?.expires_at);
      const resume = await open10Min.begin(start('next-run'));
      expect(Date.now()).toBeLessThan(expiresAt);
      expect(resume.crashedRunId).toBe('killed-run');
    } finally {
      await open10Min.close();
    }
  });

  it('a holder whose lease was taken over writes nothing more: commit, crash notes, output check and finish all refuse', async () => {
    const path = join(tempDir(), 'l.sqlite');
    const stale = open(path);
    const taker = open(path);
    try {
      await stale.begin(start('stale-run'));
      await stale.commit(batch('stale-run', { succeeded: [{ first: 0, last: 9 }], watermark: { seq: 10 }, seen: 10 }));
      await taker.begin(start('taker-run', { takeOver: true }));
      expect(leaseRow(path)).toMatchObject({ run_id: 'taker-run', token: 2 });

      const lost = await rejection(
        stale.commit(batch('stale-run', { succeeded: [{ first: 10, last: 19 }], watermark: { seq: 20 }, seen: 20 })),
      );
      expect(lost.code).toBe('LEDGER_LEASE_LOST');
      expect(lost.message).toContain('this run (stale-run, token 1) lost its lease');
      expect(lost.message).toContain('it is now held by run taker-run');
      expect(lost.message).toContain('stopped without writing anything more');
      expect((await rejection(stale.assertHeld())).code).toBe('LEDGER_LEASE_LOST');
      expect((await rejection((async () => stale.noteInFlight({ started: [500], ahead: [], group: false }))())).code).toBe(
        'LEDGER_LEASE_LOST',
      );
      expect((await rejection(stale.finish('stale-run', 'completed', {}))).code).toBe('LEDGER_LEASE_LOST');

      const counts = await taker.counts();
      expect(counts.succeeded).toBe(10);
      expect(query(path, (db) => db.prepare("SELECT value FROM meta WHERE key = 'watermark'").pluck().get())).toBe('{"seq":10}');
      expect(query(path, (db) => db.prepare("SELECT value FROM meta WHERE key = 'in_flight'").pluck().get())).toBeUndefined();
      expect((await taker.runs(10)).map((r) => [r.runId, r.status])).toEqual([
        ['taker-run', 'running'],
        ['stale-run', 'crashed'],
      ]);
      expect(await taker.holder()).toMatchObject({ runId: 'taker-run' });
    } finally {
      await stale.close();
      await taker.close();
    }
  });

  it('renews the lease while the run works, so a lease older than its expiry stays held', async () => {
    const path = join(tempDir(), 'l.sqlite');
    const holder = open(path);
    try {
      await holder.begin(start('long-run'));
      const first = Number(leaseRow(path)?.expires_at);
      await new Promise((resolve) => setTimeout(resolve, LEASE.expireMs * 2));
      expect(Number(leaseRow(path)?.expires_at)).toBeGreaterThan(first + LEASE.expireMs);
      await expect(
        holder.commit(batch('long-run', { succeeded: [{ first: 0, last: 0 }], watermark: { seq: 1 }, seen: 1 })),
      ).resolves.toBeUndefined();
    } finally {
      await holder.close();
    }
  });

  it('replaces the lease table of an older ledger (pid and host, no token)', async () => {
    const path = join(tempDir(), 'l.sqlite');
    const ledger = open(path);
    await ledger.close();
    query(path, (db) => {
      db.exec('DROP TABLE lease');
      db.exec(
        'CREATE TABLE lease (id INTEGER PRIMARY KEY CHECK (id = 1), run_id TEXT NOT NULL, pid INTEGER NOT NULL, host TEXT NOT NULL, acquired_at TEXT NOT NULL)',
      );
      db.prepare("INSERT INTO lease VALUES (1, 'old-run', 1, 'old-host', '2025-01-01T00:00:00.000Z')").run();
    });
    const reopened = open(path);
    try {
      await expect(reopened.begin(start('new-run'))).resolves.toBeDefined();
      expect(leaseRow(path)).toMatchObject({ run_id: 'new-run', token: 1 });
    } finally {
      await reopened.close();
    }
  });
});
