#!/usr/bin/env node
/**
 * What `dependsOn` costs, in time and memory, over 1,000,000 records of a JSONL file and of a CSV
 * file and a no-op handler (SQLite ledger in a temp dir, default concurrency and checkpointing).
 *
 * Shapes (every record has at most one parent, `dependsOn: (r) => r.parent ? [r.parent] : []`):
 *   - trees:  RECORDS/10 trees of 10 records: a root, 3 children, 6 grandchildren (2 per child)
 *   - chains: RECORDS/CHAIN_LENGTH chains of CHAIN_LENGTH (default 1000), each record on the previous one
 * Orders:
 *   - parents-first:  tree after tree (root, children, grandchildren), chain after chain (from its head):
 *                     the common case; a record waits only while its parent is still running (never,
 *                     with this no-op handler: the parent has finished before the child is read)
 *   - children-first: the whole file by depth, deepest first and the roots last: the worst case, where
 *                     every record waits until its ancestors appear (90% of the trees' records, 99.9% of
 *                     the chains' are held at once)
 * Baseline: the same parents-first files without dependsOn.
 *
 * Per run: records/s, elapsed time, peak RSS (process.resourceUsage().maxRSS), the most records seen
 * waiting (engine progress sampled at every handler call and every 50 ms), and the most that the
 * data order makes wait (computed from the file, as if every record ran the instant it was ready).
 * Each run is its own process; every scenario runs REPEAT times (interleaved, as the machine is shared).
 *
 * Then the memory fit: children-first at 10%, 50% and 100% of RECORDS, each with a full GC at the peak
 * (the first handler call), against the live heap and against peak RSS minus the baseline's at that size:
 * the slopes are the bytes each waiting record costs.
 *
 * Then the target of a waiting record (≤ 100 bytes; 1M children-first records under 300 MB peak RSS):
 * each children-first run's heap and typed arrays at its peak, less those of a run without
 * dependsOn snapshotted after as many records were read (the key index, the ledger's buffers), over
 * the records waiting: the bytes each waiting record costs.
 *
 * Usage: npm run build && node bench/dependencies.mjs
 *   env RECORDS=200000 (scale down), REPEAT=1, CHAIN_LENGTH=1000, FIT=0 (skip the memory fit),
 *   ORDERS=children-first (only the baselines and that order's scenarios), FORMATS=csv (only the
 *   CSV files; default jsonl,csv; the memory fit is over the first format's files), HELD_WHOLE=1
 *   (the sources without openReader(): waiting records held whole, the cost before they were stored)
 * Time: RECORDS=200000 takes about a minute. At 1M the children-first runs took 3.5–5 minutes each on
 * 2 shared cores at load average ~20 (waiting records are stored as positions and read again);
 * `ORDERS=children-first REPEAT=1 FIT=0` (the targets alone) took 15 minutes there, and 5 minutes for
 * both formats at load average 3–7 (22:02 UTC).
 */
import { spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, statSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const RECORDS = Number(process.env.RECORDS ?? 1_000_000);
const REPEAT = Number(process.env.REPEAT ?? 2);
const CHAIN_LENGTH = Number(process.env.CHAIN_LENGTH ?? 1000);
const FIT = process.env.FIT !== '0';
const ORDERS = process.env.ORDERS?.split(',');
const FORMATS = (process.env.FORMATS ?? 'jsonl,csv').split(',');
/** The targets of a waiting record (docs/benchmarks.md). */
const TARGET_BYTES_PER_WAITING = 100;
const TARGET_PEAK_RSS_MB = 300;
const worker = new URL('./dependencies-worker.mjs', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'batchguard-bench-deps-'));
const benchStarted = performance.now();

// ---------------------------------------------------------------------------------------- the data

const TREE_PARENT = [-1, 0, 0, 0, 1, 1, 2, 2, 3, 3];
const TREE_DEPTH = [0, 1, 1, 1, 2, 2, 2, 2, 2, 2];

/** Records per structure, how many structures fit in n, and each local record's parent and depth. */
function layout(shape, n) {
  if (shape === 'trees')
    return { size: 10, count: Math.floor(n / 10), parent: (j) => TREE_PARENT[j], depth: (j) => TREE_DEPTH[j], maxDepth: 2 };
  const size = Math.min(CHAIN_LENGTH, n);
  return { size, count: Math.floor(n / size), parent: (j) => j - 1, depth: (j) => j, maxDepth: size - 1 };
}

/** Global record numbers (structure × size + local) in file order. */
function fileOrder(shape, order, n) {
  const { size, count, depth, maxDepth } = layout(shape, n);
  const out = new Uint32Array(size * count);
  let at = 0;
  if (order === 'parents-first') {
    for (let g = 0; g < out.length; g++) out[at++] = g;
  } else {
    for (let d = maxDepth; d >= 0; d--) {
      for (let s = 0; s < count; s++) for (let j = 0; j < size; j++) if (depth(j) === d) out[at++] = s * size + j;
    }
  }
  return out;
}

/**
 * The most records waiting at once if each ran the instant it was ready: a record read at position p
 * waits until the last of its ancestors has been read.
 */
function peakWaitingFromOrder(shape, n, order) {
  const { size, count, parent } = layout(shape, n);
  const total = size * count;
  const pos = new Uint32Array(total);
  for (let k = 0; k < total; k++) pos[order[k]] = k;
  const release = new Uint32Array(total);
  const diff = new Int32Array(total + 1);
  for (let s = 0; s < count; s++) {
    for (let j = 0; j < size; j++) {
      const g = s * size + j;
      const p = parent(j);
      release[g] = p < 0 ? pos[g] : Math.max(pos[g], release[s * size + p]);
      if (release[g] > pos[g]) {
        diff[pos[g]]++;
        diff[release[g]]--;
      }
    }
  }
  let now = 0;
  let peak = 0;
  for (let k = 0; k < total; k++) peak = Math.max(peak, (now += diff[k]));
  return peak;
}

const files = new Map();

/** One record as a line of the format: the JSONL object, or the CSV row under the header `id,parent,name,value`. */
function line(format, id, parentId, g) {
  if (format === 'csv') return `${id},${parentId ?? ''},item ${g},${(g % 1000) + 0.25}\n`;
  return `{"id":"${id}","parent":${parentId === undefined ? 'null' : `"${parentId}"`},"name":"item ${g}","value":${(g % 1000) + 0.25}}\n`;
}

/** Writes (once) the JSONL or CSV file of a shape, order and size; returns its path, record count and peak. */
function dataFile(shape, order, n, format = 'jsonl') {
  const name = `${shape}-${order}-${n}-${format}`;
  const cached = files.get(name);
  if (cached) return cached;
  const { size, parent } = layout(shape, n);
  const prefix = shape === 'trees' ? 't' : 'c';
  const ids = fileOrder(shape, order, n);
  const path = join(dir, `${name}.${format}`);
  const fd = openSync(path, 'w');
  let chunk = format === 'csv' ? 'id,parent,name,value\n' : '';
  for (let k = 0; k < ids.length; k++) {
    const g = ids[k];
    const s = Math.floor(g / size);
    const j = g - s * size;
    const p = parent(j);
    chunk += line(format, `${prefix}${s}-${j}`, p < 0 ? undefined : `${prefix}${s}-${p}`, g);
    if (chunk.length > 1 << 20) {
      writeSync(fd, chunk);
      chunk = '';
    }
  }
  writeSync(fd, chunk);
  closeSync(fd);
  const file = { path, records: ids.length, bytes: statSync(path).size, peakFromOrder: peakWaitingFromOrder(shape, n, ids) };
  files.set(name, file);
  return file;
}

// ------------------------------------------------------------------------------------- the runs

let runNumber = 0;

function measure(file, mode, peak = false) {
  const ledger = join(dir, `ledger-${++runNumber}.sqlite`);
  const args = ['--expose-gc', worker, file.path, ledger, mode, ...(peak ? [peak === true ? 'peak' : peak] : [])];
  const child = spawnSync(process.execPath, args, { encoding: 'utf8', maxBuffer: 1 << 20 });
  for (const suffix of ['', '-wal', '-shm']) rmSync(ledger + suffix, { force: true });
  if (child.status !== 0) throw new Error(`worker failed (${child.status}): ${child.stderr}`);
  const result = JSON.parse(child.stdout.trim().split('\n').pop());
  if (result.succeeded !== file.records || result.failed + result.skipped + result.pending !== 0) {
    throw new Error(`${file.path}: expected ${file.records} succeeded, got ${JSON.stringify(result)}`);
  }
  return result;
}

const fmtInt = (n) => Math.round(n).toLocaleString('en-US');
const mb = (bytes) => (bytes / 1024 / 1024).toFixed(0);
const pad = (s, n) => String(s).padEnd(n);
const lpad = (s, n) => String(s).padStart(n);

const scenarios = FORMATS.flatMap((format) =>
  [
    { name: 'baseline (no dependsOn), trees file', shape: 'trees', order: 'parents-first', mode: 'none' },
    { name: 'baseline (no dependsOn), chains file', shape: 'chains', order: 'parents-first', mode: 'none' },
    { name: 'trees of 10, parents-first', shape: 'trees', order: 'parents-first', mode: 'deps' },
    { name: 'trees of 10, children-first', shape: 'trees', order: 'children-first', mode: 'deps' },
    { name: `chains of ${layout('chains', RECORDS).size}, parents-first`, shape: 'chains', order: 'parents-first', mode: 'deps' },
    { name: `chains of ${layout('chains', RECORDS).size}, children-first`, shape: 'chains', order: 'children-first', mode: 'deps' },
  ].map((s) => ({ ...s, format, name: `${format}: ${s.name}` })),
);
/** The baseline run of the same format and shape. */
const baselineOf = (s) => scenarios.find((b) => b.mode === 'none' && b.format === s.format && b.shape === s.shape);
// Children-first runs also take the live heap at their peak (one full GC at the first handler call:
// well under a second, against runs of a minute or more at 1M records).
for (const s of scenarios) s.peak = s.order === 'children-first';
if (ORDERS) scenarios.splice(0, scenarios.length, ...scenarios.filter((s) => s.mode === 'none' || ORDERS.includes(s.order)));

function row(cells, widths) {
  return cells.map((cell, i) => (i === 0 ? pad(cell, widths[0]) : lpad(cell, widths[i]))).join('');
}

try {
  process.stderr.write(`writing data (${fmtInt(RECORDS)} records per file) in ${dir} …\n`);
  for (const s of scenarios) s.file = dataFile(s.shape, s.order, RECORDS, s.format);
  const first = scenarios[0].file;
  const results = new Map(scenarios.map((s) => [s, []]));
  for (let rep = 1; rep <= REPEAT; rep++) {
    for (const s of scenarios) {
      process.stderr.write(`  run ${rep}/${REPEAT}: ${s.name} … `);
      const r = measure(s.file, s.mode, s.peak);
      process.stderr.write(`${(r.elapsedMs / 1000).toFixed(1)} s\n`);
      results.get(s).push(r);
    }
  }

  console.log(
    `\nbatchguard dependsOn benchmark: ${fmtInt(first.records)} records per run (${FORMATS.map((f) => {
      const file = scenarios.find((s) => s.format === f).file;
      return `${f} ~${Math.round(file.bytes / file.records)} bytes a line`;
    }).join(', ')}), no-op handler, concurrency 4, SQLite ledger; node ${process.version}`,
  );
  console.log('waiting: observed = engine progress (read − finished − running), sampled at every handler call and every 50 ms;');
  console.log('         from order = computed from the file, as if each record ran the moment it was ready');
  console.log('live heap at peak = heapUsed after a full GC at the first handler call (children-first runs only)\n');
  const widths = [45, 5, 11, 10, 10, 12, 13, 13];
  const header = row(['scenario', 'run', 'records/s', 'elapsed', 'peak RSS', 'live heap', 'waiting', 'waiting'], widths);
  console.log(header);
  console.log(row(['', '', '', '', '', 'at peak', '(observed)', '(from order)'], widths));
  console.log('-'.repeat(header.length));
  const spreadNotes = [];
  for (const s of scenarios) {
    const runs = results.get(s);
    runs.forEach((r, i) => {
      const heap = r.atFirstCall?.heapUsed !== undefined ? `${mb(r.atFirstCall.heapUsed)} MB` : '';
      console.log(
        row(
          [
            i === 0 ? s.name : '',
            `#${i + 1}`,
            fmtInt(r.recordsPerSecond),
            `${(r.elapsedMs / 1000).toFixed(1)} s`,
            `${mb(r.maxRssBytes)} MB`,
            heap,
            fmtInt(r.peakWaiting),
            fmtInt(s.file.peakFromOrder),
          ],
          widths,
        ),
      );
    });
    if (runs.length > 1) {
      const rates = runs.map((r) => r.recordsPerSecond);
      const spread = (Math.max(...rates) - Math.min(...rates)) / Math.min(...rates);
      if (spread > 0.15) spreadNotes.push(`${s.name}: records/s differ by ${(spread * 100).toFixed(0)}%`);
    }
  }
  console.log('\nbest run relative to the best baseline run (trees file of the same format), records/s:');
  for (const s of scenarios.filter((s) => s.mode !== 'none')) {
    const best = Math.max(...results.get(s).map((r) => r.recordsPerSecond));
    const baseBest = Math.max(...results.get(baselineOf({ ...s, shape: 'trees' })).map((r) => r.recordsPerSecond));
    console.log(`  ${pad(s.name, 45)} ${(best / baseBest).toFixed(2)}×`);
  }
  if (spreadNotes.length > 0) console.log(`\nnoisy between runs (the machine is shared): ${spreadNotes.join('; ')}`);

  const waitingScenarios = scenarios.filter((s) => s.order === 'children-first');
  if (waitingScenarios.length > 0) {
    console.log(
      `\nbytes per waiting record (target ≤ ${TARGET_BYTES_PER_WAITING}) and peak RSS (target < ${TARGET_PEAK_RSS_MB} MB), children-first runs:`,
    );
    console.log('  heap + typed arrays after a full GC at the peak, less a run without dependsOn snapshotted after as many reads');
    for (const s of waitingScenarios) {
      const base = new Map();
      results.get(s).forEach((r, i) => {
        const read = r.atFirstCall.read;
        if (!base.has(read)) {
          process.stderr.write(`  baseline at ${fmtInt(read)} reads for ${s.name} … `);
          const b = measure(dataFile(s.shape, 'parents-first', RECORDS, s.format), 'none', `at=${read}`);
          process.stderr.write(`${(b.elapsedMs / 1000).toFixed(1)} s\n`);
          base.set(read, b);
        }
        const b = base.get(read).atFirstCall;
        const held = r.atFirstCall.heapUsed + r.atFirstCall.arrayBuffers - (b.heapUsed + b.arrayBuffers);
        const perWaiting = held / r.atFirstCall.waiting;
        const rssMb = r.maxRssBytes / 1024 / 1024;
        console.log(
          `  ${pad(i === 0 ? s.name : '', 45)} #${i + 1}: ${fmtInt(r.atFirstCall.waiting)} waiting, ${mb(held)} MB held: ` +
            `${fmtInt(perWaiting)} bytes a waiting record (${perWaiting <= TARGET_BYTES_PER_WAITING ? 'met' : 'missed'}); ` +
            `peak RSS ${rssMb.toFixed(0)} MB (${rssMb < TARGET_PEAK_RSS_MB ? 'met' : 'missed'})`,
        );
      });
    }
  }

  if (FIT) {
    const sizes = [...new Set([Math.round(RECORDS * 0.1), Math.round(RECORDS * 0.5)])].filter((n) => n < RECORDS);
    const points = { trees: [], chains: [] };
    const format = FORMATS[0];
    const baselineRss = (shape) => Math.min(...results.get(baselineOf({ format, shape })).map((b) => b.maxRssBytes));
    for (const shape of ['trees', 'chains']) {
      for (const n of sizes) {
        const cf = dataFile(shape, 'children-first', n, format);
        process.stderr.write(`  fit: ${shape}, children-first, ${fmtInt(cf.records)} records … `);
        const r = measure(cf, 'deps', true);
        const base = measure(dataFile(shape, 'parents-first', n, format), 'none');
        process.stderr.write(`${(r.elapsedMs / 1000).toFixed(1)} s\n`);
        points[shape].push({ records: cf.records, r, baseRss: base.maxRssBytes });
      }
      const full = scenarios.find((s) => s.format === format && s.shape === shape && s.order === 'children-first');
      for (const r of results.get(full)) points[shape].push({ records: full.file.records, r, baseRss: baselineRss(shape) });
    }
    console.log(
      `\nmemory per waiting record (${format} files): children-first runs, live heap after a full GC at the peak (first handler call)`,
    );
    const fw = [8, 11, 11, 12, 14, 11, 14, 16, 12];
    const fitHeader = row(
      ['shape', 'records', 'waiting', 'live heap', 'typed arrays', 'peak RSS', 'baseline RSS', 'RSS − baseline', 'peak heap'],
      fw,
    );
    console.log(fitHeader);
    console.log(row(['', '', '', 'at peak', 'at peak', '', '', '', '(sampled)'], fw));
    console.log('-'.repeat(fitHeader.length));
    const fits = [];
    for (const shape of ['trees', 'chains']) {
      for (const { records, r, baseRss } of points[shape]) {
        console.log(
          row(
            [
              shape,
              fmtInt(records),
              fmtInt(r.atFirstCall.waiting),
              `${mb(r.atFirstCall.heapUsed)} MB`,
              `${mb(r.atFirstCall.arrayBuffers)} MB`,
              `${mb(r.maxRssBytes)} MB`,
              `${mb(baseRss)} MB`,
              `${mb(r.maxRssBytes - baseRss)} MB`,
              `${mb(r.peakHeapSampled)} MB`,
            ],
            fw,
          ),
        );
      }
      const ps = points[shape];
      fits.push({
        shape,
        heap: linearFit(ps.map(({ r }) => [r.atFirstCall.waiting, r.atFirstCall.heapUsed])),
        rss: linearFit(ps.map(({ r, baseRss }) => [r.atFirstCall.waiting, r.maxRssBytes - baseRss])),
      });
    }
    console.log('\nleast-squares fit over the points above (y = intercept + slope × waiting):');
    for (const f of fits) {
      console.log(
        `  ${pad(f.shape, 7)} live heap: ${fmtInt(f.heap.slope)} bytes per waiting record (+ ${mb(f.heap.intercept)} MB, r² ${f.heap.r2.toFixed(3)}); ` +
          `peak RSS above baseline: ${fmtInt(f.rss.slope)} bytes per waiting record (r² ${f.rss.r2.toFixed(3)})`,
      );
    }
  }
  console.log(`\nbenchmark took ${((performance.now() - benchStarted) / 1000).toFixed(0)} s`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}

/** Least squares of y on x: slope, intercept and r². */
function linearFit(points) {
  const n = points.length;
  const mx = points.reduce((sum, [x]) => sum + x, 0) / n;
  const my = points.reduce((sum, [, y]) => sum + y, 0) / n;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (const [x, y] of points) {
    sxy += (x - mx) * (y - my);
    sxx += (x - mx) ** 2;
    syy += (y - my) ** 2;
  }
  const slope = sxx === 0 ? 0 : sxy / sxx;
  return { slope, intercept: my - slope * mx, r2: syy === 0 ? 1 : (sxy * sxy) / (sxx * syy) };
}
