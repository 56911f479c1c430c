/**
 * The keys of a chunk of dependency components (`members`), read from its span before a worker
 * resumes it: what a single run loads from its ledger before it reads (the keys of every record
 * read by earlier runs), for one chunk.
 *
 * A worker that resumes a chunk (it took it over, or the run was interrupted) skips the records
 * already recorded in it, so the engine never reads their keys; yet a record not recorded may
 * depend on one of them (a child must see its recorded parent, succeeded or failed, not a missing
 * key), or repeat its key (a duplicate). The ledger stores no keys for a shared run's records, so
 * they are read here: every member's key, in source order, with its sequence number and line, as
 * the engine would have added them reading the chunk from its start. A member read again by the
 * run then adds its own key again, which is no duplicate (same sequence number). The price is one
 * more read of the span, for a resumed chunk only.
 */
import type { Job } from '../job.js';
import type { Chunk } from '../ledger/worker-ledger.js';
import { KeyIndex } from '../structures/key-index.js';
import { usableKey } from './component-chunk-plan.js';
import { readChunk } from './read-chunk.js';

/** Every member of `chunk` with a usable key, in a new index; the first of two records with one key holds it. */
export async function readMemberKeys(job: Pick<Job<any, any>, 'source' | 'key'>, chunk: Chunk, signal?: AbortSignal): Promise<KeyIndex> {
  const members = chunk.members ?? [];
  const keys = new KeyIndex({ expectedKeys: members.length });
  let next = 0;
  for await (const item of readChunk(job.source, chunk, signal === undefined ? {} : { signal })) {
    const seq = item.position.seq;
    while (next < members.length && (members[next] as number) < seq) next++;
    if (members[next] !== seq || item.kind !== 'record') continue;
    const key = usableKey(job, item.value);
    if (key !== undefined) keys.add(key, seq, item.position.line ?? 0);
  }
  return keys;
}
