/**
 * Text from records and errors made safe for a terminal. Keys and messages come from input files
 * and remote services: an escape sequence in them could rewrite the screen, hide lines or set the
 * window title when printed raw, and a newline would forge a line of output. Every human-readable
 * output (failures table, summary, progress, replay) prints them through `printable`.
 */

// C0 controls (tab and newline included: these views are one item per line), DEL, C1 controls, and
// the bidirectional overrides that can make text read differently from what it is.
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

const NAMED: Readonly<Record<string, string>> = { '\n': '\\n', '\r': '\\r', '\t': '\\t', '\u001b': '\\e' };

/** `text` with control characters shown as escapes (`\n`, `\e`, `\x07`, `\u202e`). */
export function printable(text: string): string {
  return text.replace(UNSAFE, (char) => NAMED[char] ?? escapeCode(char.charCodeAt(0)));
}

function escapeCode(code: number): string {
  return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
}

/** `printable(text)` on one line, cut to `maxChars` with an ellipsis. */
export function printableLine(text: string, maxChars: number): string {
  const line = printable(text.length > maxChars * 2 ? text.slice(0, maxChars * 2) : text);
  return line.length > maxChars ? `${line.slice(0, maxChars - 1)}…` : line;
}
