import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

export const BIN = resolve(import.meta.dirname, '../../bin/batchguard.js');

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/**
 * Starts the real CLI (built dist/) in `cwd`; `wrap` is a command prefix that runs it (e.g. in a
 * new PID namespace), which then gets `node <bin> <args>` as its arguments.
 *
 * The log is the human one (`BATCHGUARD_LOG_FORMAT=pretty`), although stderr is a pipe here, where
 * the CLI logs JSON by default: most tests read the lines a person reads. `env:
 * { BATCHGUARD_LOG_FORMAT: '' }` gives the default (test/e2e/json-log.test.ts reads that).
 */
export function spawnCli(
  args: string[],
  options: { cwd: string; env?: Record<string, string>; wrap?: string[] },
): ChildProcess & { result: Promise<CliResult> } {
  const [command, ...prefix] = [...(options.wrap ?? []), process.execPath, BIN, ...args] as [string, ...string[]];
  const child = spawn(command, prefix, {
    cwd: options.cwd,
    env: { ...process.env, BATCHGUARD_LOG_FORMAT: 'pretty', ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk) => (stdout += chunk));
  child.stderr?.on('data', (chunk) => (stderr += chunk));
  const result = new Promise<CliResult>((done) => {
    child.on('close', (code, signal) => done({ code, signal, stdout, stderr }));
  });
  return Object.assign(child, { result });
}

/** Runs the CLI to its end. */
export function runCli(args: string[], options: { cwd: string; env?: Record<string, string> }): Promise<CliResult> {
  return spawnCli(args, options).result;
}

/** Writes `count` JSONL records `{ id, name }` to `dir/name` and returns the path. */
export function writeJsonl(
  dir: string,
  name: string,
  count: number,
  make: (i: number) => unknown = (i) => ({ id: i, name: `record-${i}` }),
): string {
  const path = join(dir, name);
  const lines: string[] = [];
  for (let i = 0; i < count; i++) lines.push(JSON.stringify(make(i)));
  writeFileSync(path, `${lines.join('\n')}\n`);
  return path;
}

/** Resolves once `check()` is (or resolves to) true, polling every 20 ms (fails after `timeoutMs`). */
export async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const started = Date.now();
  while (!(await check())) {
    if (Date.now() - started > timeoutMs) throw new Error('waitFor: condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** `promise`, or a rejection naming `what` once `timeoutMs` passed: a bounded wait whose caller can still clean up. */
export async function within<T>(promise: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not done in ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** Writes `dir/records.jsonl` (`count` records) and `dir/job.mjs`: job `name` over them, with a handler that does nothing. */
export function writeNoopJob(dir: string, name: string, count: number): void {
  const records = writeJsonl(dir, 'records.jsonl', count);
  writeFileSync(
    join(dir, 'job.mjs'),
    `import { defineJob, jsonl } from 'batchguard';
export default defineJob({ name: ${JSON.stringify(name)}, source: jsonl(${JSON.stringify(records)}), key: (r) => String(r.id), handler: async () => {} });
`,
  );
}
