/**
 * The checkpoint pattern long-running scripts commonly use: a Set of done ids, loaded from a JSON
 * file at start, skipped when seen again, and written whole to the file after every `EVERY`
 * records (1 here; the `naive-checkpoint-100` contender passes 100). A failed record is logged and
 * not added, so the next run tries it again. No retries within a run.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readLines } from '../input.mjs';

export async function runNaive({ data, stateDir, handler }, every) {
  const file = join(stateDir, 'done.json');
  const done = new Set(existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) : []);
  let failed = 0;
  let sinceSave = 0;
  for await (const line of readLines(data)) {
    const record = JSON.parse(line);
    if (done.has(record.id)) continue;
    try {
      await handler(record);
      done.add(record.id);
    } catch {
      failed++;
    }
    if (++sinceSave === every) {
      writeFileSync(file, JSON.stringify([...done]));
      sinceSave = 0;
    }
  }
  writeFileSync(file, JSON.stringify([...done]));
  return { failed };
}

export const run = (context) => runNaive(context, 1);
