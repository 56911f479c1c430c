/**
 * The failure report in the formats `batchguard failures` prints: a table of failure groups with
 * their message templates, JSON lines (contract 4.5), CSV, or bare keys (which `rerun --keys FILE`
 * reads back; see key-lines.ts for keys that need quoting).
 */
import { counted } from '../domain/counted.js';
import type { RecordRow } from '../ledger/ledger.js';
import { maskMessage } from '../policy/fingerprint.js';
import { toFailureLine } from './failure-line.js';
import { formatKeyLine } from './key-lines.js';
import { printable, printableLine } from './printable.js';

export const FailureFormat = { table: 'table', jsonl: 'jsonl', csv: 'csv', keys: 'keys' } as const;
export type FailureFormat = (typeof FailureFormat)[keyof typeof FailureFormat];

type Write = (text: string) => void;

/** C0 controls but tab, line feed and carriage return; DEL; C1 controls. */
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]/g;

function escapedControl(char: string): string {
  return `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`;
}

const CSV_COLUMNS = [
  'key',
  'status',
  'kind',
  'attempts',
  'fingerprint',
  'template',
  'error_name',
  'error_message',
  'rule',
  'line',
  'run_id',
  'updated_at',
] as const;

/**
 * One CSV cell. Keys and messages come from the input and the service, which an attacker may
 * write: a cell that a spreadsheet would read as a formula (it starts with =, +, -, @, a tab or a
 * carriage return) gets a leading `'`, unless it is a plain number (OWASP's advice against CSV
 * injection). Control characters other than tab and line ends (an escape sequence, which a
 * terminal showing the file would obey) are written as `\u001b`. The jsonl and keys formats keep
 * every value (JSON-escaped).
 */
function csvField(value: unknown): string {
  const raw = (value === undefined || value === null ? '' : String(value)).replace(CONTROL, escapedControl);
  const text = /^[=+\-@\t\r]/.test(raw) && !/^[+-]?\d+(\.\d+)?$/.test(raw) ? `'${raw}` : raw;
  return /[",\n\r]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** Streams rows in one of the line formats; returns how many were written. */
export async function writeFailureLines(
  rows: AsyncIterable<RecordRow>,
  format: Exclude<FailureFormat, 'table'>,
  write: Write,
): Promise<number> {
  let count = 0;
  if (format === 'csv') write(`${CSV_COLUMNS.join(',')}\n`);
  for await (const row of rows) {
    count++;
    if (format === 'keys') write(`${formatKeyLine(row.key)}\n`);
    else if (format === 'jsonl') write(`${JSON.stringify(toFailureLine(row))}\n`);
    else {
      const template = row.template ?? (row.error ? maskMessage(row.error.message) : undefined);
      const values = [
        row.key,
        row.status,
        row.kind,
        row.attempts,
        row.fingerprint,
        template,
        row.error?.name,
        row.error?.message,
        row.rule,
        row.line,
        row.runId,
        row.updatedAt,
      ];
      write(`${values.map(csvField).join(',')}\n`);
    }
  }
  return count;
}

/** Templates shown under each group; distinct templates counted per group before the rest are lumped together. */
const TEMPLATES_SHOWN = 3;
const TEMPLATES_COUNTED = 500;
const SAMPLE_KEYS = 3;

interface TemplateCount {
  count: number;
  sampleKeys: string[];
}

interface Group {
  fingerprint: string;
  count: number;
  kinds: Set<string>;
  /** The first failure's error name, code, status and rule: what the group is. */
  title: string;
  templates: Map<string, TemplateCount>;
  /** Failures whose template was not counted separately (past TEMPLATES_COUNTED). */
  otherTemplates: number;
}

/** Groups rows by fingerprint (one cause) and prints the groups, largest first, each with its top message templates. */
export async function writeFailureTable(rows: AsyncIterable<RecordRow>, write: Write): Promise<number> {
  const groups = new Map<string, Group>();
  let count = 0;
  for await (const row of rows) {
    count++;
    const id = row.status === 'skipped' ? 'skipped' : (row.fingerprint ?? '-');
    let group = groups.get(id);
    if (!group) {
      group = { fingerprint: id, count: 0, kinds: new Set(), title: titleOf(row), templates: new Map(), otherTemplates: 0 };
      groups.set(id, group);
    }
    group.count++;
    group.kinds.add(row.kind ?? row.status);
    const template = row.status === 'skipped' ? 'blocked by a failed dependency' : (row.template ?? maskMessage(row.error?.message ?? ''));
    let counted = group.templates.get(template);
    if (!counted && group.templates.size < TEMPLATES_COUNTED) {
      counted = { count: 0, sampleKeys: [] };
      group.templates.set(template, counted);
    }
    if (!counted) {
      group.otherTemplates++;
      continue;
    }
    counted.count++;
    if (counted.sampleKeys.length < SAMPLE_KEYS) counted.sampleKeys.push(row.key);
  }
  if (count === 0) return 0;
  write(`${'count'.padStart(7)}  ${'group'.padEnd(12)}  ${'kind'.padEnd(9)}  error, then its most frequent messages\n`);
  for (const group of [...groups.values()].sort((a, b) => b.count - a.count)) {
    write(`${String(group.count).padStart(7)}  ${group.fingerprint.padEnd(12)}  ${[...group.kinds].join(',').padEnd(9)}  ${group.title}\n`);
    const templates = [...group.templates].sort((a, b) => b[1].count - a[1].count);
    for (const [template, counted] of templates.slice(0, TEMPLATES_SHOWN)) {
      const keys = counted.sampleKeys.map((key) => printableLine(key, 40)).join(', ');
      write(`${' '.repeat(7)}  ${String(counted.count).padStart(12)}  ${' '.repeat(9)}  ${printableLine(template, 90)}  e.g. ${keys}\n`);
    }
    const hidden = templates.length - TEMPLATES_SHOWN;
    if (hidden > 0 || group.otherTemplates > 0) {
      const records = templates.slice(TEMPLATES_SHOWN).reduce((sum, [, c]) => sum + c.count, 0) + group.otherTemplates;
      write(
        `${' '.repeat(7)}  ${' '.repeat(12)}  ${' '.repeat(9)}  … ${hidden > 0 ? `${hidden}${group.otherTemplates > 0 ? '+' : ''}` : 'more'} other messages (${records} records)\n`,
      );
    }
  }
  write(`${counted(count, 'record')} in ${counted(groups.size, 'group')}\n`);
  return count;
}

function titleOf(row: RecordRow): string {
  if (row.status === 'skipped') return 'Skipped';
  const error = row.error;
  const code = error?.code !== undefined ? ` [${error.code}]` : '';
  const status = error?.status !== undefined ? ` (status ${error.status})` : '';
  let root = error?.cause;
  while (root?.cause) root = root.cause;
  const cause = root
    ? `, caused by ${root.name}${root.code !== undefined ? ` [${root.code}]` : ''}${root.status !== undefined ? ` (status ${root.status})` : ''}`
    : '';
  const group = error?.group !== undefined ? `group "${error.group}": ` : '';
  return printable(`${group}${error?.name ?? 'Error'}${code}${status}${cause}${row.rule ? `; rule ${row.rule}` : ''}`);
}
