/**
 * What a run loads decides how long a short job takes (bench/startup.mjs measures the time; this
 * checks the causes, which do not depend on the machine's speed): an .mjs job over a JSONL file
 * with the default SQLite ledger must not load tsx, csv-parse, the other commands' modules, the
 * PostgreSQL ledger's code, metrics or alerting (node:http), nor create an Intl.NumberFormat
 * (the first one loads ICU data).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { BIN, writeJsonl } from '../helpers/cli.js';
import { tempDir } from '../helpers/temp.js';
import { spawn } from 'node:child_process';

const ROOT = resolve(import.meta.dirname, '../..');

/**
 * Runs the CLI with a preload that logs every file loaded and every Intl.NumberFormat created:
 * `files` as logged, `lines` with each file of dist/bundle/ replaced by the modules of dist/ whose
 * code it holds (the bundler marks each with a `// dist/<path>` line).
 */
async function loadedBy(dir: string, args: string[]): Promise<{ code: number | null; files: string[]; lines: string[] }> {
  const log = join(dir, 'loaded.log');
  writeFileSync(
    join(dir, 'log-hook.mjs'),
    `
import { appendFileSync } from 'node:fs';
let log;
export function initialize(data) { log = data.log; }
export async function load(url, context, next) { appendFileSync(log, url + '\\n'); return next(url, context); }
`,
  );
  writeFileSync(
    join(dir, 'preload.mjs'),
    `
import { register } from 'node:module';
import { appendFileSync } from 'node:fs';
const log = ${JSON.stringify(log)};
register(${JSON.stringify(pathToFileURL(join(dir, 'log-hook.mjs')).href)}, import.meta.url, { data: { log } });
Intl.NumberFormat = new Proxy(Intl.NumberFormat, { construct(target, args) { appendFileSync(log, 'new Intl.NumberFormat\\n'); return new target(...args); } });
`,
  );
  writeFileSync(log, '');
  const child = spawn(process.execPath, ['--import', pathToFileURL(join(dir, 'preload.mjs')).href, BIN, ...args], {
    cwd: dir,
    stdio: 'ignore',
  });
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  const files = readFileSync(log, 'utf8').split('\n').filter(Boolean);
  return { code, files, lines: files.flatMap(modulesIn) };
}

const BUNDLE = pathToFileURL(join(ROOT, 'dist/bundle/')).href;

/** The modules of dist/ whose code the file at `url` holds: itself, unless it is one of the bundle. */
function modulesIn(url: string): string[] {
  if (!url.startsWith(BUNDLE)) return [url];
  const marked = readFileSync(fileURLToPath(url), 'utf8').matchAll(/^\/\/ (dist\/\S+\.js)$/gm);
  return [...new Set([...marked].map((match) => pathToFileURL(join(ROOT, match[1] as string)).href))];
}

function job(dir: string, file: string): void {
  writeJsonl(dir, 'records.jsonl', 3);
  writeFileSync(
    join(dir, file),
    `
import { defineJob, jsonl } from 'batchguard';
export default defineJob({ name: 'startup', source: jsonl('records.jsonl'), key: (r) => String(r.id), handler: async () => {} });
`,
  );
}

/** What a plain run of an .mjs job over JSONL, on the default SQLite ledger, must not load. */
const NOT_FOR_A_PLAIN_RUN =
  /\/tsx\/|csv-parse|(status|failures|replay|rerun|worker)-command\.js|new Intl\.NumberFormat|\/ledger\/postgres\/(postgres|open-postgres)-ledger\.js|\/postgres\/workers\/|\/observe\/metrics\.js|\/observe\/alerts\/alerting\.js|\/use-cases\/dry-run\.js|^node:http$/;

describe('what a run loads', () => {
  it('an .mjs job over JSONL loads no tsx, no csv-parse, no other command, no PostgreSQL ledger, no metrics or alerts, and no Intl.NumberFormat', async () => {
    const dir = tempDir();
    job(dir, 'job.mjs');
    const { code, lines } = await loadedBy(dir, ['run', 'job.mjs']);
    expect(code).toBe(0);
    expect(lines.some((line) => line.endsWith('/dist/cli/run-command.js'))).toBe(true);
    expect(lines.filter((line) => NOT_FOR_A_PLAIN_RUN.test(line))).toEqual([]);
  }, 60_000);

  it("loads batchguard's code from a few files of dist/bundle/, not one file per module", async () => {
    const dir = tempDir();
    job(dir, 'job.mjs');
    const { code, files, lines } = await loadedBy(dir, ['run', 'job.mjs']);
    expect(code).toBe(0);
    const ours = files.filter((file) => file.startsWith(pathToFileURL(join(ROOT, 'dist/')).href));
    // The resolve hook runs in the loader thread, a module of its own (a scratch folder needs it).
    expect(ours.filter((file) => !file.startsWith(BUNDLE) && !file.endsWith('/dist/cli/resolve-hook.js'))).toEqual([]);
    // Each file is a read, a compile and a link; the modules they hold are some 130.
    expect(ours.length).toBeLessThan(40);
    expect(lines.filter((line) => line.includes('/dist/')).length).toBeGreaterThan(100);
  }, 60_000);

  it('a .ts job loads tsx (the check above can see it)', async () => {
    const dir = tempDir();
    job(dir, 'job.ts');
    const { code, lines } = await loadedBy(dir, ['run', 'job.ts']);
    expect(code).toBe(0);
    expect(lines.some((line) => line.includes('/tsx/'))).toBe(true);
  }, 60_000);

  it('metrics load node:http, and a dry run over a postgres:// ledger loads the dry run and the PostgreSQL ledger (the check sees them)', async () => {
    const dir = tempDir();
    job(dir, 'job.mjs');
    const metrics = await loadedBy(dir, ['run', 'job.mjs', '--metrics-port', '0']);
    expect(metrics.code).toBe(0);
    expect(metrics.lines.filter((line) => NOT_FOR_A_PLAIN_RUN.test(line)).sort()).toEqual([
      expect.stringMatching(/\/dist\/observe\/metrics\.js$/),
      'node:http',
    ]);
    // Nothing listens on port 1: the ledger's first call fails, after its code was loaded.
    const dry = await loadedBy(dir, ['run', 'job.mjs', '--dry-run', '--ledger', 'postgres://batchguard@127.0.0.1:1/nowhere']);
    expect(dry.code).toBe(4);
    const loaded = dry.lines.filter((line) => NOT_FOR_A_PLAIN_RUN.test(line));
    expect(loaded).toContainEqual(expect.stringMatching(/\/dist\/use-cases\/dry-run\.js$/));
    expect(loaded).toContainEqual(expect.stringMatching(/\/dist\/ledger\/postgres\/postgres-ledger\.js$/));
  }, 60_000);
});
