/**
 * A short JSON-like rendering of any value, for a thrown plain object such as
 * `{ error: 'rate_limited', retryIn: 30 }`. Bounded in every direction (depth, keys per object,
 * items per array, characters), so a thrown response body of a million keys costs what ten do, and
 * it never throws: getters that throw, revoked proxies, cycles and BigInts are all rendered as tags.
 */

/** Keys shown per object (and items per array); the rest are counted as `…+N`. */
export const MAX_RENDERED_KEYS = 20;
const MAX_DEPTH = 3;

/** `value` rendered as JSON-like text of at most about `maxChars` characters. Never throws. */
export function boundedJson(value: unknown, maxChars: number): string {
  const out = { text: '', full: false };
  try {
    render(value, 0, out, maxChars);
  } catch {
    out.text += '[unreadable]';
  }
  return out.full ? `${out.text.slice(0, maxChars)}…` : out.text;
}

interface Out {
  text: string;
  full: boolean;
}

function emit(out: Out, text: string, maxChars: number): boolean {
  if (out.full) return false;
  out.text += text;
  if (out.text.length > maxChars) out.full = true;
  return !out.full;
}

function render(value: unknown, depth: number, out: Out, maxChars: number): void {
  if (value === null || typeof value === 'boolean' || typeof value === 'number') {
    emit(out, String(value), maxChars);
    return;
  }
  if (typeof value === 'string') {
    emit(out, JSON.stringify(value.length > maxChars ? value.slice(0, maxChars) : value), maxChars);
    return;
  }
  if (typeof value === 'bigint') {
    emit(out, `${String(value)}n`, maxChars);
    return;
  }
  if (typeof value !== 'object') {
    emit(out, `[${typeof value}]`, maxChars);
    return;
  }
  if (depth >= MAX_DEPTH) {
    emit(out, safeIsArray(value) ? '[…]' : '{…}', maxChars);
    return;
  }
  if (safeIsArray(value)) {
    renderArray(value as unknown[], depth, out, maxChars);
    return;
  }
  emit(out, '{', maxChars);
  let shown = 0;
  let more = 0;
  // for…in rather than Object.keys: it can stop early without listing every key first.
  for (const key in value) {
    if (!Object.prototype.hasOwnProperty.call(value, key)) continue;
    if (shown >= MAX_RENDERED_KEYS || out.full) {
      more++;
      if (more > 10_000) break;
      continue;
    }
    if (!emit(out, `${shown > 0 ? ',' : ''}${JSON.stringify(key)}:`, maxChars)) break;
    let item: unknown;
    try {
      item = (value as Record<string, unknown>)[key];
    } catch {
      item = '[throws]';
    }
    render(item, depth + 1, out, maxChars);
    shown++;
  }
  emit(out, more > 0 ? `,…+${more > 10_000 ? '10000 or more' : more}}` : '}', maxChars);
}

function renderArray(items: unknown[], depth: number, out: Out, maxChars: number): void {
  const length = items.length;
  emit(out, '[', maxChars);
  for (let i = 0; i < Math.min(length, MAX_RENDERED_KEYS) && !out.full; i++) {
    if (i > 0) emit(out, ',', maxChars);
    render(items[i], depth + 1, out, maxChars);
  }
  emit(out, length > MAX_RENDERED_KEYS ? `,…+${length - MAX_RENDERED_KEYS}]` : ']', maxChars);
}

function safeIsArray(value: object): boolean {
  try {
    return Array.isArray(value);
  } catch {
    return false;
  }
}
