/**
 * Bounds on what one failure may store or print. A handler can throw a 10 MB message or an object
 * with a million keys; without bounds, twenty such failures make a ledger of hundreds of megabytes
 * and a terminal flooded for minutes. Every cut is visible, so nobody mistakes it for the whole.
 */

let count: Intl.NumberFormat | undefined;

/** The mark appended where text was cut: `… [truncated 1,048,000 chars]`. */
export function truncationMark(omittedChars: number): string {
  // Created on first use, not at import: the first Intl.NumberFormat loads ICU data, ~20 ms of
  // every CLI start (bench/startup.mjs).
  count ??= new Intl.NumberFormat('en-US');
  return `… [truncated ${count.format(omittedChars)} chars]`;
}

/**
 * `text` cut to `maxChars` with a truncation mark, after `transform` (redaction) has run over the
 * kept part. The transform sees a little more than what is kept, so a secret straddling the cut is
 * still recognised as a whole and never leaks its first half.
 */
export function limitText(text: string, maxChars: number, transform: (text: string) => string = (t) => t): string {
  if (text.length <= maxChars) return transform(text);
  const head = transform(text.slice(0, maxChars + TRANSFORM_OVERLAP));
  return `${head.slice(0, maxChars)}${truncationMark(text.length - maxChars)}`;
}

/** How far past a cut the transform looks (longer than any secret a built-in pattern recognises). */
const TRANSFORM_OVERLAP = 512;
