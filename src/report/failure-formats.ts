/**
 * The failure report in the formats `batchguard failures` prints: a table grouped by error, JSON
 * lines (contract 4.5), CSV, or bare keys (which `rerun --keys FILE` reads back).
 */
import type { RecordRow } from '../ledger/ledger.js';
import { maskMessage } from '../policy/fingerprint.js';
import { toFailureLine } from './failure-line.js';

export const FailureFormat = { table: 'table', jsonl: 'jsonl', csv: 'csv', keys: 'keys' } as const;
export type FailureFormat = (typeof FailureFormat)[keyof typeof FailureFormat];

type Write = (text: string) => void;

const CSV_COLUMNS = ['key', 'status', 'kind', 'attempts', 'fingerprint', 'error_name', 'error_message', 'rule', 'line', 'run_id', 'updated_at'] as const;

function csvField(value: unknown): string {
  const text = value === undefined || value === null ? '' : String(value);
  return /[",\n\r]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** Streams rows in one of the line formats; returns how many were written. */
export async function writeFailureLines(rows: AsyncIterable<RecordRow>, format: Exclude<FailureFormat, 'table'>, write: Write): Promise<number> {
  let count = 0;
  if (format === 'csv') write(`${CSV_COLUMNS.join(',')}\n`);
  for await (const row of rows) {
    count++;
    if (format === 'keys') write(`${row.key}\n`);
    else if (format === 'jsonl') write(`${JSON.stringify(toFailureLine(row))}\n`);
    else {
      const values = [row.key, row.status, row.kind, row.attempts, row.fingerprint, row.error?.name, row.error?.message, row.rule, row.line, row.runId, row.updatedAt];
      write(`${values.map(csvField).join(',')}\n`);
    }
  }
  return count;
}

interface Group {
  fingerprint: string;
  count: number;
  kinds: Set<string>;
  name: string;
  message: string;
  sampleKeys: string[];
}

/** Groups rows by fingerprint and prints the groups, largest first. */
export async function writeFailureTable(rows: AsyncIterable<RecordRow>, write: Write): Promise<number> {
  const groups = new Map<string, Group>();
  let count = 0;
  for await (const row of rows) {
    count++;
    const id = row.status === 'skipped' ? 'skipped' : (row.fingerprint ?? '-');
    let group = groups.get(id);
    if (!group) {
      group = { fingerprint: id, count: 0, kinds: new Set(), name: row.error?.name ?? 'Skipped', message: row.error ? maskMessage(row.error.message) : 'blocked by a failed dependency', sampleKeys: [] };
      groups.set(id, group);
    }
    group.count++;
    group.kinds.add(row.kind ?? row.status);
    if (group.sampleKeys.length < 3) group.sampleKeys.push(row.key);
  }
  if (count === 0) return 0;
  write(`${'count'.padStart(7)}  ${'fingerprint'.padEnd(12)}  ${'kind'.padEnd(9)}  error\n`);
  for (const group of [...groups.values()].sort((a, b) => b.count - a.count)) {
    const message = group.message.replace(/\s+/g, ' ');
    write(`${String(group.count).padStart(7)}  ${group.fingerprint.padEnd(12)}  ${[...group.kinds].join(',').padEnd(9)}  ${group.name}: ${message.length > 90 ? `${message.slice(0, 89)}…` : message}\n`);
    write(`${' '.repeat(7)}  ${' '.repeat(12)}  ${' '.repeat(9)}  e.g. ${group.sampleKeys.join(', ')}\n`);
  }
  write(`${count} records in ${groups.size} groups\n`);
  return count;
}
