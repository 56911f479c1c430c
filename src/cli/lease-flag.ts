/**
 * `--lease <duration>`: the run lease's (or a worker's chunk leases') expiry, checked against the
 * range the ledger accepts, so that the error names the flag a person typed, not the option it
 * becomes (`runOptions.lease.expireMs`).
 */
import { ConfigError } from '../errors.js';
import { LEASE_EXPIRY_MS } from '../ledger/lease.js';
import { formatDuration, parseDuration } from '../policy/deadline.js';

export function parseLeaseFlag(text: string): { expireMs: number } {
  const expireMs = parseDuration(text, '--lease');
  const { min, max } = LEASE_EXPIRY_MS;
  if (expireMs < min || expireMs > max) {
    throw new ConfigError(`--lease must be from ${formatDuration(min)} to ${formatDuration(max)}; got ${JSON.stringify(text)}`, {
      field: '--lease',
    });
  }
  return { expireMs };
}
