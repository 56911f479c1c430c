/**
 * A kill storm on the SQLite ledger's duplicate-key index while its spills run on a worker thread
 * (ledger/sqlite/key-run-spiller.ts): a child process on the built ledger (dist/) adds keys
 * `key-0`, `key-1`, … (seq = the number, line = seq + 1), commits every 100 keys with a table of
 * 1000 keys (a spill every 10 commits, merges all the time), and is SIGKILLed at random moments.
 *
 * Each child logs to a file of its own (one JSON line a writeSync, so a SIGKILL cuts none short):
 * `commit n` before a commit that stores keys up to n, `committed n` once it returned, and `spill`
 * when a spill was under way after a commit and none was before (or the other way round). What is
 * exactly provable after a kill: the ledger committed the last `committed` count, or the count of
 * the commit in flight when a `commit` line follows it (the transaction may have ended before the
 * kill); nothing else. So each next child, on open, must find the index's size equal to the
 * ledger's own watermark, that one of those two counts, every key below it with its seq and line,
 * none of the 200 past it, and the key folder holding only what its manifest lists. It then adds
 * on from there: a new key reported as a duplicate is a problem too. At the end a child runs to a
 * total, and another checks every key is held exactly once (forEachSeq) and closes; the folder must
 * then hold only the manifest's runs, their pages, the manifest and the filter.
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { seededInts } from '../helpers/random.js';
import type { ScenarioResult } from './scenario.js';

export interface KeySpillStormOptions {
  dir: string;
  kills: number;
  seed: number;
  /** A kill lands a random 0 … this many ms after the child's open and checks. */
  maxWaitMs: number;
  /** Every other kill (the second, fourth…) lands a random 0 … this many ms after the spawn instead: in the open, load or checks. */
  fromSpawnMs: number;
  /** Keys the last child adds past the storm's, to the end of its run (its close waits for a spill under way). */
  finalKeys: number;
  /** The child waits this long after each commit (spills on the worker then end between commits). @default 1 */
  pauseMs?: number;
}

const OPEN_LEDGER = pathToFileURL(resolve(import.meta.dirname, '../../dist/ledger/sqlite/open-sqlite-ledger.js'));
const SPILL_KEYS = 1000;
const COMMIT_KEYS = 100;
const RUN_FILE = /^run-(\d+)\.(bin|pages)$/;

/** The child: argv = ledger, log, run id, mode ('storm' | 'final' | 'verify'), target key count, pause ms. */
const CHILD = `
import { openSqliteLedgerFile } from ${JSON.stringify(OPEN_LEDGER.href)};
import { existsSync, openSync, readdirSync, readFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
const [path, logPath, runId, mode, targetText, pauseText] = process.argv.slice(2);
const target = Number(targetText);
const pauseMs = Number(pauseText);
const log = openSync(logPath, 'a');
const say = (line) => writeSync(log, JSON.stringify(line) + '\\n');
const problem = (text) => say({ event: 'problem', text });
const fingerprint = { description: 'jsonl:data/in.jsonl', size: 1000, mtimeMs: 1_700_000_000_000, sampleHash: 'aaaa' };
const ledger = openSqliteLedgerFile(path, { keySpillKeys: ${SPILL_KEYS} });
const resume = await ledger.begin({ runId, job: 'key-spill-storm', fingerprint, acceptDrift: false, options: {} });
const keys = await ledger.keys();
const watermark = resume.watermark?.seq ?? 0;
const size = keys.size;
let wrong = 0;
for (let seq = 0; seq < size; seq++) {
  const owner = keys.find('key-' + seq);
  if (owner?.seq !== seq || owner.line !== seq + 1) {
    if (wrong++ < 3) problem('key-' + seq + ' found as ' + JSON.stringify(owner) + ' after a resume at ' + size);
  }
}
if (wrong > 3) problem(wrong + ' keys below ' + size + ' not found with their seq and line');
let extra = 0;
for (let seq = size; seq < size + 200; seq++) {
  const owner = keys.find('key-' + seq);
  if (owner !== undefined && extra++ < 3) problem('key-' + seq + ' found as ' + JSON.stringify(owner) + ' after a resume at ' + size);
}
if (extra > 3) problem(extra + ' of the 200 keys from ' + size + ' on found after a resume at ' + size);
// Only what the manifest lists (the open deleted what a killed spill left), the manifest and the filter.
const folder = path + '.keys.sorted';
if (existsSync(join(folder, 'manifest.json'))) {
  const manifest = JSON.parse(readFileSync(join(folder, 'manifest.json'), 'utf8'));
  const listed = new Set(manifest.runs.flatMap((run) => [run.name, run.name.replace('.bin', '.pages')]));
  const stray = readdirSync(folder).filter((name) => !listed.has(name) && name !== 'manifest.json' && name !== 'filter.bin');
  const missing = [...listed].filter((name) => !existsSync(join(folder, name)));
  if (stray.length > 0) problem('files no manifest lists after the open: ' + stray.join(', '));
  if (missing.length > 0) problem('files the manifest lists are missing: ' + missing.join(', '));
}
if (mode === 'verify') {
  const seen = new Uint8Array(size);
  let outside = 0;
  let twice = 0;
  keys.forEachSeq((seq) => {
    if (seq >= size) outside++;
    else if (seen[seq]++ > 0) twice++;
  });
  const missing = seen.reduce((sum, count) => sum + (count === 0 ? 1 : 0), 0);
  say({ event: 'verified', missing, twice, outside });
}
say({ event: 'open', size, watermark });
const spilling = () => keys.frozen !== undefined; // the built index's private field: reported, never asserted
let under = spilling();
for (let next = watermark; next < target; ) {
  for (const last = next + ${COMMIT_KEYS}; next < last; next++) {
    const owner = keys.add('key-' + next, next, next + 1);
    if (owner !== undefined) problem('the new key-' + next + ' was reported held by ' + JSON.stringify(owner));
  }
  say({ event: 'commit', count: next });
  await ledger.commit({ runId, succeeded: [{ first: next - ${COMMIT_KEYS}, last: next - 1 }], rows: [], watermark: { seq: next }, seen: next, exhausted: false });
  say({ event: 'committed', count: next });
  if (spilling() !== under) {
    under = !under;
    say({ event: 'spill', under });
  }
  if (pauseMs > 0) await new Promise((resolve) => setTimeout(resolve, pauseMs));
}
await ledger.finish(runId, 'completed', {});
await ledger.close();
say({ event: 'closed', size: keys.size });
`;

type LogLine =
  | { event: 'open'; size: number; watermark: number }
  | { event: 'commit' | 'committed'; count: number }
  | { event: 'spill'; under: boolean }
  | { event: 'verified'; missing: number; twice: number; outside: number }
  | { event: 'problem'; text: string }
  | { event: 'closed'; size: number };

interface Child {
  readonly lines: () => LogLine[];
  readonly kill: () => boolean;
  readonly exited: () => boolean;
  readonly ended: Promise<string>;
}

function startChild(dir: string, n: number, mode: string, target: number, pauseMs: number): Child {
  const logPath = join(dir, `child-${n}.log`);
  const child = spawn(
    process.execPath,
    [join(dir, 'child.mjs'), join(dir, 'ledger.sqlite'), logPath, `run-${n}`, mode, String(target), String(pauseMs)],
    {
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  let stderr = '';
  child.stderr.on('data', (chunk) => (stderr += chunk));
  const ended = new Promise<string>((done) =>
    child.on('close', (code, signal) => done(signal ?? (code === 0 ? '0' : `${code}: ${stderr.trim().split('\n').slice(-3).join(' / ')}`))),
  );
  const lines = (): LogLine[] => {
    if (!existsSync(logPath)) return [];
    const parsed: LogLine[] = [];
    for (const text of readFileSync(logPath, 'utf8').split('\n')) if (text.endsWith('}')) parsed.push(JSON.parse(text) as LogLine);
    return parsed;
  };
  const exited = (): boolean => child.exitCode !== null || child.signalCode !== null;
  return { lines, kill: () => !exited() && child.kill('SIGKILL'), exited, ended };
}

const sleep = (ms: number): Promise<void> => new Promise((done) => setTimeout(done, ms));

async function waitUntil(check: () => boolean, timeoutMs: number): Promise<void> {
  for (const deadline = Date.now() + timeoutMs; !check() && Date.now() < deadline;) await sleep(5);
}

/** Run files in the key folder that its manifest does not list (what a killed spill or merge left). */
function unlistedRunFiles(folder: string): number {
  if (!existsSync(folder)) return 0;
  const manifestPath = join(folder, 'manifest.json');
  const runs = existsSync(manifestPath) ? (JSON.parse(readFileSync(manifestPath, 'utf8')) as { runs: { name: string }[] }).runs : [];
  const listed = new Set(runs.flatMap((run) => [run.name, run.name.replace('.bin', '.pages')]));
  return readdirSync(folder).filter((name) => RUN_FILE.test(name) && !listed.has(name)).length;
}

export async function keySpillStormScenario(options: KeySpillStormOptions): Promise<ScenarioResult> {
  const { dir } = options;
  const pauseMs = options.pauseMs ?? 1;
  writeFileSync(join(dir, 'child.mjs'), CHILD);
  const folder = join(dir, 'ledger.sqlite.keys.sorted');
  const random = seededInts(options.seed);
  const problems: string[] = [];
  const endings: string[] = [];
  // What the ledger may hold now: the last count committed, or the count of the commit in flight.
  let committed = 0;
  let inFlight: number | undefined;
  let kills = 0;
  let midSpill = 0;
  let leftFiles = 0;
  let inStart = 0;
  let lostInFlight = 0;
  /** Resumes after a kill that landed with a commit in flight, and those that found it committed. */
  let afterInFlight = 0;
  let inFlightLanded = 0;
  let n = 0;

  /** Checks a child's log against what was provable before it, and moves the expectation on. */
  const follow = (lines: LogLine[], who: string): void => {
    for (const line of lines) {
      if (line.event === 'problem') problems.push(`${who}: ${line.text}`);
      else if (line.event === 'open') {
        const may = inFlight === undefined ? [committed] : [committed, inFlight];
        if (line.size !== line.watermark)
          problems.push(`${who}: the index holds ${line.size} keys, the ledger's watermark is ${line.watermark}`);
        if (!may.includes(line.size)) problems.push(`${who}: the index holds ${line.size} keys after a kill, expected ${may.join(' or ')}`);
        if (inFlight !== undefined) {
          afterInFlight++;
          if (line.watermark === inFlight) inFlightLanded++;
          else lostInFlight += COMMIT_KEYS;
        }
        committed = line.watermark;
        inFlight = undefined;
      } else if (line.event === 'commit') inFlight = line.count;
      else if (line.event === 'committed') {
        committed = line.count;
        inFlight = undefined;
      }
    }
  };

  const started = Date.now();
  while (kills < options.kills && problems.length === 0) {
    const child = startChild(dir, n, 'storm', Number.MAX_SAFE_INTEGER, pauseMs);
    const wait = random(options.maxWaitMs + 1);
    const fromSpawn = kills % 2 === 1 ? random(options.fromSpawnMs + 1) : undefined;
    if (fromSpawn === undefined) {
      await waitUntil(() => child.exited() || child.lines().some((line) => line.event === 'open'), 60_000);
      await sleep(wait);
    } else await sleep(fromSpawn);
    if (child.kill()) kills++;
    const ending = await child.ended;
    endings.push(ending);
    const lines = child.lines();
    const spills = lines.filter((line) => line.event === 'spill');
    if (spills.at(-1)?.under === true) midSpill++;
    // Before its open a child may find what the previous kill left: counted after an open only.
    if (!lines.some((line) => line.event === 'open')) inStart++;
    else if (unlistedRunFiles(folder) > 0) leftFiles++;
    follow(lines, `run ${n}`);
    n++;
    // A child that ended by itself failed (it adds keys until killed): reported below.
    if (ending !== 'SIGKILL') break;
  }

  // To the end of a run, then a check of every key; then only what the manifest lists is left.
  const total = Math.ceil((committed + options.finalKeys) / COMMIT_KEYS) * COMMIT_KEYS;
  const final = startChild(dir, n, 'final', total, 0);
  endings.push(await final.ended);
  follow(final.lines(), `run ${n} (final)`);
  n++;
  const verify = startChild(dir, n, 'verify', total, 0);
  endings.push(await verify.ended);
  const verifyLines = verify.lines();
  follow(verifyLines, `run ${n} (verify)`);
  const verified = verifyLines.find((line) => line.event === 'verified');
  const opened = verifyLines.find((line) => line.event === 'open');
  if (opened?.size !== total) problems.push(`the last run found ${opened?.size} keys, expected ${total}`);
  if (verified === undefined) problems.push('the last run did not check every key');
  else if (verified.missing + verified.twice + verified.outside > 0) problems.push(`the last run's keys: ${JSON.stringify(verified)}`);
  const odd = endings.filter((ending) => ending !== 'SIGKILL' && ending !== '0');
  if (odd.length > 0) problems.push(`children ended with ${odd.join('; ')}`);
  if (existsSync(folder)) {
    const manifest = JSON.parse(readFileSync(join(folder, 'manifest.json'), 'utf8')) as { runs: { name: string }[] };
    const listed = manifest.runs.flatMap((run) => [run.name, run.name.replace('.bin', '.pages')]);
    const left = readdirSync(folder).sort();
    const wanted = ['filter.bin', 'manifest.json', ...listed].sort();
    if (JSON.stringify(left) !== JSON.stringify(wanted))
      problems.push(`the key folder holds ${left.join(', ')}; its manifest lists ${listed.join(', ')}`);
  } else problems.push('no key folder: no spill ever happened');
  const seconds = (Date.now() - started) / 1000;

  return {
    scenario: `SQLite key index spilling on its worker (table ${SPILL_KEYS}, a commit every ${COMMIT_KEYS} keys), SIGKILLed (seed ${options.seed})`,
    kills,
    endings,
    records: total,
    booksRead: true,
    lost: verified?.missing ?? total,
    duplicated: (verified?.twice ?? 0) + (verified?.outside ?? 0),
    redone: lostInFlight,
    innocentQuarantines: 0,
    note: `killed mid-spill ${midSpill}, leaving unlisted run files ${leftFiles}, in the start ${inStart}, in a commit ${afterInFlight} (it landed ${inFlightLanded}); ${seconds.toFixed(0)} s`,
    problems,
  };
}
