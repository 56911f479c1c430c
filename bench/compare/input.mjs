/**
 * The input every contender reads: N JSONL records of ~100 bytes, ids 0..N-1 in order, and the
 * read-parse loop that the hand-written contenders share.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { createInterface } from 'node:readline';

const COUNTRIES = ['FR', 'DE', 'BR', 'JP', 'NG', 'US', 'IN', 'AU'];

/** One record's line: ~100 bytes, padded so short ids make lines of the same length as long ones. */
export function recordLine(id) {
  const fields = `"id":${id},"name":"city-${id}","country":"${COUNTRIES[id % COUNTRIES.length]}","lat":${((id % 180) - 90 + 0.123).toFixed(3)},"lng":${((id % 360) - 180 + 0.456).toFixed(3)},"population":${id * 7}`;
  return `{${fields},"note":"${'x'.repeat(Math.max(0, 97 - fields.length - 11))}"}\n`;
}

export async function writeInput(path, count) {
  const out = createWriteStream(path);
  for (let id = 0; id < count; id++) {
    if (!out.write(recordLine(id))) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
}

/** The lines of a JSONL file, as a careful hand-written loop reads them. */
export function readLines(path) {
  return createInterface({ input: createReadStream(path), crlfDelay: Infinity });
}
