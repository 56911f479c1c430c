/**
 * Decides whether a failed attempt may be retried. The rules are data (exported below) so the docs
 * can list them, and every decision names the rule that made it, so a user can see why.
 */
import { FatalError, RetryableError, TimeoutError } from '../errors.js';
import { errorCodeOf, errorMessageOf, errorNameOf, httpStatusOf, isInstance, readProp, valueText } from './error-fields.js';
import { causeChain } from './serialize-error.js';

/** Whether a failed attempt may be retried. */
export const Classification = { retryable: 'retryable', fatal: 'fatal' } as const;
/** Whether a failed attempt may be retried. */
export type Classification = (typeof Classification)[keyof typeof Classification];

/** The job's `classify` option: `undefined` leaves the decision to the built-in rules. */
export type ClassifyHook = (error: unknown) => Classification | undefined;

/** A classification and the rule that decided it (e.g. `http-status-503`, `network-ECONNRESET`, `classify-hook`). */
export interface ClassifyResult {
  readonly classification: Classification;
  readonly rule: string;
  /** Set when the hook threw or returned something other than 'retryable', 'fatal' or undefined; it was then ignored. */
  readonly hookError?: unknown;
}

/** 4xx statuses that are retryable (timeout, too early, too many requests); every other 4xx is fatal, every 5xx retryable. */
export const RETRYABLE_HTTP_STATUSES: readonly number[] = Object.freeze([408, 425, 429]);

/**
 * Network and system error codes that are retryable wherever they appear in the cause chain.
 * ENOTFOUND is included although a name that does not resolve is often permanent: resolvers also
 * return it transiently (container DNS, overloaded resolvers), and the costs are lopsided: wrongly
 * retrying costs a bounded number of attempts, wrongly failing loses the record until a rerun. A
 * host that is really gone fails every record, which is the breaker's job to notice.
 * The UND_ERR_* codes are undici's (Node's fetch) socket and timeout errors.
 */
export const RETRYABLE_ERROR_CODES: readonly string[] = Object.freeze([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'EAI_AGAIN',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
]);

/** Error classes that signal a bug in the handler rather than a transient condition: fatal. */
export const FATAL_ERROR_NAMES: readonly string[] = Object.freeze(['TypeError', 'ReferenceError', 'SyntaxError', 'RangeError']);

const FATAL_ERROR_CLASSES = [TypeError, ReferenceError, SyntaxError, RangeError] as const;

/**
 * Classifies a failed attempt. Order: a `RetryableError` or `FatalError` anywhere in the cause chain
 * (the outermost wins); then `hook`, called with the top-level error; then the built-in rules, each
 * looked for across the whole chain before the next: HTTP status, network code, timeout, programming
 * error; anything else is retryable.
 *
 * Never throws, whatever was thrown: a value that cannot be inspected (a revoked proxy, getters or
 * traps that throw) matches no rule and gets the default.
 */
export function classifyError(error: unknown, hook?: ClassifyHook): ClassifyResult {
  const chain = causeChain(error);
  for (const link of chain) {
    if (isInstance(link, RetryableError)) return { classification: Classification.retryable, rule: 'RetryableError' };
    if (isInstance(link, FatalError)) return { classification: Classification.fatal, rule: 'FatalError' };
  }
  if (hook === undefined) return builtInRules(chain);
  const hooked = runHook(hook, error);
  if ('classification' in hooked) return { classification: hooked.classification, rule: 'classify-hook' };
  return { ...builtInRules(chain), hookError: hooked.hookError };
}

function runHook(hook: ClassifyHook, error: unknown): { classification: Classification } | { hookError?: unknown } {
  let value: unknown;
  try {
    value = hook(error);
  } catch (hookError) {
    // A broken hook must not turn one record's failure into a crash of the run; the engine can log hookError.
    return { hookError };
  }
  if (value === Classification.retryable || value === Classification.fatal) return { classification: value };
  if (value === undefined) return {};
  const got =
    typeof readProp(value, 'then') === 'function'
      ? 'a Promise (it must be synchronous)'
      : typeof value === 'string'
        ? JSON.stringify(value)
        : valueText(value);
  return { hookError: new TypeError(`classify must return 'retryable', 'fatal' or undefined; got ${got}`) };
}

// Rule-major order (each rule over the whole chain before the next) is what lets a network error
// wrapped in a TypeError, as fetch does ("fetch failed", "terminated"), be retried.
function builtInRules(chain: readonly unknown[]): ClassifyResult {
  for (const link of chain) {
    const status = httpStatusOf(link);
    if (status === undefined || status < 400) continue;
    const retryable = status >= 500 || RETRYABLE_HTTP_STATUSES.includes(status);
    return { classification: retryable ? Classification.retryable : Classification.fatal, rule: `http-status-${status}` };
  }
  for (const link of chain) {
    const code = errorCodeOf(link);
    if (code !== undefined && RETRYABLE_ERROR_CODES.includes(code)) {
      return { classification: Classification.retryable, rule: `network-${code}` };
    }
    if (/socket hang up/i.test(errorMessageOf(link) ?? '')) {
      return { classification: Classification.retryable, rule: 'network-socket-hang-up' };
    }
  }
  for (const link of chain) {
    // By name too: AbortSignal.timeout() rejects with a DOMException named TimeoutError.
    if (isInstance(link, TimeoutError) || errorNameOf(link) === 'TimeoutError') {
      return { classification: Classification.retryable, rule: 'timeout' };
    }
  }
  for (const link of chain) {
    const name = programmingErrorName(link);
    if (name === undefined) continue;
    // fetch's own TypeError whose cause is not a known network error (a bad port, a TLS failure):
    // not a bug in the handler, so it is not fatal as TypeError; retried within the attempt budget.
    if (name === 'TypeError' && errorMessageOf(link) === 'fetch failed') {
      return { classification: Classification.retryable, rule: 'fetch-failed' };
    }
    return { classification: Classification.fatal, rule: `programming-${name}` };
  }
  return { classification: Classification.retryable, rule: 'default' };
}

// instanceof catches subclasses; the name catches errors from another realm (vm, worker) too.
function programmingErrorName(value: unknown): string | undefined {
  for (const cls of FATAL_ERROR_CLASSES) if (isInstance(value, cls)) return cls.name;
  const name = errorNameOf(value);
  return name !== undefined && FATAL_ERROR_NAMES.includes(name) ? name : undefined;
}
