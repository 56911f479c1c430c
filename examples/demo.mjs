/**
 * `npm run demo`: batchguard surviving an interrupted run, in four steps, with the real CLI.
 *
 * It starts a flaky local ZIP-code API (zip-service.mjs), then runs examples/zipcodes.job.ts over
 * 42,049 real ZIP codes: interrupted part-way as if by Ctrl-C, checked with `status`, resumed to
 * the end, checked again. Exits non-zero if any step ends with an unexpected exit code.
 */
import { spawn } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { startZipService } from './zip-service.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
// Relative paths, run from the package root, so the commands printed are ones you can paste.
const JOB = 'examples/zipcodes.job.ts';
const LEDGER = 'examples/out/zipcodes.sqlite';
/** How long the first run is left to work before it is interrupted. */
const INTERRUPT_AFTER_MS = 2000;

if (!existsSync(new URL('../dist/cli/main.js', import.meta.url))) {
  console.error('batchguard is not built yet: run `npm run build` (or `npm ci`, which builds it), then `npm run demo` again.');
  process.exit(2);
}

// A fresh ledger every time, so the demo always starts from zero records done.
rmSync(new URL('out/', import.meta.url), { recursive: true, force: true });

// About 0.3% of the ZIP codes fail once or twice with 503 + Retry-After: 1 or a dropped connection.
// Kept low because every Retry-After holds a concurrency slot for a second.
const service = await startZipService({ failureRate: 0.003, seed: 42 });
process.env.ZIP_SERVICE_URL = service.url;

// A Ctrl-C from the user reaches the CLI too (same terminal); the demo just waits for it to save and exit.
let userInterrupted = false;
process.on('SIGINT', () => (userInterrupted = true));

const bold = (text) => (process.stdout.isTTY ? `\x1b[1m${text}\x1b[22m` : text);
const heading = (text) => console.log(`\n${bold(`━━ ${text}`)}`);
const say = (text) => console.log(text);

/** Prints the exit code; an unexpected one ends the demo, as the steps after it would make no sense. */
async function expect(code, allowed) {
  const expected = allowed.includes(code) || userInterrupted;
  say(`→ exit code ${code}${expected ? '' : ` (expected ${allowed.join(' or ')})`}`);
  if (userInterrupted) await finish('Stopped: you pressed Ctrl-C. The ledger in examples/out/ keeps what was done.', 130);
  if (!expected) await finish('The demo stops here: that exit code was not the expected one (see the messages above).', 1);
}

/** Runs the CLI with the terminal as its stdio; `onStart(child)` may signal it. Resolves with its exit code. */
function batchguard(args, onStart) {
  say(bold(`$ batchguard ${args.join(' ')}`));
  const child = spawn(process.execPath, ['bin/batchguard.js', ...args], { cwd: root, stdio: 'inherit' });
  onStart?.(child);
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (code, signal) => resolve(code ?? (signal === 'SIGINT' ? 130 : 1)));
  });
}

function serviceStats() {
  const s = service.stats;
  return `zip service so far: ${s.requests} requests: ${s.ok} answered, ${s.unavailable} × 503 Retry-After, ${s.dropped} dropped connections, ${s.rejected} × 422 rejected records`;
}

async function finish(message, code) {
  await service.close();
  say(`\n${message}`);
  process.exit(code);
}

heading(`Step 1 of 4: run the job, and interrupt it after ${INTERRUPT_AFTER_MS / 1000} s`);
say('The job sends each of 42,049 ZIP codes to a local API. The API sometimes answers 503 or drops the');
say('connection: batchguard retries those. It rejects the 225 ZIP codes outside the 50 states and DC');
say('(Puerto Rico, Guam, ...) with 422: the job turns that into a FatalError, so they fail at once, and');
say('the `failed` lines below are those. Part-way through, the demo sends SIGINT, as Ctrl-C would.');
let finishedEarly = false;
const first = await batchguard(['run', JOB, '--ledger', LEDGER], (child) => {
  // Counted from the first request, not from spawn, so a slow start-up does not eat the 2 seconds.
  const waitForWork = setInterval(() => {
    if (service.stats.requests === 0) return;
    clearInterval(waitForWork);
    setTimeout(() => {
      if (child.exitCode !== null) finishedEarly = true;
      // Not if the user already pressed Ctrl-C: a second SIGINT means "stop at once".
      else if (!userInterrupted) child.kill('SIGINT');
    }, INTERRUPT_AFTER_MS);
  }, 20);
  child.on('exit', () => clearInterval(waitForWork));
});
if (first === 0) finishedEarly = true;
await expect(first, [130, 0]);
say(serviceStats());
say(
  finishedEarly
    ? 'This machine finished all records before the interrupt was due, so there was nothing to stop;\nthe resume in step 3 will find every record already done.'
    : [
        'On SIGINT batchguard stopped reading new records, let the ones in flight finish (those waiting to',
        'retry stay pending), committed its progress to the ledger and exited with 130: "interrupted, resumable".',
        "The failure rate looks high only because Puerto Rico's ZIP codes (00601...) come first in the file.",
      ].join('\n'),
);

heading('Step 2 of 4: ask the ledger where the job stands');
await expect(await batchguard(['status', JOB, '--ledger', LEDGER]), [0]);
say('Every record is succeeded, failed, skipped or pending. Pending ones were not finished: the next run does them.');

heading('Step 3 of 4: run the same command again: it resumes');
say('Records already done are not sent again. The 422 records fail for good, but they are well under');
say("the job's maxFailureRate of 2%, so the run completes with exit code 0.");
await expect(await batchguard(['run', JOB, '--ledger', LEDGER]), [0]);
say(serviceStats());

heading('Step 4 of 4: status again');
await expect(await batchguard(['status', JOB, '--ledger', LEDGER]), [0]);
say('Nothing is pending. The failed records stay in the ledger with their errors, for a report or a rerun.');

const cli = `node bin/batchguard.js`;
await finish(
  [
    bold('Done. What happened:'),
    '  the job survived an interruption, resumed without redoing finished records, retried transient',
    '  failures, and recorded the records that can never succeed instead of stopping on them.',
    '',
    'Try next, from this folder (the ledger stays in examples/out/ until the next `npm run demo`):',
    '  the counts, as above, then as one JSON object:',
    `    ${cli} status ${JOB} --ledger ${LEDGER}`,
    `    ${cli} status ${JOB} --ledger ${LEDGER} --json`,
    '  run again: nothing is left to do, and --json prints the run summary (with the top errors) on stdout:',
    `    ${cli} run ${JOB} --ledger ${LEDGER} --json`,
    '',
    'To run the job from scratch yourself, start the API with `node examples/zip-service.mjs`, which prints',
    'the ZIP_SERVICE_URL to set. To write your own job, start from examples/zipcodes.job.ts.',
  ].join('\n'),
  0,
);
