/**
 * The markdown of `npm run bench`: one table per handler, a row per contender and size, with
 * ratios to the bare loop over the same input; and docs/benchmarks.md around it.
 */
import { CONTENDERS } from './contenders.mjs';

export const HANDLER_TITLES = {
  noop: 'no-op handler',
  failing: 'failing handler (5% fail once transiently, 1% fatally)',
  io: 'I/O-bound handler (waits 2 ms)',
};

const thousands = (value) =>
  Math.round(value)
    .toString()
    .replace(/\B(?=(\d{3})+(?!\d))/g, ',');
const seconds = (ms) => (ms >= 10_000 ? `${(ms / 1000).toFixed(0)} s` : `${(ms / 1000).toFixed(2)} s`);

function cellText(cell, bare) {
  if (cell.status === 'skipped' || cell.status === 'unavailable' || cell.status === 'error') {
    return [cell.note, '', '', '', ''];
  }
  const ratio = bare?.recordsPerSecond ? `${(cell.recordsPerSecond / bare.recordsPerSecond).toFixed(2)}×` : '—';
  const crash = cell.crashNote
    ? [cell.crashNote, '']
    : cell.redone === undefined
      ? ['—', '—']
      : [
          cell.resumeMs === undefined ? 'no new record' : seconds(cell.resumeMs),
          `${thousands(cell.redone)}${cell.stuck ? ` (${thousands(cell.stuck)} held by the dead worker)` : ''}`,
        ];
  return [thousands(cell.recordsPerSecond), ratio, `${(cell.maxRssBytes / 1024 / 1024).toFixed(0)} MB`, ...crash];
}

/** `results[count][handler][contenderId]` → markdown tables, one per handler. */
export function renderTables(results) {
  const counts = Object.keys(results)
    .map(Number)
    .sort((a, b) => a - b);
  const handlers = Object.keys(HANDLER_TITLES).filter((h) => counts.some((n) => results[n][h]));
  const out = [];
  for (const handler of handlers) {
    out.push(`### ${HANDLER_TITLES[handler]}`, '');
    out.push('| contender | records | records/s | × bare loop | peak RSS | resume at 90%: to the first new record | records redone |');
    out.push('|---|---:|---:|---:|---:|---:|---:|');
    for (const contender of CONTENDERS) {
      for (const n of counts) {
        const cell = results[n][handler]?.[contender.id];
        if (!cell) continue;
        const bare = results[n][handler].bare;
        out.push(`| ${contender.label} | ${thousands(n)} | ${cellText(cell, bare.status === 'ok' ? bare : undefined).join(' | ')} |`);
      }
    }
    out.push('');
  }
  return out.join('\n');
}
