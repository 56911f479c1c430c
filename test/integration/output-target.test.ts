/**
 * `jsonlOutput(path)` writes a regular file: it keeps the file's committed length, and cuts the
 * file back to it after a crash so that no line is written twice. A named pipe, a device
 * (`/dev/stdout`) or a folder cannot be cut back: the run is refused with a SinkError (exit code 2)
 * before anything is written, and no `.owner` file is made beside it (before: `ESPIPE` from deep
 * inside with exit code 70, and `/dev/stdout.owner` written into /dev when run as root).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { runJob } from '../../src/engine/run-job.js';
import { SinkError } from '../../src/errors.js';
import { jsonlOutput } from '../../src/sinks/jsonl-output.js';
import { itemsJob } from '../helpers/jobs.js';
import { tempDir } from '../helpers/temp.js';

it.each([
  { what: 'a named pipe (FIFO)', make: (path: string) => execFileSync('mkfifo', [path]) },
  { what: 'a folder', make: (path: string) => mkdirSync(path) },
])('refuses an output that is $what, writing nothing beside it', async ({ what, make }) => {
  const dir = tempDir();
  const path = join(dir, 'out');
  make(path);
  const job = itemsJob('output-target', 10, { output: jsonlOutput(path) });
  const refused = runJob(job, { ledger: join(dir, 'l.sqlite') });
  await expect(refused).rejects.toBeInstanceOf(SinkError);
  await expect(refused).rejects.toThrow(
    `the output ${path} is ${what}, not a regular file: jsonlOutput keeps a file's committed length and cuts the file back to it after a crash`,
  );
  expect(existsSync(`${path}.owner`)).toBe(false);
});
