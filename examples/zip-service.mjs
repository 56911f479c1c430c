/**
 * A pretend ZIP-code enrichment API for the demo, on 127.0.0.1 at a random port.
 *
 *   GET /zip/:code?lat=&lng=&state=  →  200 { zip, state, timezone, stateCentroidKm }
 *
 * It misbehaves the way real APIs do, so the demo has something to survive:
 * - transient failures: a share of the keys (`failureRate`) fail their first 1 or 2 requests, mostly
 *   with `503` + `Retry-After: 1`, sometimes with a dropped connection. Which keys, how many times and
 *   how is decided by a hash of (seed, key), so a run is reproducible and a retry always clears it.
 * - real failures: a record outside the 50 states and DC (Puerto Rico, Guam, ...) gets `422` with a
 *   JSON error body, on every attempt: those records must end up in the failure report.
 *
 * Standalone: `node examples/zip-service.mjs [failureRate] [seed]` prints its URL and runs until Ctrl-C.
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { fileURLToPath, pathToFileURL } from 'node:url';

const STATES = new Set(
  'AL AK AZ AR CA CO CT DE DC FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV NH NJ NM NY NC ND OH OK OR PA RI SC SD TN TX UT VT VA WA WV WI WY'.split(
    ' ',
  ),
);
const TIMEZONES = {
  '-4': 'Atlantic',
  '-5': 'Eastern',
  '-6': 'Central',
  '-7': 'Mountain',
  '-8': 'Pacific',
  '-9': 'Alaska',
  '-10': 'Hawaii-Aleutian',
  '-11': 'Samoa',
  '-12': 'Aleutian (far west)',
};
/** Share of transient failures that drop the connection instead of answering 503. */
const DROP_SHARE = 0.2;

/** Starts the service. Resolves once it listens; `close()` stops it, `stats` counts what it answered. */
export async function startZipService({ failureRate = 0.003, seed = 42 } = {}) {
  const centroids = stateCentroids();
  const attemptsByKey = new Map();
  const stats = { requests: 0, ok: 0, unavailable: 0, dropped: 0, rejected: 0, badRequest: 0 };

  const server = createServer((req, res) => {
    stats.requests++;
    const url = new URL(req.url ?? '/', 'http://localhost');
    const match = /^\/zip\/([^/]+)$/.exec(url.pathname);
    if (req.method !== 'GET' || !match) return reply(res, 404, { error: `no route ${req.method} ${url.pathname}` });
    const zip = decodeURIComponent(match[1]);

    // Transient trouble first, as a real overloaded service does not look at the payload before failing.
    const attempt = (attemptsByKey.get(zip) ?? 0) + 1;
    attemptsByKey.set(zip, attempt);
    const h = hash(`${seed}:${zip}`);
    const failingAttempts = h < failureRate ? 1 + (hash(`${seed}:${zip}:n`) < 0.3 ? 1 : 0) : 0;
    if (attempt <= failingAttempts) {
      if (hash(`${seed}:${zip}:${attempt}`) < DROP_SHARE) {
        stats.dropped++;
        return req.socket.destroy();
      }
      stats.unavailable++;
      res.setHeader('Retry-After', '1');
      return reply(res, 503, { error: 'service temporarily overloaded, retry later' });
    }

    const lat = Number(url.searchParams.get('lat') ?? NaN);
    const lng = Number(url.searchParams.get('lng') ?? NaN);
    const state = url.searchParams.get('state') ?? '';
    if (!Number.isFinite(lat) || !Number.isFinite(lng)) {
      stats.badRequest++;
      return reply(res, 400, { error: 'lat and lng query parameters must be numbers' });
    }
    // The same record is rejected every time: this is a property of the data, not bad luck.
    if (!STATES.has(state) || lat < 17 || lat > 72 || lng < -180 || lng > -60) {
      stats.rejected++;
      return reply(res, 422, {
        error: `ZIP ${zip} (${state} at ${lat}, ${lng}) is outside the 50 states and DC; this API only covers those`,
      });
    }
    stats.ok++;
    const utcOffsetHours = Math.round(lng / 15);
    return reply(res, 200, {
      zip,
      state,
      timezone: { utcOffsetHours, band: TIMEZONES[utcOffsetHours] ?? 'unknown' },
      stateCentroidKm: Math.round(distanceKm(lat, lng, centroids.get(state)) * 10) / 10,
    });
  });

  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  return {
    url: `http://127.0.0.1:${port}`,
    stats,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function reply(res, status, body) {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

/** FNV-1a over the text, scaled to [0, 1): cheap, stable across runs and machines. */
function hash(text) {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return (h >>> 0) / 2 ** 32;
}

/** Each state's centroid, taken as the mean position of its ZIP codes (the same data the job reads). */
function stateCentroids() {
  const file = fileURLToPath(new URL('../node_modules/vega-datasets/data/zipcodes.csv', import.meta.url));
  const sums = new Map();
  for (const line of readFileSync(file, 'utf8').split('\n').slice(1)) {
    const [, lat, lng, , state] = line.split(',');
    if (!state) continue;
    const s = sums.get(state) ?? { lat: 0, lng: 0, n: 0 };
    s.lat += Number(lat);
    s.lng += Number(lng);
    s.n++;
    sums.set(state, s);
  }
  return new Map([...sums].map(([state, s]) => [state, { lat: s.lat / s.n, lng: s.lng / s.n }]));
}

/** Great-circle distance (haversine). */
function distanceKm(lat, lng, to) {
  const rad = Math.PI / 180;
  const dLat = (to.lat - lat) * rad;
  const dLng = (to.lng - lng) * rad;
  const a = Math.sin(dLat / 2) ** 2 + Math.cos(lat * rad) * Math.cos(to.lat * rad) * Math.sin(dLng / 2) ** 2;
  return 2 * 6371 * Math.asin(Math.sqrt(a));
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [failureRate, seed] = process.argv.slice(2).map(Number);
  const service = await startZipService({ failureRate: failureRate ?? 0.003, seed: seed ?? 42 });
  console.log(`zip service listening on ${service.url}`);
  console.log(`try: curl '${service.url}/zip/10001?lat=40.75&lng=-73.99&state=NY'`);
  console.log(`run a job against it: ZIP_SERVICE_URL=${service.url} node bin/batchguard.js run examples/zipcodes.job.ts`);
  process.once('SIGINT', async () => {
    await service.close();
    console.log(`\nstopped; ${JSON.stringify(service.stats)}`);
  });
}
