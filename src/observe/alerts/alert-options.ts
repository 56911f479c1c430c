/**
 * The job's `alerts` option: which rules fire and where alerts go. Validated once, with messages
 * that name the field (`alerts.rules[1].threshold`), like every other job option.
 */
import { ConfigError } from '../../errors.js';
import { RegressionKind } from '../../report/run-history.js';
import {
  checkFraction,
  checkInteger,
  checkKnownKeys,
  checkOneOf,
  checkPositive,
  formatValue,
  invalid,
  isRecord,
} from '../../validation/check.js';

/** The kinds of alert rule. */
export const AlertRuleKind = {
  /** This run's failed records reached `threshold`. */
  failureCount: 'failure-count',
  /** The share of failed records among those finished in the last `windowMs` reached `threshold`. */
  failureRate: 'failure-rate',
  /** The job's circuit breaker opened. */
  breakerOpened: 'breaker-opened',
  /** The run was aborted (health check failed, or the breaker did not recover). */
  runAborted: 'run-aborted',
  /** The run finished above the job's failure threshold (exit code 1). */
  thresholdExceeded: 'threshold-exceeded',
  /** The run finished markedly slower, or failing markedly more, than the job's previous runs (the summary's regression warning). */
  runRegressed: 'run-regressed',
} as const;
export type AlertRuleKind = (typeof AlertRuleKind)[keyof typeof AlertRuleKind];

/** One alert rule as the job writes it. */
export interface AlertRuleOptions {
  kind: AlertRuleKind;
  /** For `failure-count`: a number of failed records; for `failure-rate`: a fraction (0.2 = 20%). */
  threshold?: number;
  /** For `failure-rate`: the sliding window, in milliseconds. @default 60000 */
  windowMs?: number;
  /** For `failure-rate`: no alert while fewer records than this finished in the window. @default 20 */
  minRecords?: number;
  /** After firing, the rule stays quiet this long even if it crosses again (not for `run-regressed`, which fires at most once per run). @default 300000 */
  cooldownMs?: number;
  /** For `run-regressed`: which regressions alert. @default ['throughput', 'failure-rate'] */
  compare?: RegressionKind[];
}

/** A rule with its defaults applied. */
export interface ResolvedAlertRule {
  readonly kind: AlertRuleKind;
  readonly threshold: number;
  readonly windowMs: number;
  readonly minRecords: number;
  readonly cooldownMs: number;
  /** For `run-regressed`: the regressions it alerts on; empty for the other kinds. */
  readonly compare: readonly RegressionKind[];
}

/** Where webhook alerts go. */
export interface WebhookOptions {
  /** The URL to POST to (a Slack-compatible incoming webhook, or any JSON endpoint). Treated as a secret: never printed in full. */
  url: string;
  /** Per request. @default 5000 */
  timeoutMs?: number;
  /** Extra attempts after a failed request (network error or 5xx/429). @default 2 */
  retries?: number;
}

/** Sentry, through the optional peer dependency `@sentry/node`. */
export interface SentryOptions {
  /** The project's DSN. @default process.env.SENTRY_DSN (read by the CLI; without a DSN nothing is sent) */
  dsn?: string;
  /** Sentry's environment tag. @default undefined */
  environment?: string;
  /** At most this many record failures are sent per failure group (fingerprint) and run. @default 10 */
  maxEventsPerGroup?: number;
}

/** The job's `alerts` option. */
export interface AlertOptions {
  /** @default threshold-exceeded, breaker-opened and run-aborted */
  rules?: AlertRuleOptions[];
  webhook?: WebhookOptions;
  sentry?: SentryOptions;
}

export interface ResolvedAlerts {
  readonly rules: readonly ResolvedAlertRule[];
  readonly webhook: Readonly<Required<WebhookOptions>> | undefined;
  readonly sentry: Readonly<{ dsn: string | undefined; environment: string | undefined; maxEventsPerGroup: number }> | undefined;
}

const KINDS = Object.values(AlertRuleKind);
const REGRESSION_KINDS = Object.values(RegressionKind);
const DEFAULT_COOLDOWN_MS = 300_000;

/**
 * The rules used when the job names none. `run-regressed` is not among them: throughput moves with
 * the machine and the services a handler calls, so whether a slower run is news is the job's call.
 */
export const DEFAULT_ALERT_RULES: readonly ResolvedAlertRule[] = Object.freeze(
  [AlertRuleKind.thresholdExceeded, AlertRuleKind.breakerOpened, AlertRuleKind.runAborted].map((kind) => rule(kind)),
);

function rule(kind: AlertRuleKind, settings: Partial<Omit<ResolvedAlertRule, 'kind'>> = {}): ResolvedAlertRule {
  return Object.freeze({
    kind,
    threshold: settings.threshold ?? 0,
    windowMs: settings.windowMs ?? 0,
    minRecords: settings.minRecords ?? 0,
    cooldownMs: settings.cooldownMs ?? DEFAULT_COOLDOWN_MS,
    compare: Object.freeze([...(settings.compare ?? [])]),
  });
}

function checkObject(value: unknown, field: string, example: string): Record<string, unknown> {
  if (!isRecord(value)) throw new ConfigError(`${field} must be an object such as ${example}; got ${formatValue(value)}`, { field });
  return value;
}

function checkUrl(value: unknown, field: string, schemes: readonly string[]): string {
  let parsed: URL | undefined;
  try {
    parsed = typeof value === 'string' ? new URL(value) : undefined;
  } catch {
    parsed = undefined;
  }
  if (!parsed || !schemes.includes(parsed.protocol)) {
    // The value may hold a secret: say what is wrong without echoing it.
    throw new ConfigError(
      `${field} must be an ${schemes.map((s) => s.replace(':', '')).join(' or ')} URL; got ${typeof value === 'string' ? 'a string that is not one' : formatValue(value)}`,
      { field },
    );
  }
  return parsed.href;
}

function resolveRule(value: unknown, field: string): ResolvedAlertRule {
  const options = checkObject(value, field, "{ kind: 'failure-rate', threshold: 0.2, windowMs: 60000 }");
  checkKnownKeys(options, field, ['kind', 'threshold', 'windowMs', 'minRecords', 'cooldownMs', 'compare']);
  if (options.kind === undefined) throw invalid(`${field}.kind`, `is required: one of ${KINDS.join(', ')}`, options.kind);
  const kind = checkOneOf(options.kind, AlertRuleKind.failureCount, `${field}.kind`, KINDS);
  const notFor = (only: string, why = ''): never => {
    throw new ConfigError(`${field}.${only} does not apply to a ${kind} rule${why}`, { field: `${field}.${only}` });
  };
  if (kind !== AlertRuleKind.runRegressed && options.compare !== undefined) notFor('compare');
  const cooldownMs = checkInteger(options.cooldownMs, `${field}.cooldownMs`, DEFAULT_COOLDOWN_MS, 0, 86_400_000);
  if (kind === AlertRuleKind.failureCount) {
    if (options.threshold === undefined)
      throw new ConfigError(`${field}.threshold is required for a failure-count rule (a number of failed records)`, {
        field: `${field}.threshold`,
      });
    return rule(kind, { threshold: checkInteger(options.threshold, `${field}.threshold`, 1, 1, Number.MAX_SAFE_INTEGER), cooldownMs });
  }
  if (kind === AlertRuleKind.failureRate) {
    if (options.threshold === undefined)
      throw new ConfigError(`${field}.threshold is required for a failure-rate rule (a fraction: 0.2 means 20%)`, {
        field: `${field}.threshold`,
      });
    return rule(kind, {
      threshold: checkFraction(options.threshold, `${field}.threshold`, 0),
      windowMs: checkPositive(options.windowMs, `${field}.windowMs`, 60_000),
      minRecords: checkInteger(options.minRecords, `${field}.minRecords`, 20, 1, Number.MAX_SAFE_INTEGER),
      cooldownMs,
    });
  }
  for (const only of ['threshold', 'windowMs', 'minRecords'] as const) if (options[only] !== undefined) notFor(only);
  if (kind === AlertRuleKind.runRegressed) {
    // The criteria are the summary's warning's, on purpose: an alert and a warning that disagree about one run help nobody.
    if (options.cooldownMs !== undefined) notFor('cooldownMs', ' (it fires at most once per run, at its end)');
    return rule(kind, { compare: resolveCompare(options.compare, `${field}.compare`) });
  }
  return rule(kind, { cooldownMs });
}

/** `run-regressed`'s `compare`: a non-empty list of regression kinds, each spelt right. */
function resolveCompare(value: unknown, field: string): RegressionKind[] {
  if (value === undefined) return REGRESSION_KINDS;
  if (!Array.isArray(value) || value.length === 0) {
    throw invalid(field, `must be a non-empty array of ${REGRESSION_KINDS.join(', ')}`, value, "for example ['throughput']");
  }
  return value.map((item: unknown, i) => {
    if (item === undefined) throw invalid(`${field}[${i}]`, `must be one of ${REGRESSION_KINDS.join(', ')}`, item);
    return checkOneOf(item, RegressionKind.throughput, `${field}[${i}]`, REGRESSION_KINDS);
  });
}

/** Validates the job's `alerts` option and applies defaults; `undefined` stays `undefined`. */
export function resolveAlerts(value: unknown, field = 'alerts'): ResolvedAlerts | undefined {
  if (value === undefined) return undefined;
  const options = checkObject(value, field, "{ webhook: { url: 'https://hooks.slack.com/…' } }");
  checkKnownKeys(options, field, ['rules', 'webhook', 'sentry']);
  let rules = DEFAULT_ALERT_RULES;
  if (options.rules !== undefined) {
    if (!Array.isArray(options.rules))
      throw new ConfigError(`${field}.rules must be an array of rules; got ${formatValue(options.rules)}`, { field: `${field}.rules` });
    rules = Object.freeze(options.rules.map((r: unknown, i) => resolveRule(r, `${field}.rules[${i}]`)));
  }
  let webhook: ResolvedAlerts['webhook'];
  if (options.webhook !== undefined) {
    const w = checkObject(options.webhook, `${field}.webhook`, "{ url: 'https://hooks.slack.com/…' }");
    checkKnownKeys(w, `${field}.webhook`, ['url', 'timeoutMs', 'retries']);
    webhook = Object.freeze({
      url: checkUrl(w.url, `${field}.webhook.url`, ['http:', 'https:']),
      timeoutMs: checkInteger(w.timeoutMs, `${field}.webhook.timeoutMs`, 5000, 1, 600_000),
      retries: checkInteger(w.retries, `${field}.webhook.retries`, 2, 0, 10),
    });
  }
  let sentry: ResolvedAlerts['sentry'];
  if (options.sentry !== undefined) {
    const s = checkObject(options.sentry, `${field}.sentry`, "{ dsn: 'https://key@o0.ingest.sentry.io/0' }");
    checkKnownKeys(s, `${field}.sentry`, ['dsn', 'environment', 'maxEventsPerGroup']);
    if (s.environment !== undefined && typeof s.environment !== 'string') {
      throw new ConfigError(`${field}.sentry.environment must be a string; got ${formatValue(s.environment)}`, {
        field: `${field}.sentry.environment`,
      });
    }
    sentry = Object.freeze({
      dsn: s.dsn === undefined ? undefined : checkUrl(s.dsn, `${field}.sentry.dsn`, ['http:', 'https:']),
      environment: s.environment,
      maxEventsPerGroup: checkInteger(s.maxEventsPerGroup, `${field}.sentry.maxEventsPerGroup`, 10, 1, 100_000),
    });
  }
  return Object.freeze({ rules, webhook, sentry });
}
