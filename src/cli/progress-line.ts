/**
 * What a progress line says, from a {@link Progress} and a measured rate: pure, so that every
 * layout is tested without a terminal.
 */
import type { Progress } from '../engine/run-job.js';
import type { ProgressFigures } from '../observe/run-log.js';

export type { ProgressFigures } from '../observe/run-log.js';

export function progressFigures(p: Progress, recordsPerSecond: number): ProgressFigures {
  const done = p.alreadyDone + p.succeeded + p.failed + p.skipped;
  let total: number | undefined;
  let estimated = false;
  if (p.sourceExhausted) {
    total = p.read;
  } else if (p.bytesTotal !== undefined && p.bytesTotal > 0 && p.bytesRead !== undefined && p.bytesRead > 0 && p.read > 1) {
    // `bytesRead` is where the last record read begins: the records before it took that many bytes.
    total = Math.round(((p.read - 1) / p.bytesRead) * p.bytesTotal);
    estimated = true;
  }
  // A resume counts records it did not read this time; an estimate never says less than what is known.
  if (total !== undefined) total = Math.max(total, done, p.read);
  const percent = total === undefined ? undefined : total === 0 ? 100 : (done / total) * 100;
  const etaSeconds = total !== undefined && recordsPerSecond > 0 ? (total - done) / recordsPerSecond : undefined;
  return { done, total, estimated, percent, recordsPerSecond, etaSeconds };
}

/** One part of the terminal line; the lower its rank, the sooner it is left out when the line is too wide. */
interface Part {
  readonly text: string;
  readonly rank: number;
}

/**
 * The live line on a terminal: parts are left out, least important first, until it fits in
 * `columns` (one column stays free for the cursor); what is still too wide is cut with `…`.
 */
export function terminalLine(p: Progress, f: ProgressFigures, columns: number | undefined): string {
  const parts: Part[] = [];
  const total = f.total === undefined ? '' : `/${f.estimated ? '~' : ''}${group(f.total)}`;
  parts.push({ text: `${group(f.done)}${total}`, rank: 9 });
  if (f.percent !== undefined) parts.push({ text: `${f.percent.toFixed(1)}%`, rank: 9 });
  parts.push({ text: `${group(Math.round(f.recordsPerSecond))} rec/s`, rank: 6 });
  if (f.etaSeconds !== undefined) parts.push({ text: `ETA ${duration(f.etaSeconds)}`, rank: 7 });
  parts.push({ text: `✓ ${group(p.succeeded)}`, rank: 8 });
  parts.push({ text: `✗ ${group(p.failed)}`, rank: 8 });
  if (p.skipped > 0) parts.push({ text: `skipped ${group(p.skipped)}`, rank: 4 });
  parts.push({ text: `retrying ${group(p.retrying)}`, rank: 3 });
  parts.push({ text: `${p.inFlight}/${p.concurrencyLimit} in flight`, rank: 2 });
  if (p.breaker !== 'closed') parts.push({ text: `breaker ${p.breaker}`, rank: 10 });
  if (p.careful) parts.push({ text: 'careful mode', rank: 10 });
  if (p.stopping) parts.push({ text: `stopping (${p.stopping})…`, rank: 10 });
  let line = parts.map((part) => part.text).join('  ');
  const width = columns === undefined || columns <= 1 ? Infinity : columns - 1;
  while (Array.from(line).length > width && parts.length > 1) {
    let lowest = 0;
    for (let i = 1; i < parts.length; i++) if ((parts[i] as Part).rank < (parts[lowest] as Part).rank) lowest = i;
    parts.splice(lowest, 1);
    line = parts.map((part) => part.text).join('  ');
  }
  return fitToWidth(line, columns);
}

/** The line written every few seconds when stderr is not a terminal: words and numbers, ASCII only. */
export function plainLine(p: Progress, f: ProgressFigures): string {
  const fields = [
    `progress: done ${f.done}${f.total === undefined ? '' : ` of ${f.estimated ? 'about ' : ''}${f.total}`}`,
    ...(f.percent === undefined ? [] : [`(${f.percent.toFixed(1)}%)`]),
    `${Math.round(f.recordsPerSecond)} rec/s`,
    ...(f.etaSeconds === undefined ? [] : [`eta ${duration(f.etaSeconds)}`]),
    `succeeded ${p.succeeded}`,
    `failed ${p.failed}`,
    `skipped ${p.skipped}`,
    `retrying ${p.retrying}`,
    `in flight ${p.inFlight}/${p.concurrencyLimit}`,
    `breaker ${p.breaker}`,
    ...(p.careful ? ['careful mode'] : []),
    ...(p.stopping ? [`stopping (${p.stopping})`] : []),
  ];
  return fields.join(', ').replace(/, \(/, ' (');
}

/** Cuts a line to fit `columns` terminal columns (one column is left free for the cursor). */
export function fitToWidth(line: string, columns: number | undefined): string {
  if (columns === undefined || columns <= 1) return line;
  const characters = Array.from(line);
  return characters.length < columns ? line : `${characters.slice(0, columns - 2).join('')}…`;
}

/** 1234567 → "1,234,567", without Intl (its first use loads ICU data, ~20 ms of a short run's start). */
function group(n: number): string {
  return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

/** Seconds as "45s", "12m05s", "3h07m". */
export function duration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, '0')}s`;
  const h = Math.floor(m / 60);
  return `${h}h${String(m % 60).padStart(2, '0')}m`;
}
