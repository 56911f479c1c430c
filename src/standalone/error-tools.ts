/**
 * The error helpers a job uses, for code that is not a job: `classify` (retryable or fatal, and the
 * rule that decided) and `fingerprint` (the group a failure would have in a job's report).
 */
import { classifyError, type ClassifyHook, type ClassifyResult } from '../policy/classify.js';
import { errorFingerprint, type ErrorFingerprint, type FailureContext } from '../policy/fingerprint.js';
import { serializeError } from '../policy/serialize-error.js';

/**
 * Whether `error` may be retried, by the rules a job uses (docs/semantics.md), and which rule decided.
 * @example classify(Object.assign(new Error('x'), { status: 503 })) // { classification: 'retryable', rule: 'http-status-503' }
 */
export function classify(error: unknown, hook?: ClassifyHook): ClassifyResult {
  return classifyError(error, hook);
}

/**
 * The failure group of any thrown value: 12 hex characters, stable across runs and machines, the
 * same a job's failure report shows for the same error, kind and rule.
 * @default context: no kind, no rule
 */
export function fingerprint(error: unknown, context: FailureContext = {}): ErrorFingerprint {
  return errorFingerprint(serializeError(error), context);
}
