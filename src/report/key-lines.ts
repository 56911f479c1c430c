/**
 * The `keys` format: one key per line, which `rerun --keys FILE` reads back. A key that could not
 * survive that as it is (a newline or another control character in it, a leading quote, leading or
 * trailing blanks, or an empty key) is written as a JSON string instead, `"line one\nline two"`; a
 * line starting with `"` is read as one. Plain keys stay plain, so hand-written files keep working.
 */

// Everything JSON.stringify leaves raw but a terminal or a line reader would act on.
const RAW_UNSAFE = /[\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;
const HAS_UNSAFE = new RegExp(`[\\u0000-\\u001f]|${RAW_UNSAFE.source}`);

/** Whether `key` must be quoted to survive one-key-per-line. */
function needsQuoting(key: string): boolean {
  return key === '' || key.startsWith('"') || key.trim() !== key || HAS_UNSAFE.test(key);
}

/** One line of the keys format (without its newline). */
export function formatKeyLine(key: string): string {
  if (!needsQuoting(key)) return key;
  return JSON.stringify(key).replace(RAW_UNSAFE, (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/**
 * Up to `limit` keys for a message, comma-separated, each as the keys format writes it and quoted
 * too when it holds a comma: where each key begins and ends stays visible (a key `" 103 "` from a
 * padded spreadsheet cell, an empty key).
 */
export function formatKeySample(keys: readonly string[], limit = 10): string {
  const shown = keys.slice(0, limit).map((key) => (key.includes(',') && !needsQuoting(key) ? JSON.stringify(key) : formatKeyLine(key)));
  return `${shown.join(', ')}${keys.length > limit ? ', …' : ''}`;
}

/**
 * The key on one line of a keys file; undefined for a blank line. A line starting with `"` must be
 * a JSON string; `where` names the file and line in the error otherwise.
 */
export function parseKeyLine(line: string, where: string): string | undefined {
  const text = line.endsWith('\r') ? line.slice(0, -1) : line;
  if (text.trim() === '') return undefined;
  if (!text.startsWith('"')) return text;
  let key: unknown;
  try {
    key = JSON.parse(text);
  } catch {
    key = undefined;
  }
  if (typeof key !== 'string') {
    throw new SyntaxError(
      `${where}: a line starting with " must be a JSON string such as "a\\nb" (that is how keys with newlines or quotes are written); got ${text.length > 60 ? `${text.slice(0, 57)}...` : text}`,
    );
  }
  return key;
}
