/**
 * Reading fields of thrown values defensively. Anything can be thrown, and reading a property of a
 * thrown value can itself throw (a getter, a revoked proxy). These helpers never throw, because they
 * run on the failure path, where a second exception would hide the first.
 */

/** `value[key]` when `value` is an object or a function, otherwise `undefined`. Never throws. */
export function readProp(value: unknown, key: string): unknown {
  if (value === null || (typeof value !== 'object' && typeof value !== 'function')) return undefined;
  try {
    return (value as Record<string, unknown>)[key];
  } catch {
    return undefined;
  }
}

/**
 * The HTTP status an error carries, from `status`, `statusCode`, `response.status` or
 * `response.statusCode` (fetch wrappers, axios and got spell it differently). Only integers 100–599
 * (or such a number as a 3-digit string) count, so an unrelated `status: 'failed'` is ignored.
 */
export function httpStatusOf(error: unknown): number | undefined {
  const response = readProp(error, 'response');
  const candidates = [
    readProp(error, 'status'),
    readProp(error, 'statusCode'),
    readProp(response, 'status'),
    readProp(response, 'statusCode'),
  ];
  for (const candidate of candidates) {
    const status = typeof candidate === 'string' && /^\d{3}$/.test(candidate) ? Number(candidate) : candidate;
    if (typeof status === 'number' && Number.isInteger(status) && status >= 100 && status <= 599) return status;
  }
  return undefined;
}

/** `error.code` as a string; numeric codes (some database drivers use them) are stringified. */
export function errorCodeOf(error: unknown): string | undefined {
  const code = readProp(error, 'code');
  if (typeof code === 'string' && code !== '') return code;
  if (typeof code === 'number' && Number.isFinite(code)) return String(code);
  return undefined;
}

/** `error.name` when it is a non-empty string. */
export function errorNameOf(error: unknown): string | undefined {
  const name = readProp(error, 'name');
  return typeof name === 'string' && name !== '' ? name : undefined;
}

/** `error.message` when it is a string. */
export function errorMessageOf(error: unknown): string | undefined {
  const message = readProp(error, 'message');
  return typeof message === 'string' ? message : undefined;
}

/** `value instanceof type`, false instead of a throw (a revoked proxy throws from `instanceof`). */
export function isInstance(value: unknown, type: abstract new (...args: never[]) => unknown): boolean {
  try {
    return value instanceof type;
  } catch {
    return false;
  }
}

/**
 * What a thrown value says, for a one-line message: its `message` when it has one, otherwise the
 * value itself as text. Never throws, whatever was thrown (a revoked proxy, throwing getters, a
 * symbol, an object whose `toString` throws).
 */
export function thrownMessage(value: unknown): string {
  return errorMessageOf(value) ?? valueText(value);
}

/** `name: message` of a thrown value (just the text of a value that is not an error). Never throws. */
export function thrownSummary(value: unknown): string {
  const message = errorMessageOf(value);
  if (message === undefined) return valueText(value);
  const name = errorNameOf(value);
  return name === undefined ? message : `${name}: ${message}`;
}

/** Any value as text: JSON for plain data, `String()` otherwise. Never throws. */
export function valueText(value: unknown): string {
  try {
    if (typeof value === 'object' && value !== null) {
      const json = JSON.stringify(value);
      if (json !== undefined) return json;
    }
    return String(value);
  } catch {
    return typeof value === 'object' && value !== null ? 'an object that cannot be shown' : `a ${typeof value}`;
  }
}

/** `error` with `cause` set when it has none; as it is when it cannot take one (frozen, a proxy, not an Error). */
export function withCause(error: unknown, cause: unknown): unknown {
  try {
    if (error instanceof Error && error.cause === undefined) error.cause = cause;
  } catch {
    // Nothing to add the cause to; the error itself is what the call failed with.
  }
  return error;
}
