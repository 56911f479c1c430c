#!/usr/bin/env node
/**
 * KeyIndex figures (duplicate-key detection):
 *   - ns per add() for 1M short keys ("12345"-like) and for 1M 36-char UUIDs (target: well under 1 µs),
 *     growing from the default 1024 slots and presized with expectedKeys
 *   - memory (KeyIndex.bytes, and heap + external growth) at 1M and 10M keys, next to a Set<string> at 1M
 *   - drain() of 1M entries in 1000-entry checkpoints, and load() of those chunks into a fresh index
 *   - what first touching a fresh 4 KB page costs here: on a microVM it dominates growth and load()
 *   - Set<string>.add() of the same keys, for scale (a Set is what this replaces)
 * Keys of the 1M runs are built before the clock starts, so those figures are add() alone.
 * Usage: npx tsc -p tsconfig.build.json && node --expose-gc bench/key-index.mjs   (BIG=0 skips the 10M runs)
 */
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { KEY_INDEX_ENTRY_BYTES, KeyIndex } from '../dist/structures/key-index.js';

const gc = globalThis.gc ?? (() => {});
const MB = 1024 * 1024;
const ROUNDS = 5;

function memory() {
  // Twice: the second collection waits for the first one's freeing of array buffers to finish.
  gc();
  gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

/**
 * Median and best ns per add() over ROUNDS fresh indexes, after one discarded warm-up round. A GC before
 * each round frees the previous round's table, so the round does not pay for collecting it.
 */
function addNs(keys, options) {
  const times = [];
  for (let round = 0; round <= ROUNDS; round++) {
    gc();
    const index = new KeyIndex(options);
    const start = process.hrtime.bigint();
    for (let i = 0; i < keys.length; i++) {
      if (index.add(keys[i], i, i + 1) !== undefined) throw new Error(`false duplicate at ${i}`);
    }
    if (round > 0) times.push(Number(process.hrtime.bigint() - start) / keys.length);
  }
  return `${fmt(median(times))} ns/add median, ${fmt(Math.min(...times))} best, ${fmt(Math.max(...times))} worst`;
}

/** ns per add() that finds its key (the same seq again, as after a resume): the table alone, no growth. */
function hitNs(keys) {
  const index = new KeyIndex({ expectedKeys: keys.length });
  for (let i = 0; i < keys.length; i++) index.add(keys[i], i, i + 1);
  const times = [];
  for (let round = 0; round < ROUNDS; round++) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < keys.length; i++) index.add(keys[i], i, i + 1);
    times.push(Number(process.hrtime.bigint() - start) / keys.length);
  }
  return `${fmt(median(times))} ns/add median, ${fmt(Math.min(...times))} best`;
}

/** ns per add() that finds its key in a 1000-key table, which stays in cache: the CPU cost alone. */
function cachedNs(keys) {
  const small = keys.slice(0, 1000);
  const index = new KeyIndex();
  for (let i = 0; i < small.length; i++) index.add(small[i], i, i + 1);
  const times = [];
  for (let round = 0; round < ROUNDS; round++) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < 1_000_000; i++) index.add(small[i % 1000], i % 1000, 0);
    times.push(Number(process.hrtime.bigint() - start) / 1_000_000);
  }
  return `${fmt(median(times))} ns/add median, ${fmt(Math.min(...times))} best`;
}

/** The same keys into a Set<string>, for scale. */
function setNs(keys) {
  const times = [];
  for (let round = 0; round <= ROUNDS; round++) {
    gc();
    const set = new Set();
    const start = process.hrtime.bigint();
    for (let i = 0; i < keys.length; i++) set.add(keys[i]);
    if (round > 0) times.push(Number(process.hrtime.bigint() - start) / keys.length);
  }
  return `${fmt(median(times))} ns/add median, ${fmt(Math.min(...times))} best`;
}

/** µs to first touch one 4 KB page of fresh memory: what growing a table pays per page on this host. */
function firstTouchUs() {
  const bytes = 64 * MB;
  const memory = new Uint8Array(bytes);
  const start = process.hrtime.bigint();
  for (let i = 0; i < bytes; i += 4096) memory[i] = 1;
  return Number(process.hrtime.bigint() - start) / 1e3 / (bytes / 4096);
}

const fmt = (n, digits = 0) => n.toFixed(digits).padStart(7);

function oneMillion() {
  const short = Array.from({ length: 1_000_000 }, (_, i) => String(10_000 + i));
  const uuids = Array.from({ length: 1_000_000 }, () => randomUUID());

  console.log(`first touch of fresh memory on this host: ${fmt(firstTouchUs(), 1)} µs per 4 KB page`);
  console.log(`add(), 1M short keys, growing from 1024 slots:  ${addNs(short)}`);
  console.log(`add(), 1M short keys, expectedKeys: 1M:         ${addNs(short, { expectedKeys: 1_000_000 })}`);
  console.log(`add(), 1M 36-char UUIDs, growing:               ${addNs(uuids)}`);
  console.log(`add(), 1M 36-char UUIDs, expectedKeys: 1M:      ${addNs(uuids, { expectedKeys: 1_000_000 })}`);
  console.log(`add() of a key already held, same seq, 1M UUIDs: ${hitNs(uuids)}`);
  console.log(`the same with 1000 UUIDs (table stays in cache): ${cachedNs(uuids)}`);
  console.log(`Set<string>.add() of the same 1M short keys:     ${setNs(short)}`);
  console.log(`Set<string>.add() of the same 1M UUIDs:          ${setNs(uuids)}`);

  // Memory at 1M, and a Set<string> of the same keys for scale.
  {
    const before = memory();
    const index = new KeyIndex();
    for (let i = 0; i < short.length; i++) index.add(short[i], i, i + 1);
    index.drain(); // as after a checkpoint
    const grew = memory() - before;
    console.log(`memory, 1M keys: KeyIndex.bytes ${fmt(index.bytes / MB, 1)} MB (heap + external growth ${fmt(grew / MB, 1)} MB)`);

    const beforeSet = memory();
    const set = new Set();
    for (let i = 0; i < short.length; i++) set.add(`k${short[i]}`); // new strings, as a reader would make
    const setGrew = memory() - beforeSet;
    console.log(`memory, 1M keys: Set<string> for comparison, heap growth ${fmt(setGrew / MB, 1)} MB (its 6-char keys included)`);
    if (set.size !== short.length || index.size !== short.length) throw new Error('sizes differ');
  }

  // drain() in 1000-entry checkpoints over 1M UUIDs, then load() into a fresh index.
  {
    const index = new KeyIndex();
    const chunks = [];
    let drainNs = 0;
    for (let i = 0; i < uuids.length; i++) {
      index.add(uuids[i], i, i + 1);
      if ((i + 1) % 1000 === 0) {
        const start = process.hrtime.bigint();
        chunks.push(index.drain());
        drainNs += Number(process.hrtime.bigint() - start);
      }
    }
    const bytes = chunks.reduce((sum, chunk) => sum + chunk.byteLength, 0);
    console.log(`drain(), 1M entries as ${chunks.length} chunks: ${fmt(drainNs / 1e6, 1)} ms in all, ${fmt(bytes / MB, 1)} MB of chunks`);

    for (const [label, options] of [
      ['growing', undefined],
      ['expectedKeys from the chunk sizes', { expectedKeys: bytes / KEY_INDEX_ENTRY_BYTES }],
    ]) {
      const loadMs = [];
      for (let round = 0; round < ROUNDS; round++) {
        const start = process.hrtime.bigint();
        const resumed = new KeyIndex(options);
        for (const chunk of chunks) resumed.load(chunk);
        loadMs.push(Number(process.hrtime.bigint() - start) / 1e6);
        if (resumed.size !== uuids.length || resumed.add(uuids[123], 9, 9)?.seq !== 123) throw new Error('load lost entries');
      }
      console.log(
        `load(), 1M entries from ${chunks.length} chunks, ${label}: ${fmt(median(loadMs), 1)} ms median, ${fmt(Math.min(...loadMs), 1)} best`,
      );
    }
  }
}

// 10M keys made on the fly (as a reader makes them; a 10M-string array would make every GC slow),
// drained every 10,000 records as checkpoints would. The key-making loop alone is timed and subtracted.
// Each run has a process of its own, so freed tables of earlier runs cannot blur its memory figures.
function tenMillion(presized) {
  const COUNT = 10_000_000;
  let start = process.hrtime.bigint();
  let length = 0;
  for (let i = 0; i < COUNT; i++) length += String(i).length;
  const keyNs = Number(process.hrtime.bigint() - start) / COUNT;

  const before = memory();
  const rssBefore = process.memoryUsage().rss;
  const index = new KeyIndex(presized ? { expectedKeys: COUNT } : undefined);
  start = process.hrtime.bigint();
  for (let i = 0; i < COUNT; i++) {
    if (index.add(String(i), i, i + 1) !== undefined) throw new Error(`false duplicate at ${i}`);
    if ((i + 1) % 10_000 === 0) index.drain();
  }
  const ns = Number(process.hrtime.bigint() - start) / COUNT - keyNs;
  const grew = memory() - before;
  const rssGrew = process.memoryUsage().rss - rssBefore;
  console.log(
    `10M short keys, ${presized ? 'expectedKeys: 10M' : 'growing'}: ${fmt(ns)} ns/add (String(i) excluded); ` +
      `KeyIndex.bytes ${fmt(index.bytes / MB, 1)} MB, heap + external growth ${fmt(grew / MB, 1)} MB, ` +
      `RSS growth ${fmt(rssGrew / MB, 1)} MB, peak RSS ${fmt(process.resourceUsage().maxRSS / 1024)} MB`,
  );
  if (length === 0) throw new Error('unreachable');
}

const run = process.argv[2];
if (run === '10m-growing') tenMillion(false);
else if (run === '10m-presized') tenMillion(true);
else {
  oneMillion();
  if (process.env.BIG !== '0') {
    const self = fileURLToPath(import.meta.url);
    for (const child of ['10m-growing', '10m-presized']) {
      process.stdout.write(execFileSync(process.execPath, ['--expose-gc', self, child]));
    }
  }
}
