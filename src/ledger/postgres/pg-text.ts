/**
 * Free text bound for a PostgreSQL `text` column: PostgreSQL cannot store U+0000 ("invalid byte
 * sequence for encoding UTF8: 0x00"), and a reason quoting a record's bytes or an error message may
 * hold it. It is written as the two characters `\0`. Keys are not passed through here: a key holding
 * U+0000 is refused before it reaches a ledger (domain/unusable-record.ts, keyProblem).
 */
export function storableText(text: string): string {
  return text.includes('\u0000') ? text.replaceAll('\u0000', '\\0') : text;
}
