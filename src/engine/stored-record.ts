/**
 * A record stored by the dependency gate as its position alone, read again from its source when
 * its dependencies are met: checked to be the record read there before (the key index holds its
 * key at that sequence number), and opened as a new entry, with its rate-limit and fairness keys.
 */
import { SourceError } from '../errors.js';
import type { Job } from '../job.js';
import type { RecordKeys } from '../ledger/ledger.js';
import type { Recall, Recalled } from '../graph/dependency-tracker.js';
import { thrownMessage, valueText } from '../policy/error-fields.js';
import type { RecordReader, SourcePosition } from '../sources/source.js';
import { openRecord, Phase, type OpenRecord } from './open-record.js';

/** The keys `job.dependsOn` gives for `record`, distinct; throws when it throws or returns anything but non-empty strings. */
export function dependenciesOf(job: Job<any, any>, record: unknown): readonly string[] {
  const deps = (job.dependsOn as (record: unknown) => readonly string[])(record) ?? [];
  if (!Array.isArray(deps) || deps.some((dep) => typeof dep !== 'string' || dep === '')) {
    throw new Error(`it must return an array of non-empty keys; got ${valueText(deps)}`);
  }
  return deps;
}

/** Reads stored records again through `reader`; what it returns is an entry in phase `setAside`. */
export function recallFrom(job: Job<any, any>, reader: RecordReader<unknown>, keys: RecordKeys): Recall<OpenRecord> {
  const changed = (position: SourcePosition, what: string, cause?: unknown): SourceError =>
    new SourceError(
      'SOURCE_DRIFT',
      `the source ${job.source.description} changed while the run was reading it: the record at ${where(position)}, read again when its dependencies were met, ${what}; the outcomes that finished are saved`,
      { cause },
    );
  return (position): Recalled<OpenRecord> => {
    const item = reader.read(position);
    if (item.kind !== 'record') throw changed(position, `is no longer a valid record (${item.message})`);
    let key: string;
    let deps: readonly string[];
    let rateKey: string | undefined;
    let fairKey: string | undefined;
    try {
      key = job.key(item.value);
      deps = [...new Set(dependenciesOf(job, item.value))];
      // As when it was first read (record-entry.ts): these functions did not throw then.
      rateKey = job.rateLimitKey ? String(job.rateLimitKey(item.value)) : undefined;
      fairKey = job.concurrencyKey ? String(job.concurrencyKey(item.value) ?? '') : undefined;
    } catch (error) {
      throw changed(position, `made a job function throw (${thrownMessage(error)})`, error);
    }
    if (typeof key !== 'string' || keys.find(key)?.seq !== position.seq) {
      throw changed(position, `has another key (${typeof key === 'string' ? JSON.stringify(key) : valueText(key)})`);
    }
    const entry = openRecord(key, position, item.value);
    entry.phase = Phase.setAside;
    entry.rateKey = rateKey;
    entry.fairKey = fairKey;
    return { key, deps, entry };
  };
}

function where(position: SourcePosition): string {
  const line = position.line === undefined ? `record ${position.seq + 1}` : `line ${position.line}`;
  return position.offset === undefined ? line : `${line} (byte offset ${position.offset})`;
}
