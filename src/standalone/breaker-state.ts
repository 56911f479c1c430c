/**
 * Checks a saved breaker state before a breaker takes it over: it usually comes back from a file or
 * a cache, where anything may have happened to it.
 */
import { BreakerState } from '../policy/breaker.js';
import { invalid, isRecord } from '../validation/check.js';
import type { CircuitBreakerState } from './circuit-breaker.js';

const FIELD = 'breaker.state';
const STATES: readonly string[] = Object.values(BreakerState);
const COUNTS = ['failuresInARow', 'probesOk', 'trips'] as const;
const TIMES = ['openedAtMs', 'probeDelayMs', 'nextProbeAtMs'] as const;

/** Returns `value` as a breaker state, or throws a `ConfigError` naming the first bad field. */
export function checkBreakerState(value: unknown): CircuitBreakerState {
  if (!isRecord(value)) throw invalid(FIELD, "must be the object a breaker's toJSON() returned", value);
  if (typeof value.state !== 'string' || !STATES.includes(value.state)) {
    throw invalid(`${FIELD}.state`, `must be one of ${STATES.join(', ')}`, value.state);
  }
  for (const name of COUNTS) {
    const n = value[name];
    if (!Number.isInteger(n) || (n as number) < 0) throw invalid(`${FIELD}.${name}`, 'must be an integer >= 0', n);
  }
  for (const name of TIMES) {
    const n = value[name];
    if (typeof n !== 'number' || !Number.isFinite(n) || n < 0)
      throw invalid(`${FIELD}.${name}`, 'must be a number of milliseconds >= 0', n);
  }
  if (value.probesFailed !== undefined && (!Number.isInteger(value.probesFailed) || (value.probesFailed as number) < 0)) {
    throw invalid(`${FIELD}.probesFailed`, 'must be an integer >= 0, or absent', value.probesFailed);
  }
  if (!Array.isArray(value.attempts) || !value.attempts.every((a) => typeof a === 'string')) {
    throw invalid(`${FIELD}.attempts`, 'must be an array of strings', value.attempts);
  }
  if (!Array.isArray(value.records) || !value.records.every((r) => typeof r === 'boolean')) {
    throw invalid(`${FIELD}.records`, 'must be an array of true/false', value.records);
  }
  if (value.trip !== undefined && !isRecord(value.trip)) throw invalid(`${FIELD}.trip`, 'must be an object or absent', value.trip);
  return value as unknown as CircuitBreakerState;
}
