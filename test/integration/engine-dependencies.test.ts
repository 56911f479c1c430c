/**
 * Dependencies through the whole engine on a real SQLite ledger, with a ManualClock: records wait
 * for what they depend on, failures block their descendants (with the chain that blocked them),
 * cycles and missing keys are reported, and `rerun` unblocks what a fixed handler lets through.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock.js';
import { ConfigError, FatalError } from '../../src/errors.js';
import { defineJob, type Handler, type JobOptions } from '../../src/job.js';
import type { LedgerCounts, RecordRow } from '../../src/ledger/ledger.js';
import { openLedger } from '../../src/ledger/open-ledger.js';
import { runJob } from '../../src/engine/run-job.js';
import type { RunOptions } from '../../src/engine/run-options.js';
import type { Summary } from '../../src/report/summary.js';
import { drive } from '../helpers/drive.js';
import { tempDir, tempFiles } from '../helpers/temp.js';
import { csv } from '../../src/sources/csv.js';
import { jsonl } from '../../src/sources/jsonl.js';
import { mapRecords } from '../helpers/sources.js';

interface Node {
  id: string;
  deps?: string[];
  /** The (unfixed) handler fails this record fatally. */
  fail?: boolean;
}

/**
 * Every test runs three times: over an iterable, whose waiting records are held whole, and over a
 * JSONL and a CSV file, whose waiting records are stored as their positions and read again when
 * released. The CSV file (BOM, CRLF) has a column `node` with the node as indented JSON: quoted
 * fields with line breaks and doubled quotes.
 */
type SourceKind = 'iterable' | 'jsonl' | 'csv';
let sourceKind: SourceKind = 'iterable';
const sourceFiles = tempFiles('batchguard-deps-source-', '.data');
let written: string | undefined;
/** The last CSV source made, to count the records its reader read again. */
let csvSource: ReturnType<typeof csvOf> | undefined;

/** The nodes as the source of the kind under test (the file is rewritten only when they change). */
function sourceOf(nodes: Node[]) {
  if (sourceKind === 'iterable') return nodes;
  const path = join(sourceFiles.dir, `source.${sourceKind}`);
  const content = sourceKind === 'jsonl' ? nodes.map((node) => JSON.stringify(node)).join('\n') + '\n' : csvContent(nodes);
  if (content !== written) {
    writeFileSync(path, content);
    written = content;
  }
  if (sourceKind === 'jsonl') return jsonl<Node>(path);
  csvSource = csvOf(path);
  return csvSource;
}

function csvContent(nodes: Node[]): string {
  const quoted = (text: string): string => `"${text.replace(/"/g, '""')}"`;
  return `\ufeffid,node\r\n${nodes.map((node) => `${node.id},${quoted(JSON.stringify(node, null, 1))}\r\n`).join('')}`;
}

function csvOf(path: string) {
  return mapRecords(csv<{ id: string; node: string }>(path), (row) => JSON.parse(row.node) as Node);
}

function makeJob(source: Node[], handler: Handler<Node, unknown>, overrides: Partial<JobOptions<Node>> = {}) {
  return defineJob<Node>({
    name: 'deps',
    source: sourceOf(source),
    key: (r) => r.id,
    dependsOn: (r) => r.deps ?? [],
    handler,
    retry: { maxAttempts: 2, backoff: { kind: 'constant', delayMs: 10 } },
    checkpoint: { everyRecords: 100, everyMs: 1000 },
    maxFailureRate: 1,
    ...overrides,
  });
}

/** A handler that logs its calls, fails the records marked `fail` (unless fixed), and checks its dependencies had succeeded. */
function recorder(options: { fixed?: () => boolean; sync?: boolean } = {}) {
  const calls: string[] = [];
  const finished = new Set<string>();
  const early: string[] = [];
  const body = (r: Node): string => {
    calls.push(r.id);
    for (const dep of r.deps ?? []) if (!finished.has(dep)) early.push(`${r.id} before ${dep}`);
    if (r.fail && !options.fixed?.()) throw new FatalError(`record ${r.id} is bad`);
    finished.add(r.id);
    return r.id;
  };
  const handler: Handler<Node, unknown> = options.sync ? (r) => body(r) : async (r) => body(r);
  return { calls, finished, early, handler };
}

async function run(job: ReturnType<typeof makeJob>, ledger: string, options: RunOptions = {}): Promise<Summary> {
  const clock = new ManualClock();
  // A test that changes the records between runs changes the file: the ledger is told to accept it.
  const drift = sourceKind === 'iterable' ? {} : { acceptDrift: true };
  return drive(runJob(job, { ledger, clock, ...drift, ...options }), clock);
}

async function ledgerState(path: string): Promise<{ counts: LedgerCounts; rows: Map<string, RecordRow> }> {
  const ledger = openLedger(path).ledger;
  try {
    const rows = new Map<string, RecordRow>();
    for await (const row of ledger.rows({ statuses: ['succeeded', 'failed', 'skipped'] })) rows.set(row.key, row);
    return { counts: await ledger.counts(), rows };
  } finally {
    await ledger.close();
  }
}

function expectExact(summary: Pick<Summary, 'total' | 'succeeded' | 'failed' | 'skipped' | 'pending'>): void {
  expect(summary.succeeded + summary.failed + summary.skipped + summary.pending).toBe(summary.total);
}

/** The blocking chain of a chain record `k<i>` when `k<root>` failed: k<i-1> … k<root>, capped at 10 keys. */
function chainPath(i: number, root = 0): string[] {
  const path: string[] = [];
  for (let j = i - 1; j >= root; j--) path.push(`k${j}`);
  return path.length <= 10 ? path : [...path.slice(0, 9), `k${root}`];
}

function chain(n: number, order: 'parents-first' | 'children-first', fail?: number): Node[] {
  const nodes = Array.from({ length: n }, (_, i): Node => ({ id: `k${i}`, deps: i === 0 ? [] : [`k${i - 1}`], fail: i === fail }));
  return order === 'parents-first' ? nodes : nodes.reverse();
}

/**
 * A deterministic forest: `trees` trees of `size` records; chains, stars and binary trees; in order,
 * reversed (children first), interleaved, or with the root moved to the end of the source.
 */
function forest(trees: number, size: number, failEvery: number) {
  const parent = new Map<string, string | undefined>();
  const nodes: Node[] = [];
  const late: Node[] = [];
  let counter = 0;
  for (let t = 0; t < trees; t++) {
    const tree: Node[] = [];
    for (let j = 0; j < size; j++) {
      const id = `t${t}-${j}`;
      const p = j === 0 ? undefined : t % 3 === 0 ? j - 1 : t % 3 === 1 ? 0 : (j - 1) >> 1;
      const parentId = p === undefined ? undefined : `t${t}-${p}`;
      parent.set(id, parentId);
      tree.push({ id, deps: parentId ? [parentId] : [], fail: ++counter % failEvery === 0 });
    }
    if (t % 4 === 1) tree.reverse();
    if (t % 4 === 2) tree.sort((a, b) => (Number(a.id.split('-')[1]) % 2) - (Number(b.id.split('-')[1]) % 2));
    if (t % 4 === 3) late.push(tree.shift() as Node);
    nodes.push(...tree);
  }
  nodes.push(...late);
  return { nodes, parent };
}

/** What must happen to each record of a forest: succeeded, failed, or skipped with its chain. */
function expectedOutcomes(nodes: Node[], parent: Map<string, string | undefined>) {
  const failing = new Set(nodes.filter((n) => n.fail).map((n) => n.id));
  const failed = new Set<string>();
  const skipped = new Map<string, string[]>();
  for (const node of nodes) {
    const ancestors: string[] = [];
    for (let at = parent.get(node.id); at !== undefined; at = parent.get(at)) ancestors.push(at);
    let top = -1;
    ancestors.forEach((a, i) => {
      if (failing.has(a)) top = i;
    });
    if (top >= 0) {
      const path = ancestors.slice(0, top + 1);
      skipped.set(node.id, path.length <= 10 ? path : [...path.slice(0, 9), path[path.length - 1] as string]);
    } else if (failing.has(node.id)) {
      failed.add(node.id);
    }
  }
  return { failed, skipped };
}

describe.each(['iterable', 'jsonl', 'csv'] as const)('dependencies in the engine (%s source)', (kind) => {
  beforeAll(() => {
    sourceKind = kind;
  });

  it('runs a tree parent before child and skips the subtree of a failure with its chain', async () => {
    const dir = tempDir();
    const ledger = join(dir, 'l.sqlite');
    const source: Node[] = [
      { id: 'a1a', deps: ['a1'] },
      { id: 'root' },
      { id: 'a', deps: ['root'] },
      { id: 'a1', deps: ['a'], fail: true },
      { id: 'a1b', deps: ['a1'] },
      { id: 'a1a-x', deps: ['a1a'] },
      { id: 'a2', deps: ['a'] },
      { id: 'b', deps: ['root'] },
      { id: 'b1', deps: ['b'] },
    ];
    const r = recorder();
    const summary = await run(makeJob(source, r.handler), ledger);
    expect(summary).toMatchObject({ status: 'completed', total: 9, succeeded: 5, failed: 1, skipped: 3, pending: 0 });
    expect(summary.thisRun).toEqual({ succeeded: 5, failed: 1, skipped: 3 });
    expect(r.early).toEqual([]);
    expect(r.calls.sort()).toEqual(['a', 'a1', 'a2', 'b', 'b1', 'root']);
    const { rows } = await ledgerState(ledger);
    expect(rows.get('a1')).toMatchObject({ status: 'failed', kind: 'fatal' });
    expect(rows.get('a1a')).toMatchObject({ status: 'skipped', blockedBy: ['a1'], attempts: 0 });
    expect(rows.get('a1b')).toMatchObject({ status: 'skipped', blockedBy: ['a1'] });
    expect(rows.get('a1a-x')).toMatchObject({ status: 'skipped', blockedBy: ['a1a', 'a1'] });
    expect([...rows.values()].filter((row) => row.status !== 'succeeded')).toHaveLength(4);
  });

  for (const order of ['parents-first', 'children-first'] as const) {
    it(`runs a 2,000-long chain (${order}) strictly in order`, async () => {
      const dir = tempDir();
      const r = recorder();
      const summary = await run(makeJob(chain(2000, order), r.handler, { concurrency: 8 }), join(dir, 'l.sqlite'));
      expect(summary).toMatchObject({ status: 'completed', total: 2000, succeeded: 2000, failed: 0, skipped: 0, pending: 0 });
      expect(r.calls).toEqual(Array.from({ length: 2000 }, (_, i) => `k${i}`));
      expect(r.early).toEqual([]);
      // Read children first, every record but the head waited stored as its position, and was read again once.
      if (kind === 'csv') expect(csvSource?.readsAgain()).toBe(order === 'children-first' ? 1999 : 0);
    });

    it(`skips the rest of a 2,000-long chain (${order}) when its top fails, with capped chains and no stack overflow`, async () => {
      for (const sync of [false, true]) {
        const dir = tempDir();
        const ledger = join(dir, 'l.sqlite');
        const r = recorder({ sync });
        const summary = await run(makeJob(chain(2000, order, 0), r.handler), ledger);
        expect(summary).toMatchObject({ status: 'completed', total: 2000, succeeded: 0, failed: 1, skipped: 1999, pending: 0 });
        expect(r.calls).toEqual(['k0']);
        const { rows, counts } = await ledgerState(ledger);
        expect(counts).toMatchObject({ total: 2000, failed: 1, skipped: 1999, pending: 0 });
        for (let i = 1; i < 2000; i++) expect(rows.get(`k${i}`)?.blockedBy).toEqual(chainPath(i));
      }
    });

    it(`blocks a 2,000-long chain (${order}) from the middle: the top half succeeds`, async () => {
      const dir = tempDir();
      const ledger = join(dir, 'l.sqlite');
      const r = recorder();
      const summary = await run(makeJob(chain(2000, order, 1000), r.handler), ledger);
      expect(summary).toMatchObject({ succeeded: 1000, failed: 1, skipped: 999, pending: 0 });
      const { rows } = await ledgerState(ledger);
      expect(rows.get('k1001')?.blockedBy).toEqual(['k1000']);
      expect(rows.get('k1999')?.blockedBy).toEqual(chainPath(1999, 1000));
    });
  }

  it('runs a 2,000-long chain read children first with a synchronous handler (no stack overflow when it unwinds)', async () => {
    const dir = tempDir();
    const r = recorder({ sync: true });
    const summary = await run(makeJob(chain(2000, 'children-first'), r.handler), join(dir, 'l.sqlite'));
    expect(summary).toMatchObject({ status: 'completed', succeeded: 2000, pending: 0 });
    expect(r.calls).toEqual(Array.from({ length: 2000 }, (_, i) => `k${i}`));
  });

  it('reads a deep chain whose head is still running in linear time (cycle checks do not walk the chain)', async () => {
    const dir = tempDir();
    const clock = new ManualClock();
    const n = 6000;
    const job = makeJob(chain(n, 'parents-first'), async (r) => {
      await clock.sleep(1);
      return r.id;
    });
    const started = Date.now();
    // The source is read to its end while k0 sleeps: every other record waits, in a chain.
    const summary = await drive(runJob(job, { ledger: join(dir, 'l.sqlite'), clock }), clock, 1, 1_000_000);
    expect(summary).toMatchObject({ succeeded: n, pending: 0 });
    // Linear: well under a second. Walking every waiting ancestor on each read: 7 s and more.
    expect(Date.now() - started).toBeLessThan(4_000);
  });

  it('skips a diamond once: D depends on B and C, which depend on A; A fails', async () => {
    for (const source of [
      [
        { id: 'A', fail: true },
        { id: 'B', deps: ['A'] },
        { id: 'C', deps: ['A'] },
        { id: 'D', deps: ['B', 'C'] },
      ],
      [
        { id: 'D', deps: ['B', 'C'] },
        { id: 'C', deps: ['A'] },
        { id: 'B', deps: ['A'] },
        { id: 'A', fail: true },
      ],
    ] as Node[][]) {
      const dir = tempDir();
      const ledger = join(dir, 'l.sqlite');
      const r = recorder();
      const summary = await run(makeJob(source, r.handler), ledger);
      expect(summary).toMatchObject({ total: 4, succeeded: 0, failed: 1, skipped: 3, pending: 0 });
      expect(r.calls).toEqual(['A']);
      const { rows } = await ledgerState(ledger);
      expect(rows.get('B')?.blockedBy).toEqual(['A']);
      expect(rows.get('C')?.blockedBy).toEqual(['A']);
      expect([
        ['B', 'A'],
        ['C', 'A'],
      ]).toContainEqual(rows.get('D')?.blockedBy);
      expect(rows.size).toBe(4);
    }
  });

  it('runs a diamond once when A succeeds, D after both B and C', async () => {
    const dir = tempDir();
    const r = recorder();
    const source: Node[] = [{ id: 'D', deps: ['B', 'C', 'B'] }, { id: 'B', deps: ['A'] }, { id: 'A' }, { id: 'C', deps: ['A'] }];
    const summary = await run(makeJob(source, r.handler), join(dir, 'l.sqlite'));
    expect(summary).toMatchObject({ succeeded: 4, skipped: 0 });
    expect(r.calls[0]).toBe('A');
    expect(r.calls[3]).toBe('D');
    expect(r.early).toEqual([]);
  });

  it('waits for a dependency that appears later in the source, far after its dependents', async () => {
    const dir = tempDir();
    const ledger = join(dir, 'l.sqlite');
    const source: Node[] = [
      ...Array.from({ length: 300 }, (_, i): Node => ({ id: `c${i}`, deps: ['p'] })),
      ...Array.from({ length: 300 }, (_, i): Node => ({ id: `x${i}` })),
      { id: 'p' },
      ...Array.from({ length: 10 }, (_, i): Node => ({ id: `d${i}`, deps: ['q'] })),
      { id: 'q', fail: true },
    ];
    const r = recorder();
    const summary = await run(makeJob(source, r.handler), ledger);
    expect(summary).toMatchObject({ total: 612, succeeded: 601, failed: 1, skipped: 10, pending: 0 });
    expect(r.early).toEqual([]);
    expect(r.calls.indexOf('p')).toBeLessThan(r.calls.indexOf('c0'));
    const { rows } = await ledgerState(ledger);
    for (let i = 0; i < 10; i++) expect(rows.get(`d${i}`)).toMatchObject({ status: 'skipped', blockedBy: ['q'] });
  });

  it('stops at a cycle with a ConfigError naming it; what was done before stays committed', async () => {
    const dir = tempDir();
    const ledger = join(dir, 'l.sqlite');
    const before = Array.from({ length: 20 }, (_, i): Node => ({ id: `x${i}` }));
    const after = Array.from({ length: 20 }, (_, i): Node => ({ id: `y${i}` }));
    const cyclic: Node[] = [
      { id: 'a', deps: ['b'] },
      { id: 'b', deps: ['c'] },
      { id: 'c', deps: ['a'] },
    ];
    const r = recorder();
    const clock = new ManualClock();
    const running = runJob(makeJob([...before, ...cyclic, ...after], r.handler), { ledger, clock });
    const error = await drive(running, clock).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).message).toContain('dependency cycle: c → a → b → c');
    expect((error as ConfigError).field).toBe('dependsOn');
    expect(r.calls.filter((id) => /^[abcy]/.test(id))).toEqual([]);
    const { counts, rows } = await ledgerState(ledger);
    expect(counts).toMatchObject({ succeeded: 20, failed: 0, skipped: 0 });
    expect(rows.size).toBe(0);
    expectExact(counts);

    // With the cycle broken, the next run does only what is left.
    const fixed = [...before, { id: 'a', deps: ['b'] }, { id: 'b', deps: ['c'] }, { id: 'c' }, ...after];
    const r2 = recorder();
    const summary = await run(makeJob(fixed, r2.handler), ledger);
    expect(summary).toMatchObject({ status: 'completed', total: 43, succeeded: 43, alreadyDone: 20 });
    expect(r2.calls.filter((id) => id.startsWith('x'))).toEqual([]);
    expect(r2.calls.indexOf('c')).toBeLessThan(r2.calls.indexOf('b'));
    expect(r2.calls.indexOf('b')).toBeLessThan(r2.calls.indexOf('a'));
  });

  it('stops at a self-dependency', async () => {
    const dir = tempDir();
    const r = recorder();
    const clock = new ManualClock();
    const running = runJob(makeJob([{ id: 'ok' }, { id: 'me', deps: ['ok', 'me'] }], r.handler), { ledger: join(dir, 'l.sqlite'), clock });
    await expect(drive(running, clock)).rejects.toThrow(/dependency cycle: me → me/);
    expect(r.calls).toEqual(['ok']);
  });

  it('fails the dependents of a key no record has as invalid once the source ends, and skips theirs', async () => {
    const dir = tempDir();
    const ledger = join(dir, 'l.sqlite');
    const source: Node[] = [
      { id: 'a', deps: ['ghost'] },
      { id: 'b', deps: ['a'] },
      { id: 'p' },
      { id: 'c', deps: ['b', 'p'] },
      { id: 'd', deps: ['p', 'ghost', 'phantom'] },
      { id: 'e', deps: ['p'] },
    ];
    const r = recorder();
    const summary = await run(makeJob(source, r.handler), ledger);
    expect(summary).toMatchObject({
      status: 'completed',
      total: 6,
      succeeded: 2,
      failed: 2,
      skipped: 2,
      pending: 0,
      sourceExhausted: true,
    });
    expect(r.calls.sort()).toEqual(['e', 'p']);
    const { rows } = await ledgerState(ledger);
    expect(rows.get('a')).toMatchObject({ status: 'failed', kind: 'invalid', attempts: 0 });
    expect(rows.get('a')?.error?.message).toBe('depends on "ghost", which is not in the source (nor in the ledger)');
    expect(rows.get('d')).toMatchObject({ status: 'failed', kind: 'invalid' });
    expect(rows.get('d')?.error?.message).toMatch(/^depends on "(ghost|phantom)", which is not in the source/);
    expect(rows.get('b')).toMatchObject({ status: 'skipped', blockedBy: ['a'] });
    expect(rows.get('c')).toMatchObject({ status: 'skipped', blockedBy: ['b', 'a'] });
  });

  it("with onDependencyFailure 'run', runs dependents anyway and tells them what failed", async () => {
    const dir = tempDir();
    const ledger = join(dir, 'l.sqlite');
    const seen = new Map<string, readonly string[]>();
    const source: Node[] = [
      { id: 'b', deps: ['a'] },
      { id: 'd', deps: ['a', 'x', 'ok'] },
      { id: 'a', fail: true },
      { id: 'x', fail: true },
      { id: 'ok' },
      { id: 'c', deps: ['b'] },
      { id: 'e', deps: ['a'] },
      { id: 'm', deps: ['ghost'] },
      { id: 'n', deps: ['m'] },
    ];
    const job = makeJob(
      source,
      async (r, ctx) => {
        seen.set(r.id, [...ctx.failedDependencies].sort());
        if (r.fail) throw new FatalError('bad');
      },
      { onDependencyFailure: 'run' },
    );
    const summary = await run(job, ledger);
    expect(summary).toMatchObject({ total: 9, succeeded: 6, failed: 3, skipped: 0, pending: 0 });
    expect(Object.fromEntries(seen)).toEqual({
      a: [],
      x: [],
      ok: [],
      b: ['a'],
      d: ['a', 'x'],
      c: [],
      e: ['a'],
      n: ['m'],
    });
    const { rows } = await ledgerState(ledger);
    expect(rows.get('m')).toMatchObject({ status: 'failed', kind: 'invalid' });
  });

  it('keeps to the concurrency when one parent releases 500 children at once', async () => {
    for (const concurrency of [1, 4, 16]) {
      const dir = tempDir();
      const clock = new ManualClock();
      let active = 0;
      let max = 0;
      const order: string[] = [];
      const source: Node[] = [
        ...Array.from({ length: 500 }, (_, i): Node => ({ id: `c${i}`, deps: ['p'] })),
        { id: 'p' },
        ...Array.from({ length: 500 }, (_, i): Node => ({ id: `x${i}` })),
      ];
      const job = makeJob(
        source,
        async (r) => {
          active++;
          max = Math.max(max, active);
          order.push(r.id);
          await clock.sleep(10);
          active--;
        },
        { concurrency },
      );
      const summary = await drive(runJob(job, { ledger: join(dir, 'l.sqlite'), clock }), clock, 5);
      expect(summary).toMatchObject({ total: 1001, succeeded: 1001, pending: 0 });
      expect(order.indexOf('p')).toBeLessThan(order.indexOf('c0'));
      expect(max).toBe(concurrency);
    }
  });

  it('keeps to perKeyConcurrency when a dependency releases records of a key that is running', async () => {
    const dir = tempDir();
    const clock = new ManualClock();
    const running = new Map<string, number>();
    const most = new Map<string, number>();
    // s0 (tenant t) runs 100 ms; p (tenant u) 10 ms; c0 and c1 (tenant t) wait for p.
    const source: (Node & { tenant: string })[] = [
      { id: 's0', tenant: 't' },
      { id: 'p', tenant: 'u' },
      { id: 'c0', tenant: 't', deps: ['p'] },
      { id: 'c1', tenant: 't', deps: ['p'] },
    ];
    const job = makeJob(
      source,
      async (r) => {
        const tenant = (r as Node & { tenant: string }).tenant;
        running.set(tenant, (running.get(tenant) ?? 0) + 1);
        most.set(tenant, Math.max(most.get(tenant) ?? 0, running.get(tenant) as number));
        await clock.sleep(r.id === 's0' ? 100 : 10);
        running.set(tenant, (running.get(tenant) as number) - 1);
      },
      { concurrency: 4, concurrencyKey: (r) => (r as Node & { tenant: string }).tenant, perKeyConcurrency: 1 },
    );
    const summary = await drive(runJob(job, { ledger: join(dir, 'l.sqlite'), clock }), clock, 5);
    expect(summary).toMatchObject({ total: 4, succeeded: 4, pending: 0 });
    expect(most.get('t')).toBe(1);
  });

  it('accounts exactly: total = succeeded + failed + skipped + pending, across a stop and a resume', async () => {
    const dir = tempDir();
    const ledger = join(dir, 'l.sqlite');
    const { nodes, parent } = forest(300, 10, 37);
    const expected = expectedOutcomes(nodes, parent);
    const controller = new AbortController();
    const calls: string[] = [];
    const job = makeJob(nodes, async (r) => {
      calls.push(r.id);
      if (calls.length === 1200) controller.abort('test stop');
      if (r.fail) throw new FatalError('bad');
    });
    const first = await run(job, ledger, { signal: controller.signal });
    expect(first.status).toBe('interrupted');
    expect(first.pending).toBeGreaterThan(0);
    expectExact(first);
    expectExact((await ledgerState(ledger)).counts);

    const second = await run(job, ledger);
    expect(second).toMatchObject({
      status: 'completed',
      total: 3000,
      failed: expected.failed.size,
      skipped: expected.skipped.size,
      pending: 0,
      succeeded: 3000 - expected.failed.size - expected.skipped.size,
    });
    expectExact(second);
    // Nothing finished is handed to the handler twice, except what was in flight at the stop.
    expect(calls.length - new Set(calls).size).toBeLessThanOrEqual(job.concurrency);
    const { rows, counts } = await ledgerState(ledger);
    expect(counts).toMatchObject({ total: 3000, pending: 0 });
    for (const [key, path] of expected.skipped) expect(rows.get(key)).toMatchObject({ status: 'skipped', blockedBy: path });
    for (const key of expected.failed) expect(rows.get(key)).toMatchObject({ status: 'failed', kind: 'fatal' });
  });

  it('rerun unblocks the skipped records once the handler is fixed, parents before children', async () => {
    const dir = tempDir();
    const ledger = join(dir, 'l.sqlite');
    const { nodes, parent } = forest(200, 10, 23);
    const expected = expectedOutcomes(nodes, parent);
    expect(expected.skipped.size).toBeGreaterThan(100);
    let fixed = false;
    const r = recorder({ fixed: () => fixed });
    const first = await run(makeJob(nodes, r.handler), ledger);
    expect(first).toMatchObject({ total: 2000, failed: expected.failed.size, skipped: expected.skipped.size, pending: 0 });
    expect(r.early).toEqual([]);

    fixed = true;
    const r2 = recorder({ fixed: () => fixed });
    // Everything that ran before succeeded then.
    for (const key of r.finished) r2.finished.add(key);
    const rerun = await run(makeJob(nodes, r2.handler), ledger, { rerun: {} });
    expect(rerun).toMatchObject({
      status: 'completed',
      total: 2000,
      succeeded: 2000,
      failed: 0,
      skipped: 0,
      pending: 0,
      thisRun: { succeeded: expected.failed.size + expected.skipped.size, failed: 0, skipped: 0 },
    });
    expect(r2.calls.sort()).toEqual([...expected.failed, ...expected.skipped.keys()].sort());
    expect(r2.early).toEqual([]);
    const { counts, rows } = await ledgerState(ledger);
    expect(counts).toMatchObject({ total: 2000, succeeded: 2000, failed: 0, skipped: 0, pending: 0 });
    expect([...rows.values()].every((row) => row.status === 'succeeded')).toBe(true);
  });

  it('rerun with the root still failing skips its chain again; the next rerun clears it', async () => {
    const dir = tempDir();
    const ledger = join(dir, 'l.sqlite');
    const source = chain(50, 'children-first', 0);
    let fixed = false;
    const first = await run(makeJob(source, recorder({ fixed: () => fixed }).handler), ledger);
    expect(first).toMatchObject({ failed: 1, skipped: 49 });
    const still = recorder({ fixed: () => fixed });
    const again = await run(makeJob(source, still.handler), ledger, { rerun: {} });
    expect(still.calls).toEqual(['k0']);
    expect(again).toMatchObject({ succeeded: 0, failed: 1, skipped: 49, pending: 0, thisRun: { failed: 1, skipped: 49 } });
    expect((await ledgerState(ledger)).rows.get('k49')?.blockedBy).toEqual(chainPath(49));
    fixed = true;
    const r = recorder({ fixed: () => fixed });
    const last = await run(makeJob(source, r.handler), ledger, { rerun: {} });
    expect(last).toMatchObject({ succeeded: 50, failed: 0, skipped: 0, pending: 0 });
    expect(r.calls).toEqual(Array.from({ length: 50 }, (_, i) => `k${i}`));
  });

  it('a dependency that succeeded in an earlier run counts: a resumed dependent runs at once', async () => {
    const dir = tempDir();
    const ledger = join(dir, 'l.sqlite');
    const base: Node[] = [{ id: 'p' }, { id: 'q', fail: true }];
    await run(makeJob(base, recorder().handler), ledger, { maxRecords: 2 });
    // The source grew: new records depend on what the first run finished.
    const grown: Node[] = [...base, { id: 'c', deps: ['p'] }, { id: 'd', deps: ['q'] }, { id: 'e', deps: ['d'] }];
    const r = recorder();
    for (const key of ['p']) r.finished.add(key);
    const summary = await run(makeJob(grown, r.handler), ledger, { acceptDrift: true });
    expect(r.calls).toEqual(['c']);
    expect(summary).toMatchObject({ total: 5, succeeded: 2, failed: 1, skipped: 2, pending: 0 });
    const { rows } = await ledgerState(ledger);
    expect(rows.get('e')?.blockedBy).toEqual(['d', 'q']);
  });
});

describe('dependencies in the engine: records stored as their positions (JSONL source)', () => {
  it('stops with a one-line SOURCE_DRIFT error when a stored record changed in the file; it stays pending', async () => {
    const dir = tempDir();
    const path = join(dir, 'data.jsonl');
    const lines = ['{"id":"c1","deps":["p"]}', '{"id":"c2","deps":["p"]}', '{"id":"p"}'];
    writeFileSync(path, `${lines.join('\n')}\n`);
    const calls: string[] = [];
    const job = defineJob<Node>({
      name: 'deps',
      source: jsonl<Node>(path),
      key: (r) => r.id,
      dependsOn: (r) => r.deps ?? [],
      handler: async (r) => {
        calls.push(r.id);
        // The file is edited under the run: c1's key changes, at the same length.
        writeFileSync(path, `${lines.join('\n').replace('"c1"', '"z1"')}\n`);
      },
      maxFailureRate: 1,
    });
    const clock = new ManualClock();
    const ledger = join(dir, 'l.sqlite');
    await expect(drive(runJob(job, { ledger, clock }), clock)).rejects.toThrow(
      `the source jsonl:${path} changed while the run was reading it: the record at line 1 (byte offset 0), read again when its dependencies were met, has another key ("z1"); the outcomes that finished are saved`,
    );
    expect(calls).toEqual(['p']);
    const { counts } = await ledgerState(ledger);
    expect(counts).toMatchObject({ succeeded: 1, failed: 0, skipped: 0 });
  });
});

describe('dependencies in the engine: records stored as their positions (CSV source)', () => {
  const header = 'id,deps,note\n';
  const rows = ['a,,"multi\nline"', 'c1,p,x', 'p,,'];
  // c1 starts on line 4, at byte 13 + 16.
  it.each([
    ['has another key ("z1")', 'c1,p,x', 'z1,p,x'],
    [
      'is no longer a valid record (line 4: Quote Not Closed: the parsing is finished with an opening quote (CSV_QUOTE_NOT_CLOSED))',
      'c1,p,x',
      'c1,"p,x',
    ],
  ])('stops with a one-line SOURCE_DRIFT error when a stored record changed in the file: it %s', async (what, row, edited) => {
    const dir = tempDir();
    const path = join(dir, 'data.csv');
    writeFileSync(path, header + rows.join('\n') + '\n');
    const calls: string[] = [];
    const job = defineJob<{ id: string; deps: string }>({
      name: 'deps',
      source: csv<{ id: string; deps: string }>(path),
      key: (r) => r.id,
      dependsOn: (r) => (r.deps === '' ? [] : r.deps.split(';')),
      handler: async (r) => {
        calls.push(r.id);
        if (r.id === 'p') writeFileSync(path, header + rows.join('\n').replace(row, edited) + '\n');
      },
      maxFailureRate: 1,
    });
    const clock = new ManualClock();
    const ledger = join(dir, 'l.sqlite');
    await expect(drive(runJob(job, { ledger, clock }), clock)).rejects.toThrow(
      `the source csv:${path} changed while the run was reading it: the record at line 4 (byte offset 29), read again when its dependencies were met, ${what}; the outcomes that finished are saved`,
    );
    expect(calls).toEqual(['a', 'p']);
    const { counts } = await ledgerState(ledger);
    expect(counts).toMatchObject({ succeeded: 2, failed: 0, skipped: 0 });
  });
});
