/**
 * Handler code that breaks out of the engine, through the real CLI: `process.exit` mid-run, a throw
 * in a timer callback, a rejection nobody awaited, results the output cannot serialise, values that
 * cannot even be inspected. None of them may make the run look successful or finished, kill the
 * process, or cost a record its single outcome.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli, writeJsonl, type CliResult } from '../helpers/cli.js';
import { tempDir } from '../helpers/temp.js';

/** The exit codes this file is about (src/cli/exit-codes.ts). */
const EXIT_UNCAUGHT = 6;
const EXIT_EXITED = 7;

/**
 * Writes `job.mjs` over `count` JSONL records `{ id }`, with an output file `out.jsonl`; `handler` is
 * the body of `async (r, ctx) => { … }`, `top` is code at the module's top level.
 */
function writeJob(dir: string, count: number, handler: string, options: { top?: string; extra?: string } = {}): void {
  writeJsonl(dir, 'records.jsonl', count);
  writeFileSync(
    join(dir, 'job.mjs'),
    `
import { existsSync, writeFileSync } from 'node:fs';
import { defineJob, jsonl, jsonlOutput } from 'batchguard';
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const marker = ${JSON.stringify(join(dir, 'marker'))};
${options.top ?? ''}
export default defineJob({
  name: 'hostile',
  source: jsonl(${JSON.stringify(join(dir, 'records.jsonl'))}),
  key: (r) => String(r.id),
  concurrency: 4,
  output: jsonlOutput(${JSON.stringify(join(dir, 'out.jsonl'))}),
  ${options.extra ?? ''}
  handler: async (r, ctx) => {
    ${handler}
  },
});
`,
  );
}

// A short lease: a run that died is taken over after it, and these tests make runs die on purpose.
const run = (dir: string, env?: Record<string, string>): Promise<CliResult> =>
  runCli(['run', 'job.mjs', '--json', '--no-progress', '--lease', '1s'], { cwd: dir, env });

/** The ids in out.jsonl, checked to be distinct. */
function outputIds(dir: string): number[] {
  const path = join(dir, 'out.jsonl');
  if (!existsSync(path)) return [];
  const ids = readFileSync(path, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => (JSON.parse(line) as { id: number }).id);
  expect(new Set(ids).size, 'output lines are distinct').toBe(ids.length);
  return ids;
}

async function failures(
  dir: string,
): Promise<{ key: string; kind: string; error: { name: string; message: string; cause?: { name: string; message: string } } }[]> {
  const result = await runCli(['failures', 'job.mjs', '--format', 'jsonl'], { cwd: dir });
  expect(result.code).toBe(0);
  return result.stdout
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line));
}

async function status(dir: string): Promise<{ total: number; succeeded: number; failed: number; skipped: number; pending: number }> {
  const result = await runCli(['status', 'job.mjs', '--json'], { cwd: dir });
  expect(result.code).toBe(0);
  return JSON.parse(result.stdout);
}

describe('a handler that calls process.exit mid-run', () => {
  it('never yields exit 0; the next run finishes every record exactly once', async () => {
    const dir = tempDir();
    writeJob(
      dir,
      300,
      `
    await sleep(1);
    if (r.id === 150 && !existsSync(marker)) {
      writeFileSync(marker, '');
      process.exit(0);
    }
    return { id: r.id };`,
    );

    const died = await run(dir);
    expect(died.code).toBe(EXIT_EXITED);
    expect(died.stderr).toMatch(/process\.exit\(0\)/);
    expect(died.stderr).toContain('record "150"');
    expect(died.stderr).toContain('batchguard run');

    const resumed = await run(dir);
    expect(resumed.code).toBe(0);
    expect(JSON.parse(resumed.stdout)).toMatchObject({ status: 'completed', total: 300, succeeded: 300, failed: 0, pending: 0 });
    expect(outputIds(dir).sort((a, b) => a - b)).toEqual(Array.from({ length: 300 }, (_, i) => i));
  }, 60_000);

  it('a record that exits every time is quarantined as crashed after maxCrashes runs alone, each of which exits non-zero', async () => {
    const dir = tempDir();
    writeJob(
      dir,
      200,
      `
    await sleep(1);
    if (r.id === 42) process.exit(0);
    return { id: r.id };`,
    );

    const codes: (number | null)[] = [];
    let last: CliResult | undefined;
    // Found by bisection (docs/semantics.md): at concurrency 4, up to 1 + log2(4) + maxCrashes deaths.
    while (codes.length < 8 && codes[codes.length - 1] !== 0) {
      last = await run(dir);
      codes.push(last.code);
    }
    expect(codes.length).toBeGreaterThanOrEqual(5);
    expect(codes.length).toBeLessThanOrEqual(7);
    expect(codes).toEqual([...codes.slice(0, -1).map(() => EXIT_EXITED), 0]);
    expect(JSON.parse((last as CliResult).stdout)).toMatchObject({
      status: 'completed',
      total: 200,
      succeeded: 199,
      failed: 1,
      pending: 0,
    });
    expect((await failures(dir)).map((f) => [f.key, f.kind])).toEqual([['42', 'crashed']]);
    expect(outputIds(dir)).toHaveLength(199);
  }, 90_000);
});

describe("job code that tampers with the process's exit", () => {
  // Every record fails for good, so the run's own exit code is 1 (threshold exceeded); mid-run, 7.
  const EXIT_THRESHOLD = 1;
  it.each([
    { name: 'process.exit replaced by a no-op', top: 'process.exit = () => {};', code: EXIT_THRESHOLD },
    {
      name: "an 'exit' listener setting process.exitCode = 0",
      top: "process.on('exit', () => { process.exitCode = 0; });",
      code: EXIT_THRESHOLD,
    },
    { name: "an 'exit' listener calling process.exit(0)", top: "process.on('exit', () => process.exit(0));", code: EXIT_THRESHOLD },
    {
      name: "process.exit(0) mid-run, with an 'exit' listener setting process.exitCode = 0",
      top: "process.on('exit', () => { process.exitCode = 0; });",
      handler: 'if (r.id === 5) process.exit(0);',
      code: EXIT_EXITED,
    },
    {
      name: 'process.reallyExit(0) mid-run (the hook process.exit ends in)',
      handler: 'if (r.id === 5) process.reallyExit(0);',
      code: EXIT_EXITED,
    },
  ])(
    'cannot turn the exit code to 0: $name',
    async ({ top, handler, code }) => {
      const dir = tempDir();
      writeJob(dir, 20, `${handler ?? ''}\n    await sleep(1);\n    throw new Error('no ' + r.id);`, {
        top,
        extra: "retry: { maxAttempts: 1 }, classify: () => 'fatal',",
      });
      const result = await run(dir);
      expect(result.code, result.stderr).toBe(code);
      if (code === EXIT_EXITED) expect(result.stderr).toContain('record "5"');
    },
    60_000,
  );
});

it('replay: a handler that calls process.exit(0) makes the replay exit 7, naming the record', async () => {
  const dir = tempDir();
  writeJob(dir, 10, 'if (r.id === 3) process.exit(0);\n    return { id: r.id };');
  const result = await runCli(['replay', 'job.mjs', '3'], { cwd: dir });
  expect(result.code, result.stderr).toBe(EXIT_EXITED);
  expect(result.stderr).toContain('the handler of record "3" called process.exit(0) during the replay');
}, 30_000);

describe('errors that escape the handler', () => {
  it('a throw in a timer callback and an unawaited rejection fail the record they came from', async () => {
    const dir = tempDir();
    writeJob(
      dir,
      100,
      `
    if (r.id === 7) {
      await new Promise((resolve) => {
        setTimeout(() => { throw new TypeError('timer callback broke for ' + r.id); }, 1);
        setTimeout(resolve, 20_000);
      });
    }
    if (r.id === 9) {
      Promise.reject(new RangeError('nobody awaited this, record ' + r.id));
      await sleep(20_000);
    }
    await sleep(1);
    return { id: r.id };`,
    );

    const result = await run(dir);
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ status: 'completed', total: 100, succeeded: 98, failed: 2, pending: 0 });
    const failed = (await failures(dir)).sort((a, b) => Number(a.key) - Number(b.key));
    expect(failed).toHaveLength(2);
    expect(failed[0]).toMatchObject({ key: '7', kind: 'fatal', error: { name: 'TypeError', message: 'timer callback broke for 7' } });
    expect(failed[1]).toMatchObject({ key: '9', kind: 'fatal', error: { name: 'RangeError', message: 'nobody awaited this, record 9' } });
    expect(outputIds(dir)).toHaveLength(98);
  }, 60_000);

  it('an error no record can be blamed for stops the run cleanly (exit 6, summary, committed); the next run resumes', async () => {
    const dir = tempDir();
    writeJob(
      dir,
      400,
      `
    await sleep(10);
    return { id: r.id };`,
      {
        top: `if (process.env.STRAY) setTimeout(() => { throw new Error('stray timer outside any record'); }, 300);`,
      },
    );

    const stopped = await run(dir, { STRAY: '1' });
    expect(stopped.code).toBe(EXIT_UNCAUGHT);
    const summary = JSON.parse(stopped.stdout);
    expect(summary.status).toBe('uncaught-error');
    expect(summary.reason).toContain('stray timer outside any record');
    expect(summary.next).toContain('batchguard run job.mjs');
    expect(summary.succeeded).toBeGreaterThan(0);
    expect(summary.succeeded).toBeLessThan(400);
    expect(stopped.stderr).toContain('Error: stray timer outside any record');
    expect(await status(dir)).toMatchObject({ succeeded: summary.succeeded });

    const resumed = await run(dir);
    expect(resumed.code).toBe(0);
    expect(JSON.parse(resumed.stdout)).toMatchObject({
      status: 'completed',
      total: 400,
      succeeded: 400,
      pending: 0,
      alreadyDone: summary.succeeded,
    });
    expect(outputIds(dir)).toHaveLength(400);
  }, 60_000);
});

describe('values the engine cannot serialise or inspect', () => {
  it('fail their own record (fatal), every other record succeeds, nothing crashes', async () => {
    const dir = tempDir();
    // Spread out, so that the failures do not look like an outage to the breaker.
    writeJob(
      dir,
      200,
      `
    await sleep(1);
    switch (r.id) {
      case 20: return { id: r.id, rows: 10n };
      case 40: { const loop = { id: r.id }; loop.self = loop; return loop; }
      case 60: return { id: r.id, toJSON() { throw new Error('toJSON refused'); } };
      case 80: { const { proxy, revoke } = Proxy.revocable({}, {}); revoke(); throw proxy; }
      case 100: throw new Proxy({}, { get() { throw new Error('trap'); }, getPrototypeOf() { throw new Error('trap'); }, ownKeys() { throw new Error('trap'); } });
      case 120: throw null;
      case 140: throw Symbol('a symbol');
      case 160: return { get then() { throw new Error('then getter'); } };
    }
    return { id: r.id };`,
    );

    const result = await run(dir);
    expect(result.stderr).not.toMatch(/bug in batchguard/);
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ status: 'completed', total: 200, succeeded: 192, failed: 8, pending: 0 });
    const failed = (await failures(dir)).sort((a, b) => Number(a.key) - Number(b.key));
    expect(failed.map((f) => f.key)).toEqual(['20', '40', '60', '80', '100', '120', '140', '160']);
    expect(failed.filter((f) => f.kind === 'crashed')).toEqual([]);
    for (const unwritable of failed.slice(0, 3)) {
      expect(unwritable.kind).toBe('fatal');
      expect(unwritable.error.message).toContain('could not be written');
    }
    expect(failed[0]?.error.cause?.message).toMatch(/BigInt/);
    expect(failed[1]?.error.cause?.message).toMatch(/circular/);
    expect(failed[2]?.error.cause?.message).toBe('toJSON refused');
    expect(outputIds(dir)).toHaveLength(192);
  }, 60_000);
});
