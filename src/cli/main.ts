/**
 * The command line. Parses flags, runs one command, maps errors to the exit codes of the contract.
 * User mistakes print one clear line, never a stack trace.
 */
import { readFileSync } from 'node:fs';
import { Command, InvalidArgumentError, Option } from 'commander';
import { BatchguardError, ConfigError, LedgerError, SinkError, SourceError, StorageError } from '../errors.js';
import { ExitCode } from './exit-codes.js';
import { readProp, thrownMessage, valueText } from '../policy/error-fields.js';
import { defaultRedactor } from '../policy/redact.js';
import { printable } from '../report/printable.js';
import { isPgSchemaName, PG_SCHEMA_RULE } from '../ledger/ledger-location.js';
import { MAX_CONCURRENCY } from '../policy/concurrency-limit.js';
import { MAX_KEEP_RUNS } from '../report/prune-run-reports.js';
import { MAX_RECORDS_PER_CHUNK } from '../distributed/chunk-plan.js';
import { LOG_FORMATS, LOG_LEVELS, LogFormat } from '../observe/log-options.js';
import { logFormat, type LogFlags } from './log-settings.js';
// Each command's module is imported when the command runs: a run does not pay for loading the
// report, replay and status code (start-up time is what a short job feels most).

/**
 * A whole-number flag from `min` (0 by default) to `max`, checked as it is parsed so that the
 * message names the flag typed (not the option it sets). `runs --limit` starts at 1: 0 would mean
 * "nothing" and read as an empty answer ("no runs yet").
 */
function integer(name: string, min = 0, max = Number.MAX_SAFE_INTEGER) {
  return (value: string): number => {
    const parsed = Number(value);
    if (!Number.isInteger(parsed) || parsed < min || parsed > max) {
      const range = max < Number.MAX_SAFE_INTEGER ? ` from ${min} to ${max}` : min > 0 ? ` from ${min}` : '';
      throw new InvalidArgumentError(`${name} must be a whole number${range}; got "${value}"`);
    }
    return parsed;
  };
}

/** A TCP port flag: 0 (any free port) to 65535. */
const port = (name: string) => integer(name, 0, 65_535);

/** `--pg-schema`, checked as it is parsed: a bad name is a usage error that names the flag. */
function pgSchemaOption(): Option {
  return new Option('--pg-schema <name>', 'the PostgreSQL schema of a postgres:// ledger (default: batchguard)').argParser(
    (value: string) => {
      if (!isPgSchemaName(value)) throw new InvalidArgumentError(PG_SCHEMA_RULE);
      return value;
    },
  );
}

function fraction(value: string): number {
  const parsed = Number(value);
  if (!Number.isFinite(parsed) || parsed < 0 || parsed > 1)
    throw new InvalidArgumentError(`must be a fraction from 0 to 1 (0.05 = 5%); got "${value}"`);
  return parsed;
}

/** The installed package's version, from its package.json (two folders up from dist/cli/). */
function packageVersion(): string {
  return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
}

/** The commands that log (the others print plain text): their errors are log entries too. */
const LOGGING_COMMANDS = ['run', 'rerun'];

export function buildProgram(setExitCode: (code: number) => void, onCommand: (name: string, flags: LogFlags) => void = () => {}): Command {
  const program = new Command('batchguard')
    .description('Run record-processing jobs that survive failure: isolation, retries, checkpoints, resume.')
    .version(packageVersion(), '-V, --version', 'print the version')
    .exitOverride()
    .configureOutput({ outputError: (text, write) => write(`batchguard: ${text.replace(/^error: /, '')}`) })
    .hook('preAction', (_program, command) => onCommand(command.name(), command.opts()));

  const runFlags = (command: Command): Command =>
    command
      .argument('<job-file>', 'the job module (.ts, .mts, .js or .mjs)')
      .option(
        '--ledger <path>',
        "the ledger: a SQLite file, memory, or a postgres:// URL (default: the job's ledger, else .batchguard/<job name>.sqlite beside the job file)",
      )
      .addOption(pgSchemaOption())
      .option('--concurrency <n>', 'records in flight at once', integer('--concurrency', 1, MAX_CONCURRENCY))
      .option('--max-failure-rate <r>', 'exit 1 above this share of failed records', fraction)
      .option('--max-failures <n>', 'exit 1 above this number of failed records', integer('--max-failures'))
      .option('--accept-drift', 'go on although the source changed: match the recorded outcomes to its records by key')
      .option(
        '--take-over',
        'take the ledger from a run whose lease has not expired (it stops at its next commit without writing); only when that run cannot be stopped',
      )
      .option(
        '--lease <duration>',
        'how long the run lease lasts without renewal, e.g. 15s (renewed every third of it); a crashed run is taken over after this long',
        '15s',
      )
      .option('--json', 'print the summary as JSON on stdout')
      .option('--no-progress', 'no progress line on stderr')
      .option('--progress-every <duration>', 'when stderr is not a terminal: write a progress line this often, e.g. 30s', '10s')
      .option('--quiet', 'print nothing but errors (and the JSON summary with --json); the same as --log-level error')
      .option('--verbose', 'also print every retry and handler log line; the same as --log-level debug')
      .addOption(
        new Option('--log-level <level>', 'the least severe entries logged on stderr (default: $BATCHGUARD_LOG_LEVEL, else info)').choices(
          LOG_LEVELS,
        ),
      )
      .addOption(
        new Option(
          '--log-format <format>',
          'json: one JSON object per line; pretty: lines for people (default: $BATCHGUARD_LOG_FORMAT, else pretty on a terminal, json otherwise)',
        ).choices(LOG_FORMATS),
      )
      .option('--max-duration <duration>', 'stop taking records after this long, e.g. 2h, 90m, 1h30m (exit 5; run again to go on)')
      .option('--until <time>', 'stop taking records at this local time, e.g. 06:00 (exit 5)')
      .option('--max-records <n>', 'start at most N records in this run (exit 5)', integer('--max-records', 1))
      .option('--alert-webhook <url>', "POST alerts (Slack-compatible JSON) to this URL; replaces the job's alerts.webhook.url")
      .option(
        '--metrics-port <n>',
        'serve Prometheus metrics on http://HOST:N/metrics during the run (needs prom-client)',
        port('--metrics-port'),
      )
      .option('--metrics-host <host>', 'the address the metrics server listens on', '127.0.0.1')
      .option(
        '--keep-runs <n>',
        "keep the report folders of the last N runs beside the ledger (default: the job's keepRuns, 20)",
        integer('--keep-runs', 1, MAX_KEEP_RUNS),
      );

  runFlags(program.command('run'))
    .description('run a job; resumes automatically where the previous run stopped')
    .option('--limit <n>', 'the same as --max-records: a sample of the first N records not yet done', integer('--limit', 1))
    .option(
      '--worker',
      "join the job's shared run as one of several workers (the default over a PostgreSQL ledger when the job can be shared); refuse what a worker cannot do",
    )
    .option('--no-worker', 'over a PostgreSQL ledger: run as one process, not as a worker of a shared run')
    .option(
      '--records-per-chunk <n>',
      'as a worker: records per chunk when this worker plans the run (default: 10000; with dependsOn, at least that many: whole dependency components)',
      integer('--records-per-chunk', 1, MAX_RECORDS_PER_CHUNK),
    )
    .option(
      '--dry-run',
      'read and validate the source and say what a run would do, without calling the handler (exit 1 if records are invalid)',
    )
    .action(async (jobFile: string, flags) => setExitCode(await (await import('./run-command.js')).runCommand(jobFile, flags)));

  runFlags(program.command('rerun'))
    .description('re-run only the records whose latest outcome is failed (and those they block)')
    .option('--failed', 'select the failed records (required)')
    .option('--error <fingerprint>', 'only the failures of this error group')
    .option('--kind <kind>', 'only the failures of this kind: fatal, exhausted, timeout, invalid, crashed')
    .option('--keys <file>', 'only these keys, one per line (as `failures --format keys` prints them; - reads them from standard input)')
    .option('--worker', 'share the rerun with the other processes started with the same command, on any machine (PostgreSQL ledger only)')
    .option(
      '--records-per-chunk <n>',
      'with --worker: selected records per chunk when this worker plans the rerun (default: 1000)',
      integer('--records-per-chunk', 1, MAX_RECORDS_PER_CHUNK),
    )
    .action(async (jobFile: string, flags) => setExitCode(await (await import('./rerun-command.js')).rerunCommand(jobFile, flags)));

  program
    .command('replay')
    .description('run the handler for one record in the foreground, with every attempt shown in full')
    .argument('<job-file>')
    .argument('<key>', "the record's key (as `failures` shows it)")
    .option('--ledger <path>', 'the ledger file or postgres:// URL')
    .addOption(pgSchemaOption())
    .option('--record', 'record the new outcome in the ledger (only for a failed or skipped record)')
    .action(async (jobFile: string, key: string, flags) =>
      setExitCode(await (await import('./replay-command.js')).replayCommand(jobFile, key, flags)),
    );

  program
    .command('failures')
    .description('the failure report: failed (and skipped) records, grouped by error')
    .argument('<job-file>')
    .option('--ledger <path>', 'the ledger file or postgres:// URL')
    .addOption(pgSchemaOption())
    .option('--format <format>', 'table, jsonl, csv or keys', 'table')
    .option('--error <fingerprint>', 'only this error group')
    .option('--kind <kind>', 'only this kind: fatal, exhausted, timeout, invalid, crashed')
    .option('--run <run-id>', 'only the outcomes recorded by this run')
    .action(async (jobFile: string, flags) => setExitCode(await (await import('./failures-command.js')).failuresCommand(jobFile, flags)));

  program
    .command('status')
    .description("the job's state across all runs")
    .argument('<job-file>')
    .option('--ledger <path>', 'the ledger file or postgres:// URL')
    .addOption(pgSchemaOption())
    .option('--json', 'one JSON object on stdout')
    .action(async (jobFile: string, flags) => setExitCode(await (await import('./status-command.js')).statusCommand(jobFile, flags)));

  program
    .command('runs')
    .description("the job's runs side by side, newest first: records, failures, failure rate, elapsed, throughput")
    .argument('<job-file>')
    .option('--ledger <path>', 'the ledger file or postgres:// URL')
    .addOption(pgSchemaOption())
    .option('--json', 'one JSON object per run on stdout')
    .option('--limit <n>', 'how many runs (default 20)', integer('--limit', 1))
    .action(async (jobFile: string, flags) => setExitCode(await (await import('./runs-command.js')).runsCommand(jobFile, flags)));

  program
    .command('report')
    .description('write the HTML report of a run (the latest by default): figures, failure groups, a chart over time')
    .argument('<job-file>')
    .option('--ledger <path>', 'the ledger file or postgres:// URL')
    .addOption(pgSchemaOption())
    .option('--html <file>', 'the file to write (required)')
    .option('--run <run-id>', 'the run to report (default: the latest)')
    .action(async (jobFile: string, flags) => setExitCode(await (await import('./report-command.js')).reportCommand(jobFile, flags)));

  program
    .command('dashboard')
    .description('a live, read-only page of the job: runs, progress, failures by group, blocked records')
    .argument('<job-file>')
    .option('--ledger <path>', 'the ledger file or postgres:// URL')
    .addOption(pgSchemaOption())
    .option('--port <n>', 'the port to listen on (default: any free port, printed)', port('--port'))
    .option('--host <address>', 'the address to listen on', '127.0.0.1')
    .action(async (jobFile: string, flags) => setExitCode(await (await import('./dashboard-command.js')).dashboardCommand(jobFile, flags)));

  return program;
}

export function exitCodeForError(error: unknown): number {
  if (error instanceof LedgerError || error instanceof StorageError) return ExitCode.ledger;
  if (error instanceof ConfigError || error instanceof SourceError || error instanceof SinkError) return ExitCode.usage;
  if (error instanceof BatchguardError) return ExitCode.usage;
  return ExitCode.internal;
}

/**
 * Output that nobody reads any more (a pipe into `head` that closed, a log shipper that died, a
 * terminal that hung up) is lost, not the run: without a listener Node turns the pipe's EPIPE (the
 * terminal's EIO) into an uncaught exception, which a run took for an error escaping the job's code
 * and stopped on (exit 6). Other write errors stay uncaught, as before.
 */
function dropOutputOfClosedPipes(): void {
  for (const stream of [process.stdout, process.stderr]) {
    if (stream.listeners('error').includes(ignoreClosedPipe)) continue;
    stream.on('error', ignoreClosedPipe);
  }
}

function ignoreClosedPipe(error: NodeJS.ErrnoException): void {
  if (error.code !== 'EPIPE' && error.code !== 'EIO') throw error;
}

/** The bin's exit once `main` has returned (process-exit.ts): the job's code cannot change its code. */
export { exitWith } from './process-exit.js';

export async function main(argv: string[]): Promise<number> {
  dropOutputOfClosedPipes();
  let exitCode = 0;
  let command: { name: string; flags: LogFlags } | undefined;
  const program = buildProgram(
    (code) => (exitCode = code),
    (name, flags) => (command = { name, flags }),
  );
  try {
    await program.parseAsync(argv);
    return exitCode;
  } catch (error) {
    const commanderCode = (error as { code?: string }).code;
    if (typeof commanderCode === 'string' && commanderCode.startsWith('commander.')) {
      return commanderCode === 'commander.helpDisplayed' || commanderCode === 'commander.version' ? 0 : ExitCode.usage;
    }
    const code = exitCodeForError(error);
    if (command !== undefined && LOGGING_COMMANDS.includes(command.name) && jsonLog(command.flags)) {
      await logError(error, code);
      return code;
    }
    // A message may quote user input (a path, a URL, a record's text): secrets masked, terminal
    // escape sequences shown escaped (our own messages may span lines: those breaks stay).
    const message = defaultRedactor(thrownMessage(error)).split('\n').map(printable).join('\n');
    process.stderr.write(`batchguard: error: ${message}\n`);
    if (code === ExitCode.internal)
      process.stderr.write(
        `${defaultRedactor(valueText(readProp(error, 'stack') ?? ''))}\nThis is a bug in batchguard; please report it with the lines above.\n`,
      );
    return code;
  }
}

/** Whether the command's log is JSON; a bad BATCHGUARD_LOG_FORMAT (the error being reported, perhaps) means no. */
function jsonLog(flags: LogFlags): boolean {
  try {
    return logFormat(flags, process.env, process.stderr.isTTY === true) === LogFormat.json;
  } catch {
    return false;
  }
}

/** The error that ends a logging command, as the last entry of its JSON log (level fatal). */
async function logError(error: unknown, code: number): Promise<void> {
  const { createLogger } = await import('../observe/logger.js');
  const log = createLogger({ format: LogFormat.json, write: (line) => process.stderr.write(`${line}\n`) });
  const stack = code === ExitCode.internal ? valueText(readProp(error, 'stack') ?? '') : undefined;
  log.fatal(
    {
      event: 'run:error',
      exitCode: code,
      code: readProp(error, 'code'),
      ...(stack === undefined ? {} : { stack, hint: 'this is a bug in batchguard; please report it with this entry' }),
    },
    thrownMessage(error),
  );
}
