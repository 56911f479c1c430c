/**
 * The dashboard's page. Its script subscribes to `/events` (server-sent events, one snapshot per
 * message) and writes every value with `textContent`, never as markup: keys and messages from
 * records cannot become HTML. The Content-Security-Policy allows only this page's own script (by
 * nonce) and connections back to the same server.
 */
import { html } from './escape.js';
import { REPORT_CSS } from './style.js';

export function renderDashboardPage(job: string, nonce: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'nonce-${nonce}'; connect-src 'self'">
<title>${html(job)}: batchguard dashboard</title>
<style>${REPORT_CSS} #state { color: #5b6474; font-size: 12px; }</style>
</head>
<body>
<header><h1>${html(job)}</h1><p id="state">connecting…</p></header>
<section><h2>Progress</h2><dl class="figures" id="figures"></dl></section>
<section><h2>Active run</h2><p id="active"></p><p>Breaker: <span id="breaker"></span></p></section>
<section><h2>Recent runs</h2><table><thead><tr><th>run</th><th>status</th><th>started</th><th class="num">done</th><th class="num">failed</th><th class="num">records/s</th></tr></thead><tbody id="runs"></tbody></table></section>
<section><h2>Failures by cause</h2><div id="groups"></div></section>
<section><h2>Blocked records</h2><p id="blocked"></p></section>
<section><h2>Commands</h2><div id="commands"></div></section>
<script nonce="${nonce}">${PAGE_SCRIPT}</script>
</body>
</html>
`;
}

const PAGE_SCRIPT = `
const el = (tag, text, cls) => { const e = document.createElement(tag); if (text !== undefined) e.textContent = String(text); if (cls) e.className = cls; return e; };
const FIGURES = [['total', 'Records'], ['succeeded', 'Succeeded'], ['failed', 'Failed'], ['skipped', 'Skipped'], ['pending', 'Pending']];
function render(s) {
  document.getElementById('state').textContent = 'updated ' + s.at;
  const figures = document.getElementById('figures');
  figures.replaceChildren(...FIGURES.map(([id, label]) => { const d = el('div'); d.append(el('dt', label)); const dd = el('dd', s.counts[id]); dd.dataset.figure = id; d.append(dd); return d; }));
  const latest = s.runs[0];
  const rate = el('div'); rate.append(el('dt', 'Records/s (latest run)')); const rd = el('dd', latest ? latest.perSecond : 0); rd.dataset.figure = 'per-second'; rate.append(rd); figures.append(rate);
  document.getElementById('active').textContent = s.active ? 'run ' + s.active.runId + ' (pid ' + s.active.pid + ' on ' + s.active.host + ', since ' + s.active.since + ')' : 'none';
  document.getElementById('breaker').textContent = s.breaker;
  document.getElementById('runs').replaceChildren(...s.runs.map((r) => { const tr = el('tr'); tr.append(el('td', r.runId), el('td', r.status), el('td', r.startedAt), el('td', r.done, 'num'), el('td', r.failed, 'num'), el('td', r.perSecond, 'num')); return tr; }));
  const groups = s.groups.map((g) => { const a = el('article', undefined, 'group'); const h = el('h3'); h.append(el('span', g.count, 'count'), ' ' + g.name); a.append(h, el('p', g.message, 'message'));
    for (const t of g.templates) a.append(el('p', t.count + ' × ' + t.template + ' · ' + t.sampleKeys.join(', '), 'template'));
    return a; });
  document.getElementById('groups').replaceChildren(...(groups.length ? groups : [el('p', 'No failed records.', 'empty')]));
  document.getElementById('blocked').textContent = s.blocked.count === 0 ? 'none' : s.blocked.count + ' blocked: ' + s.blocked.sampleKeys.join(', ');
  document.getElementById('commands').replaceChildren(...s.commands.map((c) => { const p = el('p'); p.append(el('code', c)); return p; }));
}
const events = new EventSource('/events');
events.onmessage = (m) => render(JSON.parse(m.data));
events.onerror = () => { document.getElementById('state').textContent = 'disconnected; retrying…'; };
`;
