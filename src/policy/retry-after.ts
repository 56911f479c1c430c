/**
 * The delay a server asked for, from `retryAfterMs` on an error or a `Retry-After` response header.
 * Honoured as a minimum by the retry policy: jitter never shortens it and `maxDelayMs` never caps it.
 */
import { readProp } from './error-fields.js';
import { causeChain } from './serialize-error.js';

/**
 * The server-directed delay carried by `error` or any error in its cause chain (outermost first):
 * a finite non-negative `retryAfterMs` property, else a `retry-after` header on `headers` or
 * `response.headers`. `undefined` when there is none or every value found is invalid.
 */
export function retryAfterMs(error: unknown, nowMs: number): number | undefined {
  for (const link of causeChain(error)) {
    const own = readProp(link, 'retryAfterMs');
    if (typeof own === 'number' && Number.isFinite(own) && own >= 0) return own;
    for (const headers of [readProp(link, 'headers'), readProp(readProp(link, 'response'), 'headers')]) {
      const delayMs = parseRetryAfter(headerValue(headers), nowMs);
      if (delayMs !== undefined) return delayMs;
    }
  }
  return undefined;
}

/**
 * Parses a `Retry-After` value: delta-seconds (decimals accepted, rounded up to whole ms so the
 * server's minimum is respected) or an HTTP date (the time left until then, never negative). A
 * number is taken as seconds; an array (repeated header) by its first element. Invalid → undefined.
 */
export function parseRetryAfter(value: unknown, nowMs: number): number | undefined {
  const first: unknown = Array.isArray(value) ? value[0] : value;
  if (typeof first === 'number') return Number.isFinite(first) && first >= 0 ? Math.ceil(first * 1000) : undefined;
  if (typeof first !== 'string') return undefined;
  const text = first.trim();
  if (/^\d+(\.\d+)?$/.test(text)) {
    const seconds = Number(text);
    return Number.isFinite(seconds) ? Math.ceil(seconds * 1000) : undefined;
  }
  // Date.parse accepts odd inputs such as "-5" or "12"; an HTTP date always has a day or month name.
  if (!/[a-z]/i.test(text)) return undefined;
  const atMs = Date.parse(text);
  return Number.isNaN(atMs) ? undefined : Math.max(0, atMs - nowMs);
}

/** The raw `retry-after` value of a WHATWG `Headers`, a Map-like with `get`, or a plain object in any letter case. */
function headerValue(headers: unknown): unknown {
  if (typeof headers !== 'object' || headers === null) return undefined;
  const get = readProp(headers, 'get');
  if (typeof get === 'function') {
    try {
      // Headers and axios's AxiosHeaders match case-insensitively; a Map needs the exact spelling.
      return get.call(headers, 'retry-after') ?? get.call(headers, 'Retry-After') ?? undefined;
    } catch {
      return undefined;
    }
  }
  try {
    for (const key of Object.keys(headers)) {
      if (key.toLowerCase() === 'retry-after') return readProp(headers, key);
    }
  } catch {
    // A proxy whose ownKeys trap throws, or a revoked one: no header to be found.
  }
  return undefined;
}
