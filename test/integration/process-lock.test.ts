/**
 * The run's process lock (src/ledger/sqlite/process-lock.ts) between real processes: held by one,
 * refused to another until released or until its holder dies. Its file holds no data, so taking it
 * writes no journal beside it (a journal on disk cost three fsyncs at every run's start).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ProcessLock } from '../../src/ledger/sqlite/process-lock.js';
import { tempDir } from '../helpers/temp.js';

const MODULE = pathToFileURL(resolve(import.meta.dirname, '../../src/ledger/sqlite/process-lock.ts')).href;

/** Whether another process can take the lock at `path` now (it releases it at once). */
function otherProcessTakes(path: string): boolean {
  const code = `import { ProcessLock } from ${JSON.stringify(MODULE)}; const lock = new ProcessLock(${JSON.stringify(path)}); process.stdout.write(String(lock.tryTake())); lock.release();`;
  const result = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(result.stderr);
  return result.stdout === 'true';
}

/** A process that takes the lock at `path` and holds it until killed; resolves once it holds it. */
async function holder(path: string): Promise<ChildProcess> {
  const code = `import { ProcessLock } from ${JSON.stringify(MODULE)}; const lock = new ProcessLock(${JSON.stringify(path)}); process.stdout.write(String(lock.tryTake())); setInterval(() => {}, 1000);`;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
  const took = await new Promise<string>((done) => child.stdout.once('data', (data: Buffer) => done(data.toString())));
  expect(took).toBe('true');
  return child;
}

describe('process lock', () => {
  it('is refused to another process while held, and taken once released', () => {
    const path = join(tempDir(), 'ledger.sqlite.lock');
    const lock = new ProcessLock(path);
    expect(lock.tryTake()).toBe(true);
    expect(otherProcessTakes(path)).toBe(false);
    lock.release();
    expect(otherProcessTakes(path)).toBe(true);
  }, 30_000);

  it('is refused while another process holds it, and free once that process is killed', async () => {
    const path = join(tempDir(), 'ledger.sqlite.lock');
    const child = await holder(path);
    const lock = new ProcessLock(path);
    try {
      expect(lock.tryTake()).toBe(false);
      child.kill('SIGKILL');
      await new Promise((done) => child.once('exit', done));
      expect(lock.tryTake()).toBe(true);
    } finally {
      child.kill('SIGKILL');
      lock.release();
    }
  }, 30_000);

  it('writes no journal file while held', () => {
    const path = join(tempDir(), 'ledger.sqlite.lock');
    const lock = new ProcessLock(path);
    expect(lock.tryTake()).toBe(true);
    try {
      expect(existsSync(`${path}-journal`)).toBe(false);
    } finally {
      lock.release();
    }
  });
});
