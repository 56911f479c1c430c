/**
 * What a careful user writes by hand: the same read-parse loop, p-retry around the handler (3
 * attempts, 10 ms apart; an error marked fatal is not retried), failures appended to a JSONL file,
 * and every 1000 records the number of lines done written to a JSON checkpoint (to a temporary file
 * renamed over the old one, so a crash never leaves half a checkpoint). A restart skips that many lines.
 */
import { createWriteStream, existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pRetry, { AbortError } from 'p-retry';
import { readLines } from '../input.mjs';

const EVERY = 1000;

export async function run({ data, stateDir, handler }) {
  const file = join(stateDir, 'checkpoint.json');
  const save = (lines) => {
    writeFileSync(`${file}.tmp`, JSON.stringify({ lines }));
    renameSync(`${file}.tmp`, file);
  };
  const skip = existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')).lines : 0;
  const failures = createWriteStream(join(stateDir, 'failures.jsonl'), { flags: 'a' });
  let lines = 0;
  for await (const line of readLines(data)) {
    if (++lines <= skip) continue;
    const record = JSON.parse(line);
    try {
      await pRetry(
        () =>
          handler(record).catch((error) => {
            throw error?.fatal ? new AbortError(error) : error;
          }),
        { retries: 2, minTimeout: 10, factor: 1, randomize: false },
      );
    } catch (error) {
      failures.write(`${JSON.stringify({ id: record.id, error: String(error?.message ?? error) })}\n`);
    }
    if (lines % EVERY === 0) save(lines);
  }
  save(lines);
  await new Promise((resolve) => failures.end(resolve));
}
