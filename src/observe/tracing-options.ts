/**
 * The job's `tracing` option: OpenTelemetry spans for the run, its records and their attempts
 * (src/observe/tracing.ts). Validated once, like every other job option.
 */
import { checkKnownKeys, invalid, isRecord } from '../validation/check.js';

/** The `tracing` option as the job writes it. */
export interface TracingSettings {
  /** The name of the tracer batchguard asks the registered tracer provider for. @default 'batchguard' */
  tracerName?: string;
}

/** `true`, or the settings; `false` or absent leaves tracing off. */
export type TracingOptions = boolean | TracingSettings;

export interface ResolvedTracing {
  readonly tracerName: string;
}

export const DEFAULT_TRACER_NAME = 'batchguard';

/** Tracing's settings with the defaults applied, or undefined when it is off. */
export function resolveTracing(value: unknown): ResolvedTracing | undefined {
  if (value === undefined || value === false) return undefined;
  if (value === true) return Object.freeze({ tracerName: DEFAULT_TRACER_NAME });
  if (!isRecord(value)) throw invalid('tracing', 'must be true, false or an object such as { tracerName: "geocoder" }', value);
  checkKnownKeys(value, 'tracing', ['tracerName']);
  const name = value.tracerName;
  if (name !== undefined && (typeof name !== 'string' || name.trim() === '')) {
    throw invalid('tracing.tracerName', 'must be a non-empty string', name);
  }
  return Object.freeze({ tracerName: name ?? DEFAULT_TRACER_NAME });
}
