#!/usr/bin/env node
/**
 * Side-by-side benchmark: the same generated JSONL input (~100-byte records) and the same handlers
 * (no-op; failing: 5% transiently once, 1% fatally; I/O-bound: waits 2 ms) through every contender
 * of compare/contenders.mjs, each in its own child process. For each: records/s and its ratio to
 * the bare loop over the same input, peak RSS, and, after a SIGKILL at 90% of the records done, the
 * time from the restart to the first new record and the number of records handed to the handler
 * again. Prints markdown tables and writes docs/benchmarks.md (figures kept per size, handler and
 * contender in docs/benchmarks.json, so a run replaces only the cells it measures; each cell names
 * the run that measured it, and "Where and when" lists every run that still has cells).
 *
 * Environment (defaults in brackets):
 *   SIZES=10000,100000,1000000   record counts
 *   HANDLERS=noop,failing,io     handlers
 *   ONLY=bare,batchguard-sqlite  contenders by id (all)
 *   CRASH_HANDLERS=noop          handlers with the crash-and-resume measurement
 *   MAX_SECONDS=300              skip a contender at a size where its run is estimated longer
 *                                (from its smaller sizes: the measured growth, or the known one)
 *   CONCURRENCY=8                records in flight for BullMQ, pg-boss and batchguard
 *   REPEATS=1                    timed runs per cell: the median is shown, with the range of all
 *   CRASH_MAX_SECONDS=300        no crash measurement after a run longer than this (it costs as much again)
 *   END_BY=2026-01-01T11:00Z     leave out what would not finish by then (estimated), and say so
 * Usage: npm run bench   (SIZES=10000 npm run bench for a quick look)
 */
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as prettier from 'prettier';
import { CONTENDERS } from './compare/contenders.mjs';
import { writeInput } from './compare/input.mjs';
import { measure } from './compare/measure.mjs';
import { HANDLER_TITLES, renderRuns, renderTables } from './compare/report.mjs';
import { services } from './compare/services.mjs';

const list = (name, fallback) =>
  (process.env[name] ?? fallback)
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
/** `values`, after checking each is one of `known`: a misspelt name would silently measure nothing. */
function known(name, values, knownValues) {
  const unknown = values.filter((value) => !knownValues.includes(value));
  if (unknown.length > 0) {
    process.stderr.write(`${name}: unknown ${unknown.map((v) => JSON.stringify(v)).join(', ')}; known: ${knownValues.join(', ')}\n`);
    process.exit(2);
  }
  return values;
}
const sizeTexts = list('SIZES', '10000,100000,1000000');
const badSize = sizeTexts.find((text) => !/^\d+$/.test(text) || Number(text) < 10);
if (badSize !== undefined) {
  process.stderr.write(`SIZES: ${JSON.stringify(badSize)} is not a number of records (a whole number, at least 10)\n`);
  process.exit(2);
}
const SIZES = sizeTexts.map(Number);
const HANDLERS = known('HANDLERS', list('HANDLERS', Object.keys(HANDLER_TITLES).join(',')), Object.keys(HANDLER_TITLES));
const ONLY = known(
  'ONLY',
  list('ONLY', CONTENDERS.map((c) => c.id).join(',')),
  CONTENDERS.map((c) => c.id),
);
const CRASH_HANDLERS = known('CRASH_HANDLERS', list('CRASH_HANDLERS', 'noop'), Object.keys(HANDLER_TITLES));
const MAX_SECONDS = Number(process.env.MAX_SECONDS ?? 300);
const CRASH_MAX_SECONDS = Number(process.env.CRASH_MAX_SECONDS ?? MAX_SECONDS);
const CONCURRENCY = Number(process.env.CONCURRENCY ?? 8);
const REPEATS = Number(process.env.REPEATS ?? 1);
if (!Number.isInteger(REPEATS) || REPEATS < 1) {
  process.stderr.write(`REPEATS: ${JSON.stringify(process.env.REPEATS)} is not a number of runs (a whole number, at least 1)\n`);
  process.exit(2);
}
const END_BY = process.env.END_BY ? Date.parse(process.env.END_BY) : undefined;
process.env.CONCURRENCY = String(CONCURRENCY);

const docs = new URL('../docs/', import.meta.url);
const jsonPath = new URL('benchmarks.json', docs);
const saved = existsSync(jsonPath) ? JSON.parse(readFileSync(jsonPath, 'utf8')) : { sizes: {} };
/** This run of the harness, named by when it started: every cell it measures carries it. */
const RUN = new Date().toISOString();
const log = (line) => process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${line}\n`);

/** Writes `text` to `path` as prettier formats it: `npm test` checks the docs' format. */
async function writeFormatted(path, text) {
  writeFileSync(path, await prettier.format(text, { ...(await prettier.resolveConfig(path)), filepath: path }));
}

/** Seconds the run at `count` should take, from the same contender's runs at smaller sizes. */
function estimateSeconds(history, count, growth) {
  if (history.length === 0) return 0;
  const last = history[history.length - 1];
  let exponent = growth ?? 1;
  if (history.length >= 2) {
    const before = history[history.length - 2];
    exponent = Math.max(exponent, Math.log(last.seconds / before.seconds) / Math.log(last.count / before.count));
  }
  return last.seconds * (count / last.count) ** exponent;
}

function machine() {
  const cpu = cpus();
  return {
    date: new Date().toISOString(),
    node: process.version,
    nproc: cpu.length,
    cpu: cpu[0]?.model?.trim(),
    memoryGiB: Number((totalmem() / 2 ** 30).toFixed(1)),
    loadAverage: loadavg().map((l) => Number(l.toFixed(1))),
  };
}

const available = await services();
const dir = mkdtempSync(join(tmpdir(), 'batchguard-compare-'));
const inputs = new Map();

/**
 * Run times by contender and handler, smallest size first, for the skip estimates: seeded from the
 * figures kept in docs/benchmarks.json, so a size run on its own is estimated from the earlier ones.
 */
const history = new Map();
function seedHistory(below) {
  history.clear();
  for (const [n, size] of Object.entries(saved.sizes).sort(([a], [b]) => Number(a) - Number(b))) {
    if (Number(n) >= below) continue;
    for (const [handler, row] of Object.entries(size.handlers)) {
      for (const [id, cell] of Object.entries(row)) {
        const key = `${id}/${handler}`;
        if (cell.status === 'ok') history.set(key, [...(history.get(key) ?? []), { count: Number(n), seconds: cell.wallMs / 1000 }]);
      }
    }
  }
}

/** Drops the runs of a size that no cell names any more (all their cells were measured again). */
function forgetUnusedRuns(size) {
  const named = new Set(Object.values(size.handlers).flatMap((row) => Object.values(row).map((c) => c.run)));
  for (const run of Object.keys(size.runs)) if (!named.has(run)) delete size.runs[run];
}

/** The input file of `count` records, written once per run of the harness. */
async function inputOf(count) {
  if (!inputs.has(count)) {
    const path = join(dir, `records-${count}.jsonl`);
    await writeInput(path, count);
    inputs.set(count, path);
  }
  return inputs.get(count);
}

/** One table cell: a measurement, or why there is none. */
async function cell(contender, handler, count) {
  const key = `${contender.id}/${handler}`;
  const past = history.get(key) ?? [];
  history.set(key, past);
  if (contender.file === undefined) return { status: 'unavailable', note: 'not built yet' };
  if (contender.needs && !available[contender.needs]) return { status: 'unavailable', note: `${contender.needs} not reachable` };
  const estimate = estimateSeconds(past, count, contender.growth);
  if (estimate > MAX_SECONDS) return { status: 'skipped', note: `skipped: estimated ${Math.round(estimate)} s > ${MAX_SECONDS} s` };
  if (END_BY !== undefined && Date.now() + estimate * (REPEATS + 1) * 1000 > END_BY)
    return { status: 'skipped', note: 'not run: out of time' };
  log(`${contender.id} × ${handler} × ${count}${estimate ? ` (estimated ${Math.round(estimate)} s)` : ''}`);
  try {
    const figures = await measure({
      file: contender.file,
      handler,
      input: await inputOf(count),
      count,
      repeats: REPEATS,
      crash: CRASH_HANDLERS.includes(handler),
      crashMaxSeconds: CRASH_MAX_SECONDS,
      timeoutMs: Math.max(3 * MAX_SECONDS, 60) * 1000,
    });
    past.push({ count, seconds: figures.wallMs / 1000 });
    const spread = figures.runsMs ? ` (median of ${figures.runsMs.length}: ${figures.runsMs.map(Math.round).join(', ')} ms)` : '';
    log(
      `  ${Math.round(figures.recordsPerSecond)} records/s${spread}, ${(figures.maxRssBytes / 2 ** 20).toFixed(0)} MB${figures.redone === undefined ? '' : `, resume ${Math.round(figures.resumeMs)} ms, redone ${figures.redone}`}`,
    );
    return { status: 'ok', ...figures };
  } catch (error) {
    log(`  failed: ${error.message}`);
    return { status: 'error', note: `failed: ${error.message}`.slice(0, 200) };
  }
}

try {
  // Handler by handler, smaller sizes first: the no-op figures (the engine's own cost) come first,
  // and each size's time is known before a larger one is tried.
  for (const handler of HANDLERS) {
    for (const count of SIZES) {
      seedHistory(count);
      // Cells of handlers and contenders left out of this run (HANDLERS, ONLY) keep their earlier
      // figures, and the run that measured them. A size, row or run is made by its first cell.
      for (const contender of CONTENDERS.filter((c) => ONLY.includes(c.id))) {
        const size = (saved.sizes[count] ??= { handlers: {}, runs: {} });
        const row = (size.handlers[handler] ??= {});
        size.runs[RUN] ??= {
          machine: machine(),
          maxSeconds: MAX_SECONDS,
          crashMaxSeconds: CRASH_MAX_SECONDS,
          concurrency: CONCURRENCY,
          repeats: REPEATS,
        };
        const load = Number(loadavg()[0].toFixed(1));
        row[contender.id] = { ...(await cell(contender, handler, count)), run: RUN, at: new Date().toISOString(), load };
        forgetUnusedRuns(size);
        await writeFormatted(fileURLToPath(jsonPath), JSON.stringify(saved));
      }
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}

const results = Object.fromEntries(Object.entries(saved.sizes).map(([n, size]) => [n, size.handlers]));
const tables = renderTables(results);
console.log(tables);
const intro = readFileSync(new URL('./compare/benchmarks-intro.md', import.meta.url), 'utf8').trim();
const docPath = fileURLToPath(new URL('benchmarks.md', docs));
const doc = `${intro}

## Where and when these figures were measured

${renderRuns(saved.sizes)}

## Figures

${tables}
`;
await writeFormatted(docPath, doc);
