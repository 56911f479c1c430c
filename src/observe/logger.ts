/**
 * The CLI's log: JSON lines for log collectors, or the human lines a terminal shows (pretty-log.ts).
 * Both formats come from the same entries, so a field that is redacted in one is redacted in the
 * other. A JSON line has pino's shape, which log collectors know: `level` (by name), `time` (ISO),
 * `pid`, `hostname`, `name`, the bindings (`job`, `runId`), the entry's fields, and `msg` last.
 *
 * Written here rather than with pino: pino and the 30-odd files of its dependencies took ~25 ms of
 * every run's start-up on a 2-CPU machine (docs/benchmarks.md, "Start-up"), and the log needs none
 * of what they add (transports, serializers, printf formatting): every entry's fields go through the
 * job's redactor first (src/policy/redact-fields.ts), which leaves plain JSON data.
 *
 * Secrets: the fields and the message of every entry are redacted with the job's redactor (the one
 * that redacts stored errors), by field name and inside text (`postgres://user:pw@host`, a bearer
 * token), at any depth.
 */
import { hostname } from 'node:os';
import { defaultRedactor, type Redactor } from '../policy/redact.js';
import { redactFields } from '../policy/redact-fields.js';
import { LogFormat, type LogLevel } from './log-options.js';
import { prettyLine } from './pretty-log.js';

/** An entry's level: the user's levels, and `fatal` for what ends the command. */
export type EntryLevel = Exclude<LogLevel, 'silent'> | 'fatal';

/** Writes one entry at its level: `log.warn(fields, message)` or `log.warn(message)`. */
export interface LogMethod {
  (message: string): void;
  (fields: object, message?: string): void;
}

export interface Logger {
  readonly debug: LogMethod;
  readonly info: LogMethod;
  readonly warn: LogMethod;
  readonly error: LogMethod;
  readonly fatal: LogMethod;
  /** Whether an entry at `level` would be written. */
  isLevelEnabled(level: string): boolean;
  /** Adds fields to every later entry of this logger (the run's id once it is known). */
  setBindings(bindings: Record<string, unknown>): void;
  /** A logger writing to the same place with more bound fields. */
  child(bindings: Record<string, unknown>): Logger;
}

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

/** pino's numbers for the levels, by which one is more severe than another. */
const SEVERITY: Readonly<Record<string, number>> = { debug: 20, info: 30, warn: 40, error: 50, fatal: 60, silent: Infinity };

interface Output {
  readonly threshold: number;
  readonly redact: Redactor;
  readonly json: boolean;
  readonly write: (line: string) => void;
  readonly base: { readonly pid: number; readonly hostname: string; readonly name: string };
}

export function createLogger(options: LoggerOptions): Logger {
  const output: Output = {
    threshold: SEVERITY[options.level ?? 'info'] ?? SEVERITY.info!,
    redact: options.redact ?? defaultRedactor,
    json: options.format === LogFormat.json,
    write: options.write,
    base: { pid: process.pid, hostname: hostname(), name: 'batchguard' },
  };
  return new EntryLogger(output, bound(options.bindings ?? {}, output.redact));
}

class EntryLogger implements Logger {
  readonly debug: LogMethod = (fields: object | string, message?: string) => this.entry('debug', fields, message);
  readonly info: LogMethod = (fields: object | string, message?: string) => this.entry('info', fields, message);
  readonly warn: LogMethod = (fields: object | string, message?: string) => this.entry('warn', fields, message);
  readonly error: LogMethod = (fields: object | string, message?: string) => this.entry('error', fields, message);
  readonly fatal: LogMethod = (fields: object | string, message?: string) => this.entry('fatal', fields, message);

  constructor(
    private readonly output: Output,
    private bindings: Record<string, unknown>,
  ) {}

  isLevelEnabled(level: string): boolean {
    const severity = SEVERITY[level];
    return severity !== undefined && severity !== Infinity && severity >= this.output.threshold;
  }

  setBindings(bindings: Record<string, unknown>): void {
    this.bindings = { ...this.bindings, ...bound(bindings, this.output.redact) };
  }

  child(bindings: Record<string, unknown>): Logger {
    return new EntryLogger(this.output, { ...this.bindings, ...bound(bindings, this.output.redact) });
  }

  private entry(level: EntryLevel, fieldsOrMessage: object | string, message?: string): void {
    const { output } = this;
    if (SEVERITY[level]! < output.threshold) return;
    const fields = typeof fieldsOrMessage === 'string' ? {} : (redactFields(fieldsOrMessage, output.redact) as Record<string, unknown>);
    const text = typeof fieldsOrMessage === 'string' ? fieldsOrMessage : message;
    const entry: Record<string, unknown> = { level, time: new Date().toISOString(), ...output.base, ...this.bindings, ...fields };
    entry.level = level;
    if (text !== undefined) entry.msg = output.redact(text);
    if (output.json) {
      output.write(escapeUnsafe(JSON.stringify(entry)));
      return;
    }
    const pretty = prettyLine(entry);
    if (pretty !== undefined) output.write(pretty);
  }
}

/** Bound fields as plain, redacted data (they are written with every entry). */
function bound(bindings: Record<string, unknown>, redact: Redactor): Record<string, unknown> {
  return redactFields(bindings, redact) as Record<string, unknown>;
}

// JSON escapes C0 controls but not DEL, C1 controls, bidirectional overrides or line separators:
// each is a valid `\u` escape inside a JSON string, and harmless when the line reaches a terminal.
const UNSAFE_IN_JSON = /[\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

function escapeUnsafe(line: string): string {
  return line.replace(UNSAFE_IN_JSON, (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
