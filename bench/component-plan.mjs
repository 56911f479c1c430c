#!/usr/bin/env node
/**
 * What planning a shared run of a job with `dependsOn` costs (distributed/component-chunk-plan.ts),
 * next to the plain plan of contiguous chunks (chunk-plan.ts), over the same JSONL file:
 *   - CPU time per record of the planning read (the planner reads the whole source once either way);
 *   - the planner's memory per record: the typed arrays and key table it reports (`plannerBytes`),
 *     and the heap + array buffers the finished plan holds (its chunks' member lists);
 *   - the plan's shape: chunks, the largest component (one worker runs it), and the reading the
 *     chunks' stretches cost together, over the source's own size (1.00: each item read once), and
 *     how many stretches (a seek each).
 * Sources (RECORDS records, default 1,000,000; ids 0 … RECORDS-1):
 *   - local: 30% of the records depend on a record up to 100 before them (trees, chains);
 *   - planted: the same, and 1 record in 1,000 depends on a record anywhere in the file.
 * Usage: npm run build && node --expose-gc bench/component-plan.mjs   (RECORDS=100000 for a quick look)
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { planChunks } from '../dist/distributed/chunk-plan.js';
import { planComponentChunks } from '../dist/distributed/component-chunk-plan.js';
import { jsonl } from '../dist/sources/jsonl.js';

const RECORDS = Number(process.env.RECORDS ?? 1_000_000);
const PER_CHUNK = 10_000;
const gc = globalThis.gc ?? (() => {});

/** A deterministic random integer in 0 … n - 1. */
let state = 42;
const random = (n) => {
  state = (state * 1103515245 + 12345) % 2 ** 31;
  return state % n;
};

function write(dir, name, planted) {
  const lines = [];
  for (let id = 0; id < RECORDS; id++) {
    const after = [];
    if (id > 0 && random(10) < 3) after.push(String(Math.max(0, id - 1 - random(100))));
    if (planted && random(1000) === 0) after.push(String(random(RECORDS)));
    lines.push(JSON.stringify(after.length === 0 ? { id, name: `record-${id}` } : { id, name: `record-${id}`, after }));
  }
  const path = join(dir, name);
  writeFileSync(path, `${lines.join('\n')}\n`);
  return path;
}

function memory() {
  gc();
  gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

async function measure(label, plan) {
  const before = memory();
  const cpu = process.cpuUsage();
  const started = performance.now();
  const result = await plan();
  const wallMs = performance.now() - started;
  const used = process.cpuUsage(cpu);
  const held = memory() - before;
  return { label, result, wallMs, cpuUsPerRecord: (used.user + used.system) / RECORDS, heldBytesPerRecord: held / RECORDS };
}

const dir = mkdtempSync(join(tmpdir(), 'batchguard-component-plan-'));
try {
  console.log(
    `component-plan: ${RECORDS} records, ${PER_CHUNK} per chunk, load average ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  );
  for (const planted of [false, true]) {
    const path = write(dir, `${planted ? 'planted' : 'local'}.jsonl`, planted);
    const job = { source: jsonl(path), key: (r) => String(r.id), dependsOn: (r) => r.after ?? [] };
    const plain = await measure('contiguous', () => planChunks(job.source, { recordsPerChunk: PER_CHUNK }));
    const components = await measure('components', () => planComponentChunks(job, { recordsPerChunk: PER_CHUNK }));
    const { plan, largestComponent, plannerBytes } = components.result;
    // What the workers read: each chunk's stretches (its span when it has none).
    const read = (chunk) => (chunk.segments ?? [chunk]).reduce((sum, stretch) => sum + stretch.count, 0);
    const spans = plan.chunks.reduce((sum, chunk) => sum + read(chunk), 0);
    const seeks = plan.chunks.reduce((sum, chunk) => sum + (chunk.segments?.length ?? 1), 0);
    console.log(`${planted ? 'planted' : 'local'}:`);
    for (const m of [plain, components]) {
      console.log(
        `  ${m.label.padEnd(10)} ${m.wallMs.toFixed(0).padStart(6)} ms, ${m.cpuUsPerRecord.toFixed(2)} µs CPU/record, ` +
          `plan held ${m.heldBytesPerRecord.toFixed(1)} B/record, ${m.result.plan?.chunks.length ?? m.result.chunks.length} chunks`,
      );
    }
    console.log(
      `  components: planner ${(plannerBytes / RECORDS).toFixed(1)} B/record at the end of reading (${(plannerBytes / 2 ** 20).toFixed(1)} MB), ` +
        `largest component ${largestComponent} records, chunks read ${(spans / plan.total).toFixed(2)}× the source in ${seeks} stretches`,
    );
  }
  console.log(
    `load average at the end ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
