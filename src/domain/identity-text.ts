/**
 * Text that names something in a ledger (a record's key, a durable step's name) must come back
 * exactly as it was stored, from SQLite and from PostgreSQL alike. Two kinds of JavaScript string do
 * not: one with an unpaired UTF-16 surrogate (a string cut in the middle of an emoji), which UTF-8
 * storage turns into U+FFFD, another name; and one holding U+0000, which PostgreSQL's text cannot
 * hold at all (the whole commit fails).
 */

/** Why `text` cannot name something in a ledger, or undefined when it can. */
export function unstorableText(text: string): string | undefined {
  const nul = text.indexOf('\u0000');
  if (nul !== -1) return `holds a NUL character (U+0000) at index ${nul}: PostgreSQL cannot store it`;
  // String.prototype.isWellFormed (Node 20): native, and at once true for a string of one-byte characters.
  if ((text as unknown as { isWellFormed(): boolean }).isWellFormed()) return undefined;
  return `is not well-formed text (an unpaired surrogate at index ${text.search(UNPAIRED_SURROGATE)}): it cannot be stored and read back the same`;
}

const UNPAIRED_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
