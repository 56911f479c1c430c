#!/usr/bin/env node
/**
 * What loading `pg` costs a process that opens a PostgreSQL ledger: the CPU of the ledger's
 * loadPg() (src/ledger/postgres/load-pg.ts) in a fresh process, after batchguard itself is loaded,
 * and whether it made Node load its fetch implementation (undici), as pg's Cloudflare check does on
 * Node 20 unless load-pg.ts hides `Response` meanwhile. RUNS processes (default 5), one line each.
 * Usage: npm run build && node bench/pg-load.mjs   (BATCHGUARD_DIST=/other/checkout/dist measures another build)
 */
import { execFileSync } from 'node:child_process';
import { loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const DIST = resolve(process.env.BATCHGUARD_DIST ?? new URL('../dist', import.meta.url).pathname);
const RUNS = Number(process.env.RUNS ?? 5);
const child = `
const dist = ${JSON.stringify(pathToFileURL(DIST).href)};
await import(dist + '/index.js');
const { loadPg } = await import(dist + '/ledger/postgres/load-pg.js');
const before = process.cpuUsage();
loadPg('ledger');
const { user, system } = process.cpuUsage(before);
console.log(JSON.stringify({ loadPgCpuMs: Math.round((user + system) / 1000), fetchLoaded: process.moduleLoadList.some((m) => m.includes('undici')) }));
`;
console.log(`build: ${DIST}; node ${process.version}`);
for (let i = 0; i < RUNS; i++) {
  const line = execFileSync(process.execPath, ['--input-type=module', '-e', child], { cwd: join(DIST, '..') })
    .toString()
    .trim();
  console.log(JSON.stringify({ ...JSON.parse(line), load1: Number(loadavg()[0].toFixed(2)) }));
}
