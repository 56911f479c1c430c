/**
 * Enriches every US ZIP code (42,049 rows of vega-datasets' zipcodes.csv) through an HTTP API:
 * `examples/zip-service.mjs`, which `npm run demo` starts and whose address it passes in
 * ZIP_SERVICE_URL. Written as you would write your own job: import from 'batchguard', export a job.
 *
 *   ZIP_SERVICE_URL=http://127.0.0.1:PORT npx batchguard run examples/zipcodes.job.ts
 */
import { fileURLToPath } from 'node:url';
import { csv, defineJob, FatalError } from 'batchguard';

interface ZipRow {
  zip_code: string;
  latitude: string;
  longitude: string;
  city: string;
  state: string;
  county: string;
}

/** A non-2xx answer. `status` and `headers` are what batchguard's built-in rules look at. */
class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly headers: Headers,
    message: string,
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

// Resolved from this file, not the current directory, so the job runs from anywhere.
const zipcodesCsv = fileURLToPath(new URL('../node_modules/vega-datasets/data/zipcodes.csv', import.meta.url));

export default defineJob({
  name: 'zipcodes-enrich',
  source: csv<ZipRow>(zipcodesCsv),
  key: (row) => row.zip_code,
  handler: async (row, ctx) => {
    const serviceUrl = process.env.ZIP_SERVICE_URL;
    // Fatal on purpose: without the service every record would fail the same way.
    if (!serviceUrl) throw new FatalError('ZIP_SERVICE_URL is not set; start examples/zip-service.mjs or run `npm run demo`');
    const query = new URLSearchParams({ lat: row.latitude, lng: row.longitude, state: row.state });
    // ctx.signal aborts on timeoutMs and on shutdown, so a stuck request never holds up the run.
    const res = await fetch(`${serviceUrl}/zip/${encodeURIComponent(row.zip_code)}?${query}`, { signal: ctx.signal });
    if (res.ok) return await res.json();

    const body = await res.text();
    const error = new HttpError(res.status, res.headers, `HTTP ${res.status} for ZIP ${row.zip_code}: ${body.slice(0, 200)}`);
    if (res.status === 422) {
      // The API says the record itself is wrong: retrying cannot help, so fail it now with the API's reason.
      throw new FatalError(errorMessageOf(body) ?? error.message, { cause: error });
    }
    // 503 and 429 are retried by the built-in rules, after the Retry-After delay the server asked for;
    // any other 4xx fails the record, any other 5xx is retried.
    throw error;
  },
  retry: { maxAttempts: 4, backoff: { kind: 'exponential', initialDelayMs: 100, maxDelayMs: 2000 } },
  concurrency: 16,
  timeoutMs: 5000,
  maxFailureRate: 0.02,
});

function errorMessageOf(body: string): string | undefined {
  try {
    const parsed = JSON.parse(body) as { error?: unknown };
    return typeof parsed.error === 'string' ? parsed.error : undefined;
  } catch {
    return undefined;
  }
}
