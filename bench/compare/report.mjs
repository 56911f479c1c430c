/**
 * The markdown of `npm run bench`: one table per handler, a row per contender and size, with
 * ratios to the bare loop over the same input; and the list of the runs that measured them.
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

/** Records/s of the cell's (median) run, and the range over its runs when it had several. */
function rateText(cell, count) {
  const rate = thousands(cell.recordsPerSecond);
  if (!cell.runsMs) return rate;
  const rates = cell.runsMs.map((ms) => count / (ms / 1000));
  return `${rate} (${rates.length} runs: ${thousands(Math.min(...rates))}–${thousands(Math.max(...rates))})`;
}

function cellText(cell, bare, count) {
  if (cell.status === 'skipped' || cell.status === 'unavailable' || cell.status === 'error') {
    return [cell.note, '', '', '', ''];
  }
  // A bare loop of another run saw another load: the ratio says so.
  const ratio = bare?.recordsPerSecond
    ? `${(cell.recordsPerSecond / bare.recordsPerSecond).toFixed(2)}×${bare.run === cell.run ? '' : ' (bare loop of another run)'}`
    : '—';
  const crash = cell.crashNote
    ? [cell.crashNote, '']
    : cell.redone === undefined
      ? ['—', '—']
      : [
          cell.resumeMs === undefined ? 'no new record' : seconds(cell.resumeMs),
          `${thousands(cell.redone)}${cell.stuck ? ` (${thousands(cell.stuck)} held by the dead worker)` : ''}`,
        ];
  return [rateText(cell, count), ratio, `${(cell.maxRssBytes / 1024 / 1024).toFixed(0)} MB`, ...crash];
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
        out.push(`| ${contender.label} | ${thousands(n)} | ${cellText(cell, bare.status === 'ok' ? bare : undefined, n).join(' | ')} |`);
      }
    }
    out.push('');
  }
  return out.join('\n');
}

const range = (values) => {
  const low = Math.min(...values);
  const high = Math.max(...values);
  return low === high ? `${low}` : `${low}–${high}`;
};

/** What one run measured at one size: "no-op handler: every contender; failing handler: bare, …". */
function coverage(size, run) {
  const parts = [];
  for (const [handler, row] of Object.entries(size.handlers)) {
    const ids = CONTENDERS.map((c) => c.id).filter((id) => row[id]?.run === run);
    if (ids.length === 0) continue;
    const which = ids.length === CONTENDERS.length ? 'every contender' : ids.join(', ');
    parts.push(`${HANDLER_TITLES[handler].replace(/ \(.*/, '')}: ${which}`);
  }
  const handlers = Object.keys(HANDLER_TITLES).filter((h) => size.handlers[h]);
  if (parts.length === handlers.length && parts.every((p) => p.endsWith(': every contender'))) return 'every handler and contender';
  return parts.join('; ');
}

/** "Where and when": per size, one line for each run of the harness whose cells are still shown. */
export function renderRuns(sizes) {
  const lines = [];
  for (const [n, size] of Object.entries(sizes).sort(([a], [b]) => Number(a) - Number(b))) {
    for (const [run, r] of Object.entries(size.runs).sort(([a], [b]) => a.localeCompare(b))) {
      const m = r.machine;
      const cells = Object.values(size.handlers).flatMap((row) => Object.values(row).filter((c) => c.run === run));
      // Cells measured before they noted their own load have only the run's.
      const loads = cells.map((c) => c.load).filter((l) => l !== undefined);
      const load =
        loads.length > 0
          ? `load average (1 min) ${range(loads)} at the start of its cells`
          : `load average at start ${m.loadAverage.join(' / ')}`;
      const crash =
        r.crashMaxSeconds !== undefined && r.crashMaxSeconds !== r.maxSeconds
          ? `, no crash measurement after a run above ${r.crashMaxSeconds} s`
          : '';
      const repeats = r.repeats > 1 ? `; ${r.repeats} timed runs per cell, the median shown` : '';
      lines.push(
        `- ${thousands(Number(n))} records, run of ${run.slice(0, 16).replace('T', ' ')} UTC (${coverage(size, run)}): ${m.nproc} CPUs (${m.cpu}), ${m.memoryGiB} GiB, node ${m.node}, ${load}; skip above ${r.maxSeconds} s${crash}; concurrency ${r.concurrency}${repeats}`,
      );
    }
  }
  return lines.join('\n');
}
