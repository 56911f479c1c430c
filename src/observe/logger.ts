/**
 * The CLI's log: pino entries, written as JSON lines (for log collectors) or as the human lines a
 * terminal shows (pretty-log.ts). Both formats come from the same entries, so a field that is
 * redacted in one is redacted in the other.
 *
 * Secrets: every entry's fields and message go through the job's redactor (src/policy/redact.ts,
 * the one that redacts stored errors) before pino serializes them. pino's own `redact` option is not
 * used: it censors fixed paths (`headers.authorization`), while an entry carries a handler's fields
 * of any shape and messages with secrets inside the text (`postgres://user:pw@host`).
 */
import { createRequire } from 'node:module';
import type { Logger, pino as PinoFactory } from 'pino';
import { defaultRedactor, type Redactor } from '../policy/redact.js';
import { redactFields } from '../policy/redact-fields.js';
import { LogFormat, type LogLevel } from './log-options.js';
import { prettyLine } from './pretty-log.js';

export type { Logger } from 'pino';

// pino is CommonJS: required rather than imported, which spares Node's making an ES module of its
// exports (it parses pino's source for them), some 4 ms of CPU at every run's start.
const { pino } = createRequire(import.meta.url)('pino') as { pino: typeof PinoFactory };

export interface LoggerOptions {
  readonly format: LogFormat;
  /** @default 'info' */
  readonly level?: LogLevel;
  /** Writes one line, without its newline (the CLI's display, which keeps lines off the progress line). */
  readonly write: (line: string) => void;
  /** @default the built-in patterns */
  readonly redact?: Redactor;
  /** Fields of every entry (the job's name). @default {} */
  readonly bindings?: Record<string, unknown>;
}

export function createLogger(options: LoggerOptions): Logger {
  const redact = options.redact ?? defaultRedactor;
  const destination = {
    write(line: string): void {
      if (options.format === LogFormat.json) {
        options.write(escapeUnsafe(line.trimEnd()));
        return;
      }
      const pretty = prettyLine(JSON.parse(line) as Record<string, unknown>);
      if (pretty !== undefined) options.write(pretty);
    },
  };
  return pino(
    {
      name: 'batchguard',
      level: options.level ?? 'info',
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: {
        // The level's name, which log collectors read without pino's numbering.
        level: (label) => ({ level: label }),
        log: (fields) => redactFields(fields, redact) as Record<string, unknown>,
      },
      hooks: {
        logMethod(args, method) {
          // The message is the last string argument (`log.warn(fields, message)` or `log.warn(message)`).
          const redacted = args.map((arg) => (typeof arg === 'string' ? redact(arg) : arg)) as Parameters<typeof method>;
          method.apply(this, redacted);
        },
      },
    },
    destination,
  ).child(options.bindings ?? {});
}

// JSON escapes C0 controls but not DEL, C1 controls, bidirectional overrides or line separators:
// each is a valid `\u` escape inside a JSON string, and harmless when the line reaches a terminal.
const UNSAFE_IN_JSON = /[\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

function escapeUnsafe(line: string): string {
  return line.replace(UNSAFE_IN_JSON, (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
