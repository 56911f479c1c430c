/**
 * A log entry as the line a person reads on a terminal: the lines batchguard printed before it had a
 * structured log (`batchguard: breaker opened: …`, `failed  key [fatal] after 3 attempt(s): …`).
 * Pure, from the entry's JSON, so that it is tested without pino or a terminal. Everything from
 * records and errors is escaped for the terminal (`printable`).
 */
import { printable, printableLine } from '../report/printable.js';

/** How much of an error message a line shows; the report has the rest. */
export const MESSAGE_CHARS_SHOWN = 300;

/**
 * The line for `entry`, or undefined for entries a terminal shows elsewhere: the summary and the
 * threshold verdict are the summary table on stdout.
 */
export function prettyLine(entry: Record<string, unknown>): string | undefined {
  const msg = fieldText(entry.msg);
  // What ends the command (as its `batchguard: error:` line said before there was a log).
  if (entry.level === 'fatal') return printable(`batchguard: error: ${msg}`);
  switch (entry.event) {
    case 'record:failed':
      return printable(
        `failed  ${fieldText(entry.key)} [${fieldText(entry.kind)}] after ${fieldText(entry.attempt)} attempt(s): ${errorText(entry.error)}`,
      );
    case 'record:retrying':
      return printable(
        `retry   ${fieldText(entry.key)} attempt ${fieldText(entry.attempt)} failed (${errorText(entry.error)}); next in ${fieldText(entry.delayMs)} ms`,
      );
    case 'record:log':
      return printable(`log     ${fieldText(entry.key)}: ${msg}${entry.fields === undefined ? '' : ` ${JSON.stringify(entry.fields)}`}`);
    case 'concurrency:changed':
      return `limit   concurrency ${fieldText(entry.limit)} (${fieldText(entry.reason)})`;
    case 'run:summary':
    case 'run:threshold-exceeded':
      return undefined;
    case 'run:warning':
      return printable(`batchguard: warning: ${msg}`);
    case 'run:more-failures':
      return printable(msg);
    default:
      return printable(`batchguard: ${msg}`);
  }
}

/** `Name: message` of an entry's `error` field, the message on one line. */
export function errorText(error: unknown): string {
  const { name, message } = (typeof error === 'object' && error !== null ? error : {}) as { name?: unknown; message?: unknown };
  return `${fieldText(name)}: ${printableLine(fieldText(message), MESSAGE_CHARS_SHOWN)}`;
}

function fieldText(value: unknown): string {
  return typeof value === 'string' ? value : value === undefined ? '' : String(value);
}
