/**
 * `--lease <duration>`: the run lease's (or a worker's chunk leases') expiry, checked against the
 * range the ledger accepts, so that the error names the flag a person typed, not the option it
 * becomes (`runOptions.lease.expireMs`).
 */
import { ConfigError } from '../errors.js';
import { formatDuration, parseDuration } from '../policy/deadline.js';

const MIN_MS = 100;
const MAX_MS = 24 * 3600_000;

export function parseLeaseFlag(text: string): { expireMs: number } {
  const expireMs = parseDuration(text, '--lease');
  if (expireMs < MIN_MS || expireMs > MAX_MS) {
    throw new ConfigError(`--lease must be from ${formatDuration(MIN_MS)} to ${formatDuration(MAX_MS)}; got ${JSON.stringify(text)}`, {
      field: '--lease',
    });
  }
  return { expireMs };
}
