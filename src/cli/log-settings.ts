/**
 * The log's format and level for `run` and `rerun`, from the flags, the environment and whether
 * stderr is a terminal. Flags win over the environment; `--log-level` wins over `--quiet` and
 * `--verbose`, which win over BATCHGUARD_LOG_LEVEL.
 */
import { ConfigError } from '../errors.js';
import { LOG_FORMATS, LOG_LEVELS, LogFormat, type LogLevel } from '../observe/log-options.js';

export interface LogFlags {
  logLevel?: string;
  logFormat?: string;
  quiet?: boolean;
  verbose?: boolean;
}

export interface LogSettings {
  readonly format: LogFormat;
  readonly level: LogLevel;
}

/**
 * JSON lines unless stderr is a terminal: a terminal gets the human lines; CI, cron, a container's
 * log, a pipe get entries a collector can parse without guessing.
 */
export function logFormat(flags: LogFlags, env: NodeJS.ProcessEnv, stderrIsTerminal: boolean): LogFormat {
  const chosen = flags.logFormat ?? nonEmpty(env.BATCHGUARD_LOG_FORMAT);
  if (chosen === undefined) return stderrIsTerminal ? LogFormat.pretty : LogFormat.json;
  return oneOf(chosen, LOG_FORMATS, flags.logFormat !== undefined ? '--log-format' : 'BATCHGUARD_LOG_FORMAT');
}

export function logLevel(flags: LogFlags, env: NodeJS.ProcessEnv): LogLevel {
  if (flags.logLevel !== undefined) return oneOf(flags.logLevel, LOG_LEVELS, '--log-level');
  // --quiet: "nothing but errors"; --verbose: every retry and ctx.log line.
  if (flags.quiet) return 'error';
  if (flags.verbose) return 'debug';
  const fromEnv = nonEmpty(env.BATCHGUARD_LOG_LEVEL);
  return fromEnv === undefined ? 'info' : oneOf(fromEnv, LOG_LEVELS, 'BATCHGUARD_LOG_LEVEL');
}

export function logSettings(flags: LogFlags, env: NodeJS.ProcessEnv, stderrIsTerminal: boolean): LogSettings {
  return { format: logFormat(flags, env, stderrIsTerminal), level: logLevel(flags, env) };
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}

function oneOf<T extends string>(value: string, allowed: readonly T[], field: string): T {
  if ((allowed as readonly string[]).includes(value)) return value as T;
  throw new ConfigError(`${field} must be one of ${allowed.join(', ')}; got ${JSON.stringify(value)}`, { field });
}
