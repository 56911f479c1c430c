/**
 * `batchguard replay <job-file> <key>`: runs the handler for one record in the foreground and shows
 * every attempt in full (cause chain, classification, delays). Changes nothing unless `--record`.
 */
import { existsSync } from 'node:fs';
import { ConfigError } from '../errors.js';
import { printable } from '../report/printable.js';
import type { Job } from '../job.js';
import type { RecordRow } from '../ledger/ledger.js';
import { replayRecord } from '../use-cases/replay.js';
import type { EngineEvent } from '../engine/events.js';
import type { SerializedError } from '../policy/serialize-error.js';
import type { SourceItem } from '../sources/source.js';
import { isDatabaseLedger, ledgerPath, openExistingLedger } from './ledger-path.js';
import { loadJob } from './load-job.js';
import { runCommand } from './run-command.js';
import { ExitCode } from './exit-codes.js';
import { exitedBy, guardExit } from './process-exit.js';

const PACKAGE_ROOT = new URL('../../', import.meta.url).pathname;

export interface ReplayFlags {
  ledger?: string;
  pgSchema?: string;
  record?: boolean;
}

export async function replayCommand(jobFile: string, key: string, flags: ReplayFlags): Promise<number> {
  const job = await loadJob(jobFile);
  const row = await storedRow(job, key, flags, jobFile);
  if (flags.record) {
    if (!row)
      throw new ConfigError(
        `replay --record needs a failed or skipped record; ${key} has no stored failure (it succeeded, or was never processed: \`batchguard run\` processes it)`,
        { field: '--record' },
      );
    return runCommand(jobFile, { ledger: flags.ledger, pgSchema: flags.pgSchema, verbose: true, progress: false }, { keys: [key] });
  }
  const item = await findRecord(job, key, row);
  if (!item) throw new ConfigError(`no record with key ${JSON.stringify(key)} in ${job.source.description}`, { field: 'key' });
  const out = process.stdout;
  out.write(`replaying ${printable(key)} (${describePosition(item)}) with ${job.name}'s retry policy; the ledger is not changed\n`);
  if (item.kind === 'invalid') {
    out.write(`the source cannot parse this record: ${printable(job.redact(item.message))}\n`);
    return 1;
  }
  // An exit in the handler must not read as a replay that went well. Set before the call: the
  // handler's first attempt may start within it.
  const unguard = guardExit((exit) =>
    process.stderr.write(
      `batchguard: ${exitedBy({ ...exit, key: exit.key ?? key })} during the replay; exit code ${ExitCode.exitedMidRun}\n`,
    ),
  );
  const result = await replayRecord(job, item.value, key, item.position, (event) => describe(event, out, job.redact)).finally(unguard);
  if (result.outcome.status === 'succeeded') {
    out.write(
      `succeeded on attempt ${result.outcome.attempts}; result:\n${JSON.stringify(result.outcome.value, null, 2) ?? 'undefined'}\n`,
    );
    return 0;
  }
  if (result.outcome.status === 'failed')
    out.write(`failed (${result.outcome.kind}) after ${result.outcome.attempts} attempt(s); rule ${result.outcome.rule}\n`);
  return 1;
}

async function storedRow(job: Job<any, any>, key: string, flags: ReplayFlags, jobFile: string): Promise<RecordRow | undefined> {
  const path = ledgerPath(job, flags.ledger, jobFile);
  if (!isDatabaseLedger(path) && !existsSync(path)) return undefined;
  const ledger = await openExistingLedger(job, flags, jobFile);
  try {
    for await (const row of ledger.rows({ statuses: ['failed', 'skipped'], key })) return row;
    return undefined;
  } finally {
    await ledger.close();
  }
}

/** Seeks to the stored position when there is one; otherwise scans the source for the key. */
async function findRecord(job: Job<any, any>, key: string, row: RecordRow | undefined): Promise<SourceItem<unknown> | undefined> {
  const from = row && job.source.seekable && row.offset !== undefined ? { seq: row.seq, line: row.line, offset: row.offset } : undefined;
  for await (const item of job.source.read(from)) {
    if (from) return item.position.seq === row?.seq ? item : undefined;
    if (item.kind === 'invalid') {
      if (key === `@line:${item.position.line}` || key === `@seq:${item.position.seq}`) return item;
      continue;
    }
    let itemKey: string | undefined;
    try {
      itemKey = job.key(item.value);
    } catch {
      itemKey = undefined;
    }
    if (itemKey === key) return item;
  }
  return undefined;
}

function describePosition(item: SourceItem<unknown>): string {
  const { seq, line } = item.position;
  return line !== undefined ? `line ${line}` : `record #${seq}`;
}

function describe(event: EngineEvent, out: NodeJS.WritableStream, redact: (text: string) => string): void {
  if (event.type === 'record:retrying') {
    out.write(
      `attempt ${event.attempt} failed (${event.rule}: retryable); next attempt in ${event.delayMs} ms\n${formatError(event.error, '  ')}`,
    );
  } else if (event.type === 'record:failed') {
    out.write(`attempt ${event.attempts} failed (${event.rule}: ${event.kind})\n${formatError(event.error, '  ')}`);
  } else if (event.type === 'record:log') {
    out.write(`  log: ${printable(redact(`${event.message}${event.fields ? ` ${JSON.stringify(event.fields)}` : ''}`))}\n`);
  }
}

/** The error and its cause chain, each with its stack, indented. */
export function formatError(error: SerializedError, indent: string): string {
  const lines: string[] = [];
  let current: SerializedError | undefined = error;
  let prefix = '';
  while (current) {
    const code = current.code ? ` [${current.code}]` : '';
    const status = current.status ? ` (status ${current.status})` : '';
    lines.push(`${indent}${prefix}${printable(`${current.name}${code}${status}: ${current.message}`)}`);
    // The user's frames only: batchguard's own and Node's internals say nothing about the record.
    const frames = (current.stack ?? '')
      .split('\n')
      .filter(
        (line) =>
          line.trim().startsWith('at ') && !line.includes(PACKAGE_ROOT) && !line.includes('node:internal') && !line.includes('<anonymous>'),
      )
      .slice(0, 5);
    for (const frame of frames) lines.push(`${indent}    ${printable(frame.trim())}`);
    current = current.cause;
    prefix = 'caused by: ';
  }
  return `${lines.join('\n')}\n`;
}
