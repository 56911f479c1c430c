#!/usr/bin/env node
/**
 * What reading one record again costs (Source.openReader(), how a record waiting for its
 * dependencies comes back: docs/semantics.md, "Dependencies"), for a CSV and a JSONL file of the
 * lines bench/dependencies.mjs writes (`id,parent,name,value`, ~36 and ~73 bytes a line).
 *
 * Per format: the positions of RECORDS records are taken from the stream, then every record is read
 * again through one reader, ROUNDS times, last record first. Printed: CPU µs a read (median and best
 * round, process.cpuUsage: the machine is shared, so wall time is not used), and the young-generation
 * collections (scavenges) per 10,000 reads, which grow with the garbage a read leaves.
 *
 * Usage: npm run build && node bench/record-reread.mjs
 *   env RECORDS=100000, ROUNDS=5, DIST=path/to/dist (another build, e.g. a copy of dist/ made
 *   before a change: A/B on the same files)
 */
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { constants, PerformanceObserver } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';

const RECORDS = Number(process.env.RECORDS ?? 100_000);
const ROUNDS = Number(process.env.ROUNDS ?? 5);
const dist = resolve(process.env.DIST ?? new URL('../dist', import.meta.url).pathname);
const { csv, jsonl } = await import(pathToFileURL(join(dist, 'index.js')).href);
const dir = mkdtempSync(join(tmpdir(), 'batchguard-bench-reread-'));

/** Writes the file; a record's parent is the one before it (what bench/dependencies.mjs's chains have). */
function write(format) {
  const path = join(dir, `records.${format}`);
  const fd = openSync(path, 'w');
  let chunk = format === 'csv' ? 'id,parent,name,value\n' : '';
  for (let g = 0; g < RECORDS; g++) {
    const id = `c0-${g}`;
    const parent = g === 0 ? undefined : `c0-${g - 1}`;
    const value = (g % 1000) + 0.25;
    chunk +=
      format === 'csv'
        ? `${id},${parent ?? ''},item ${g},${value}\n`
        : `{"id":"${id}","parent":${parent === undefined ? 'null' : `"${parent}"`},"name":"item ${g}","value":${value}}\n`;
    if (chunk.length > 1 << 20) {
      writeSync(fd, chunk);
      chunk = '';
    }
  }
  writeSync(fd, chunk);
  closeSync(fd);
  return path;
}

let scavenges = 0;
const observer = new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) if (entry.detail?.kind === constants.NODE_PERFORMANCE_GC_MINOR) scavenges++;
});
observer.observe({ entryTypes: ['gc'] });
/** GC entries are delivered asynchronously: let them arrive before they are counted. */
const settle = () => new Promise((done) => setTimeout(done, 20));

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

async function measure(format) {
  const source = format === 'csv' ? csv(write(format)) : jsonl(write(format));
  const seq = new Uint32Array(RECORDS);
  const line = new Uint32Array(RECORDS);
  const offset = new Float64Array(RECORDS);
  let n = 0;
  for await (const item of source.read()) {
    seq[n] = item.position.seq;
    line[n] = item.position.line;
    offset[n] = item.position.offset;
    n++;
  }
  const reader = await source.openReader();
  const round = () => {
    let ids = 0;
    for (let i = n - 1; i >= 0; i--) {
      const item = reader.read({ seq: seq[i], line: line[i], offset: offset[i] });
      if (item.kind !== 'record') throw new Error(`${format}: ${JSON.stringify(item)}`);
      ids += item.value.id.length;
    }
    return ids;
  };
  try {
    round(); // warm-up: compiled code, the file in the page cache
    const micros = [];
    const perTenThousand = [];
    for (let r = 0; r < ROUNDS; r++) {
      await settle();
      const before = scavenges;
      const cpu = process.cpuUsage();
      round();
      const used = process.cpuUsage(cpu);
      micros.push((used.user + used.system) / n);
      await settle();
      perTenThousand.push(((scavenges - before) * 10_000) / n);
    }
    return { format, micros, scavenges: median(perTenThousand) };
  } finally {
    await reader.close();
  }
}

try {
  console.log(
    `reading records again (openReader), ${RECORDS.toLocaleString('en-US')} records × ${ROUNDS} rounds; ${dist}; node ${process.version}`,
  );
  for (const format of ['csv', 'jsonl']) {
    const { micros, scavenges: perTenThousand } = await measure(format);
    console.log(
      `  ${format.padEnd(6)} ${median(micros).toFixed(2)} µs of CPU a read (best round ${Math.min(...micros).toFixed(2)}), ` +
        `${perTenThousand.toFixed(1)} scavenges per 10,000 reads`,
    );
  }
} finally {
  observer.disconnect();
  rmSync(dir, { recursive: true, force: true });
}
