/**
 * Text that names something in a ledger (a record's key, a durable step's name) must come back
 * exactly as it was stored, from SQLite and from PostgreSQL alike. Three kinds of JavaScript string
 * do not: one with an unpaired UTF-16 surrogate (a string cut in the middle of an emoji), which
 * UTF-8 storage turns into U+FFFD, another name; one holding U+0000, which PostgreSQL's text cannot
 * hold at all; and one too long for PostgreSQL's index on it (a B-tree entry holds ~2,700 bytes,
 * key and step name together), where the whole commit would fail, at every run again.
 */

/** The longest record key, in UTF-8 bytes: a URL of tracking parameters fits; hash a longer key. */
export const MAX_KEY_BYTES = 2048;
/** The longest durable step name, in UTF-8 bytes (PostgreSQL indexes it with its record's key). */
export const MAX_STEP_NAME_BYTES = 512;

/** Why `text` cannot name something in a ledger, at most `maxBytes` long in UTF-8, or undefined when it can. */
export function unstorableText(text: string, maxBytes: number): string | undefined {
  // A UTF-16 unit is at most 3 bytes of UTF-8: most texts need no count.
  if (text.length * 3 > maxBytes) {
    const bytes = Buffer.byteLength(text);
    if (bytes > maxBytes) return `is ${bytes} bytes long in UTF-8, more than the ${maxBytes} a ledger indexes`;
  }
  const nul = text.indexOf('\u0000');
  if (nul !== -1) return `holds a NUL character (U+0000) at index ${nul}: PostgreSQL cannot store it`;
  // String.prototype.isWellFormed (Node 20): native, and at once true for a string of one-byte characters.
  if ((text as unknown as { isWellFormed(): boolean }).isWellFormed()) return undefined;
  return `is not well-formed text (an unpaired surrogate at index ${text.search(UNPAIRED_SURROGATE)}): it cannot be stored and read back the same`;
}

const UNPAIRED_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
