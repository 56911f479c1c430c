/**
 * A record read enters the run: its key (checked, and unique in the source), its rate-limit and
 * fairness keys; then it opens in the window. A record that cannot be processed at all (the source
 * could not parse it, `job.key` threw or returned no key, a repeated key) fails at once instead.
 */
import { duplicateMessage, keyProblem } from '../domain/unusable-record.js';
import type { Job } from '../job.js';
import { thrownMessage } from '../policy/error-fields.js';
import type { SourceItem, SourcePosition } from '../sources/source.js';
import type { RecordKeys } from '../ledger/ledger.js';
import type { InFlightWindow } from '../structures/in-flight-window.js';
import { openRecord, type OpenRecord } from './open-record.js';

export interface EntryDeps {
  readonly job: Job<any, any>;
  /** Every key read, to fail a repeated key (not kept by a plain re-run). */
  readonly keys: RecordKeys | undefined;
  /** Whether the job has fairness keys (`concurrencyKey`). */
  readonly fairness: boolean;
  readonly window: InFlightWindow<OpenRecord>;
  /** Counts the record in its first phase (the dispatcher). */
  readonly entered: (entry: OpenRecord) => void;
  /** Fails a record that never enters the window. */
  readonly invalid: (position: SourcePosition, message: string, key?: string) => void;
}

/** The record, open in the window; undefined when it failed at once. */
export function enterRecord(item: SourceItem<unknown>, deps: EntryDeps): OpenRecord | undefined {
  const { job } = deps;
  if (item.kind === 'invalid') {
    deps.invalid(item.position, item.message);
    return undefined;
  }
  let key: string;
  try {
    key = job.key(item.value);
  } catch (error) {
    deps.invalid(item.position, `job.key threw: ${thrownMessage(error)}`);
    return undefined;
  }
  const problem = keyProblem(key);
  if (problem !== undefined) {
    deps.invalid(item.position, problem);
    return undefined;
  }
  const earlier = deps.keys?.add(key, item.position.seq, item.position.line ?? 0);
  if (earlier) {
    deps.invalid(item.position, duplicateMessage(key, item.position, earlier));
    return undefined;
  }
  // The rate-limit key (which bucket the record's attempts take from, which one its 429 pauses) and
  // the fairness key; a user function that throws fails the record, like `job.key` does.
  let rateKey: string | undefined;
  let fairKey = '';
  let field = 'rateLimitKey';
  try {
    rateKey = job.rateLimitKey ? String(job.rateLimitKey(item.value)) : undefined;
    field = 'concurrencyKey';
    if (deps.fairness) fairKey = String(job.concurrencyKey?.(item.value) ?? '');
  } catch (error) {
    deps.invalid(item.position, `job.${field} threw: ${thrownMessage(error)}`, key);
    return undefined;
  }
  const entry = openRecord(key, item.position, item.value);
  entry.rateKey = rateKey;
  entry.fairKey = deps.fairness ? fairKey : undefined;
  deps.window.add(entry);
  deps.entered(entry);
  return entry;
}
