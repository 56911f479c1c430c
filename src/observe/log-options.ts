/**
 * The log's formats and levels, apart from the logger so that the command line can name them
 * without loading pino (commands other than `run` and `rerun` never log).
 */

/** How entries are written: JSON lines, or the human lines of a terminal. */
export const LogFormat = { json: 'json', pretty: 'pretty' } as const;
export type LogFormat = (typeof LogFormat)[keyof typeof LogFormat];

export const LOG_FORMATS: readonly LogFormat[] = Object.values(LogFormat);

/** The levels a user can choose, most verbose first; `silent` writes nothing. */
export const LOG_LEVELS = ['debug', 'info', 'warn', 'error', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
