/**
 * The bare loop: read a line, parse it, call the handler. No retries, no checkpoint: a failed record
 * is counted and skipped, and a restart begins again at the first line. The machine's limit for
 * this work.
 */
import { readLines } from '../input.mjs';

export async function run({ data, handler }) {
  let failed = 0;
  for await (const line of readLines(data)) {
    try {
      await handler(JSON.parse(line));
    } catch {
      failed++;
    }
  }
  return { failed };
}
