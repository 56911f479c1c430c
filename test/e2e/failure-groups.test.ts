/**
 * Failure groups by cause, not by wording, through the real CLI: messages that name the record form
 * one group with their templates beneath; different causes under the same wording (fetch's network
 * errors, wrappers of different HTTP statuses) form different groups.
 */
import { createServer } from 'node:net';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/temp.js';

/** A local port with nothing listening on it (listened on, then closed). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

const CITIES = [
  'New York',
  'São Paulo',
  'Zürich',
  'Rio de Janeiro',
  'Oslo',
  'Cape Town',
  'Kyoto',
  'Lima',
  'Reykjavík',
  'Perth',
  'Quito',
  'Tallinn',
  'Accra',
  'Hanoi',
  'Porto',
  'Denver',
  'Lyon',
  'Bergen',
  'Cusco',
  'Dakar',
  'Nice',
  'Graz',
  'Turin',
  'Malmö',
  'Split',
  'Bern',
  'Aarhus',
  'Cork',
  'Gdańsk',
  'Bologna',
];

function writeJob(dir: string, port: number): void {
  writeFileSync(
    join(dir, 'job.mjs'),
    `
import { defineJob, FatalError } from 'batchguard';
const cities = ${JSON.stringify(CITIES)};
const records = [
  ...cities.map((name, i) => ({ id: 'city-' + i, kind: 'city', name })),
  ...[0, 1, 2].map((i) => ({ id: 'refused-' + i, kind: 'refused' })),
  ...['LHR', 'CDG', 'JFK'].map((code) => ({ id: 'airport-' + code, kind: '404', code })),
  ...[0, 1].map((i) => ({ id: 'wrap503-' + i, kind: 'wrap', status: 503 })),
  ...[0, 1].map((i) => ({ id: 'wrap404-' + i, kind: 'wrap', status: 404 })),
];
const httpError = (message, status) => Object.assign(new Error(message), { name: 'HTTPError', status });
export default defineJob({
  name: 'groups',
  source: records,
  key: (r) => r.id,
  retry: { maxAttempts: 2, backoff: { kind: 'constant', delayMs: 1 } },
  breaker: { enabled: false },
  maxFailureRate: 1,
  handler: async (r) => {
    if (r.kind === 'city') throw new FatalError('no match for ' + r.name);
    if (r.kind === 'refused') await fetch('http://127.0.0.1:${port}/geocode?q=' + r.id);
    if (r.kind === '404') throw httpError('GET /airports/' + r.code + ' returned 404', 404);
    if (r.kind === 'wrap') throw new Error('sync of ' + r.id + ' failed', { cause: httpError('upstream said ' + r.status, r.status) });
  },
});
`,
  );
}

interface Line {
  key: string;
  fingerprint: string;
  template: string;
}

describe('failure groups', () => {
  it('group by cause: one group for 30 "no match for <city>", separate ones for ECONNREFUSED, a 404 and wrappers of a 503 and a 404', async () => {
    const dir = tempDir();
    writeJob(dir, await closedPort());
    const run = await runCli(['run', 'job.mjs', '--json', '--ledger', 'ledger/groups.sqlite'], { cwd: dir });
    expect(run.code).toBe(0);
    const summary = JSON.parse(run.stdout);
    expect(summary.failed).toBe(40);

    const report = await runCli(['failures', 'job.mjs', '--format', 'jsonl', '--ledger', 'ledger/groups.sqlite'], { cwd: dir });
    const lines = report.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as Line);
    const groupOf = (prefix: string): Set<string> => new Set(lines.filter((l) => l.key.startsWith(prefix)).map((l) => l.fingerprint));
    const groups = ['city-', 'refused-', 'airport-', 'wrap503-', 'wrap404-'].map(groupOf);
    for (const group of groups) expect(group.size).toBe(1);
    expect(new Set(groups.map((g) => [...g][0])).size).toBe(5);
    // The template is the second level: the city names stay as written, the airports' codes do not mask (letters), the ids do.
    expect(lines.find((l) => l.key === 'city-2')?.template).toBe('no match for Zürich');
    expect(lines.find((l) => l.key === 'wrap503-0')?.template).toBe('sync of wrap<n>-<n> failed');

    // The summary's top errors follow: the 30 cities first, with their templates under the group.
    expect(summary.topErrors[0]).toMatchObject({
      count: 30,
      name: 'FatalError',
      kind: 'fatal',
      rule: 'FatalError',
      fingerprint: [...(groups[0] as Set<string>)][0],
    });
    expect(summary.topErrors[0].templates).toHaveLength(3);
    expect(summary.topErrors[0].templates[0]).toMatchObject({ count: 1, sampleKeys: ['city-0'], template: 'no match for New York' });
    const refused = summary.topErrors.find((g: { fingerprint: string }) => groups[1]?.has(g.fingerprint));
    expect(refused).toMatchObject({ count: 3, name: 'TypeError', rule: 'network-ECONNREFUSED', kind: 'exhausted' });

    // The table: each group once, its top templates with sample keys beneath.
    const table = await runCli(['failures', 'job.mjs', '--ledger', 'ledger/groups.sqlite'], { cwd: dir });
    expect(table.stdout).toContain('40 records in 5 groups');
    expect(table.stdout).toMatch(
      /\n {5}30 {2}[0-9a-f]{12} {2}fatal {6}FatalError; rule FatalError\n {20}1 {13}no match for New York {2}e\.g\. city-0\n/,
    );
    expect(table.stdout).toContain('TypeError, caused by Error [ECONNREFUSED]; rule network-ECONNREFUSED');
    expect(table.stdout).toContain('… 27 other messages (27 records)');

    // A group selects its records for a re-run or a narrower report.
    const only = await runCli(
      [
        'failures',
        'job.mjs',
        '--format',
        'keys',
        '--error',
        [...(groups[3] as Set<string>)][0] as string,
        '--ledger',
        'ledger/groups.sqlite',
      ],
      { cwd: dir },
    );
    expect(only.stdout.trim().split('\n')).toEqual(['wrap503-0', 'wrap503-1']);
  }, 60_000);
});
