import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach } from 'vitest';

const made: string[] = [];

/** A fresh temporary folder, removed after the test. */
export function tempDir(prefix = 'batchguard-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  made.push(dir);
  return dir;
}

afterEach(() => {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/**
 * A temporary folder for a whole test file (call it at the top of the file; it is removed after all
 * its tests) and `file(content)`, which writes `content` to a new file `f<n><extension>` in it and
 * returns the path.
 */
export function tempFiles(prefix: string, extension: string): { dir: string; file: (content: string | Buffer) => string } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  let files = 0;
  const file = (content: string | Buffer): string => {
    const path = join(dir, `f${files++}${extension}`);
    writeFileSync(path, content);
    return path;
  };
  return { dir, file };
}
