import { describe, expect, it } from 'vitest';
import { ConfigError } from '../errors.js';
import { jsonl } from '../sources/jsonl.js';
import { tempFiles } from '../../test/helpers/temp.js';
import type { Ledger, RecordRow, RowFilter } from '../ledger/ledger.js';
import { planRerunChunks, rerunIdentity } from './rerun-chunk-plan.js';

/** A ledger whose stored rows are `rows`, answering `rows(filter)` as a backend does (status, group, kind). */
function storedRows(rows: readonly Partial<RecordRow>[]): Pick<Ledger, 'rows'> {
  const full = rows.map((row) => ({ status: 'failed', attempts: 1, runId: 'r1', updatedAt: '', ...row }) as RecordRow);
  return {
    async *rows(filter: RowFilter) {
      await Promise.resolve();
      for (const row of full) {
        if (!filter.statuses.includes(row.status)) continue;
        if (filter.fingerprint !== undefined && row.fingerprint !== filter.fingerprint) continue;
        if (filter.kind !== undefined && row.kind !== filter.kind) continue;
        yield row;
      }
    },
  };
}

const failedAt = (seq: number, extra: Partial<RecordRow> = {}): Partial<RecordRow> => ({
  seq,
  key: `k${seq}`,
  line: seq + 1,
  offset: seq * 10,
  kind: 'fatal',
  fingerprint: 'aaa',
  ...extra,
});

const { file } = tempFiles('batchguard-rerun-plan-', '.jsonl');

describe('planRerunChunks', () => {
  it("splits the selected records, in source order, into chunks that each span from their first record to their last, each with its failure's group", async () => {
    const ledger = storedRows([failedAt(20), failedAt(2), failedAt(7), { ...failedAt(9), status: 'succeeded' }, failedAt(8), failedAt(31)]);
    const { plan, keysNotSelected } = await planRerunChunks(ledger, {}, { recordsPerChunk: 2 });
    expect(plan).toEqual({
      total: 5,
      chunks: [
        {
          index: 0,
          from: { seq: 2, line: 3, offset: 20 },
          count: 6,
          selected: [
            { seq: 2, key: 'k2', fingerprint: 'aaa' },
            { seq: 7, key: 'k7', fingerprint: 'aaa' },
          ],
        },
        {
          index: 1,
          from: { seq: 8, line: 9, offset: 80 },
          count: 13,
          selected: [
            { seq: 8, key: 'k8', fingerprint: 'aaa' },
            { seq: 20, key: 'k20', fingerprint: 'aaa' },
          ],
        },
        { index: 2, from: { seq: 31, line: 32, offset: 310 }, count: 1, selected: [{ seq: 31, key: 'k31', fingerprint: 'aaa' }] },
      ],
    });
    expect(keysNotSelected).toEqual([]);
  });

  it('selects as a single rerun does (error group, kind, keys) and says which keys given were not selected', async () => {
    const ledger = storedRows([
      failedAt(1),
      failedAt(2, { fingerprint: 'bbb' }),
      failedAt(3, { kind: 'exhausted' }),
      { ...failedAt(4), status: 'succeeded' },
    ]);
    expect((await planRerunChunks(ledger, { fingerprint: 'bbb' })).plan.chunks.map((c) => c.selected)).toEqual([
      [{ seq: 2, key: 'k2', fingerprint: 'bbb' }],
    ]);
    expect((await planRerunChunks(ledger, { kind: 'exhausted' })).plan.chunks.map((c) => c.selected)).toEqual([
      [{ seq: 3, key: 'k3', fingerprint: 'aaa' }],
    ]);
    const byKeys = await planRerunChunks(ledger, { keys: ['k3', 'k4', 'nowhere', 'k1'] });
    expect(byKeys.plan.chunks.map((c) => c.selected)).toEqual([
      [
        { seq: 1, key: 'k1', fingerprint: 'aaa' },
        { seq: 3, key: 'k3', fingerprint: 'aaa' },
      ],
    ]);
    expect(byKeys.keysNotSelected).toEqual(['k4', 'nowhere']);
  });

  it('plans no chunk when nothing is selected', async () => {
    expect((await planRerunChunks(storedRows([]), {})).plan).toEqual({ total: 0, chunks: [] });
  });

  it('with dependsOn, packs whole components of the selection: a failed parent with the children it blocks, read in stretches', async () => {
    // c waits on p, d on x (both failed, far away); p and y depend on f5, which succeeded: not selected, it joins nothing.
    const ids = ['c', 'x', ...Array.from({ length: 1499 }, (_, i) => `f${i}`), 'p', 'd', 'y'];
    const after: Record<string, string[]> = { c: ['p'], d: ['x'], p: ['f5'], y: ['f5'] };
    const lines = ids.map((id) => JSON.stringify(after[id] ? { id, after: after[id] } : { id }));
    const path = file(`${lines.join('\n')}\n`);
    const offsets = lines.map((_, seq) => lines.slice(0, seq).reduce((sum, line) => sum + line.length + 1, 0));
    const at = (key: string, extra: Partial<RecordRow>): Partial<RecordRow> => {
      const seq = ids.indexOf(key);
      return { seq, key, line: seq + 1, offset: offsets[seq], ...extra };
    };
    const ledger = storedRows([
      at('c', { status: 'skipped', blockedBy: ['p'] }),
      at('x', { kind: 'fatal' }),
      at('p', { kind: 'fatal' }),
      at('d', { status: 'skipped', blockedBy: ['x'] }),
      at('y', { kind: 'fatal' }),
    ]);
    const job = {
      source: jsonl<{ id: string; after?: string[] }>(path),
      key: (r: { id: string }) => r.id,
      dependsOn: (r: { after?: string[] }) => r.after ?? [],
    };
    const stretch = (key: string) => {
      const { seq, line, offset } = at(key, {});
      return { from: { seq, line, offset }, count: 1 };
    };
    const { plan } = await planRerunChunks(ledger, {}, { recordsPerChunk: 1, job });
    expect(plan).toEqual({
      total: 5,
      chunks: [
        {
          index: 0,
          from: stretch('c').from,
          count: 1502,
          selected: [
            { seq: 0, key: 'c' },
            { seq: 1501, key: 'p' },
          ],
          segments: [stretch('c'), stretch('p')],
        },
        {
          index: 1,
          from: stretch('x').from,
          count: 1502,
          selected: [
            { seq: 1, key: 'x' },
            { seq: 1502, key: 'd' },
          ],
          segments: [stretch('x'), stretch('d')],
        },
        { index: 2, from: stretch('y').from, count: 1, selected: [{ seq: 1503, key: 'y' }] },
      ],
    });
    // Slices of the selection, as for a job without dependsOn, part them.
    const sliced = await planRerunChunks(ledger, {}, { recordsPerChunk: 2 });
    expect(sliced.plan.chunks.map((c) => c.selected?.map((r) => r.key))).toEqual([['c', 'x'], ['p', 'd'], ['y']]);
  });

  it('refuses a selected record without a stored position to seek to', async () => {
    const planning = planRerunChunks(storedRows([failedAt(4, { offset: undefined })]), {});
    await expect(planning).rejects.toThrow(ConfigError);
    await expect(planning).rejects.toThrow(
      'record "k4" has no stored position to start reading at, so workers cannot share its rerun; rerun without --worker',
    );
  });
});

describe('rerunIdentity', () => {
  it('names the selection; the same keys in another order, or repeated, are the same rerun', () => {
    expect(rerunIdentity({})).toBe('--failed');
    expect(rerunIdentity({ fingerprint: 'ae183d71d53a', kind: 'fatal' })).toBe('--failed --error ae183d71d53a --kind fatal');
    const keys = rerunIdentity({ keys: ['b', 'a', 'c'] });
    expect(keys).toMatch(/^--failed --keys sha256:[0-9a-f]{16} \(3 keys\)$/);
    expect(rerunIdentity({ keys: ['c', 'a', 'b', 'a'] })).toBe(keys);
    expect(rerunIdentity({ keys: ['a', 'b'] })).not.toBe(keys);
  });
});
