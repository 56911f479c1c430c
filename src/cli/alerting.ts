/**
 * The CLI's alerts and metrics: merges `--alert-webhook`, `SENTRY_DSN` and `--metrics-port` with
 * the job's `alerts` option and starts the subscribers. Kept out of run-command so that each
 * observer is one call there.
 */
import { ConfigError } from '../errors.js';
import type { EngineEvent } from '../engine/events.js';
import type { Progress } from '../engine/run-job.js';
import type { Job } from '../job.js';
import type { Logger } from '../observe/logger.js';
import { DEFAULT_ALERT_RULES, resolveAlerts, type ResolvedAlerts } from '../observe/alerts/alert-options.js';
import type { Alerting } from '../observe/alerts/alerting.js';
import type { MetricsServer } from '../observe/metrics.js';

export interface AlertingFlags {
  alertWebhook?: string;
  metricsPort?: number;
  metricsHost?: string;
  concurrency?: number;
}

export interface Monitoring {
  readonly onEvent: (event: EngineEvent) => void;
  /** The event types its subscribers read. */
  readonly eventTypes: readonly EngineEvent['type'][];
  close(): Promise<void>;
}

/** The job's alerts with the CLI's overrides: `--alert-webhook` replaces the job's webhook URL, `SENTRY_DSN` fills in a missing DSN. */
export function cliAlerts(job: Job<any, any>, flags: AlertingFlags, env: NodeJS.ProcessEnv): ResolvedAlerts | undefined {
  const fromJob = job.alerts;
  const webhookUrl = flags.alertWebhook;
  const dsn = fromJob?.sentry?.dsn ?? (env.SENTRY_DSN === '' ? undefined : env.SENTRY_DSN);
  if (webhookUrl === undefined && dsn === undefined) return fromJob;
  try {
    // Only the senders are validated again: the job's rules are already resolved.
    const senders = resolveAlerts({
      webhook: webhookUrl !== undefined ? { ...fromJob?.webhook, url: webhookUrl } : fromJob?.webhook,
      sentry: dsn !== undefined ? { ...fromJob?.sentry, dsn } : undefined,
    }) as ResolvedAlerts;
    return { ...senders, rules: fromJob?.rules ?? DEFAULT_ALERT_RULES };
  } catch (error) {
    // Name the flag or variable, not the job field the value went into.
    const message = (error as Error).message.replace('alerts.webhook.url', '--alert-webhook').replace('alerts.sentry.dsn', 'SENTRY_DSN');
    throw new ConfigError(message, {
      field: webhookUrl !== undefined && message.startsWith('--alert-webhook') ? '--alert-webhook' : 'SENTRY_DSN',
    });
  }
}

/** Starts what the flags and the job ask for; `log` gets the metrics URL, each alert fired and each sender's failure. */
export async function startMonitoring(
  job: Job<any, any>,
  flags: AlertingFlags,
  progress: () => Progress | undefined,
  log: Logger,
): Promise<Monitoring | undefined> {
  const alerts = cliAlerts(job, flags, process.env);
  let metrics: MetricsServer | undefined;
  if (flags.metricsPort !== undefined) {
    // Imported here: a run without metrics or alerts does not load them (nor node:http).
    const { startMetrics } = await import('../observe/metrics.js');
    try {
      metrics = await startMetrics({
        port: flags.metricsPort,
        host: flags.metricsHost,
        progress,
        concurrencyLimit: flags.concurrency ?? job.concurrency,
      });
    } catch (error) {
      throw new ConfigError((error as Error).message, { field: '--metrics-port' });
    }
    log.info({ event: 'metrics:listening', url: metrics.url }, `metrics on ${metrics.url}`);
  }
  let alerting: Alerting | undefined;
  if (alerts) {
    const { startAlerting } = await import('../observe/alerts/alerting.js');
    alerting = await startAlerting({
      job: job.name,
      alerts,
      warn: (line) => log.warn({ event: 'alert:failed' }, line),
      // A rule's threshold crossed (a failure count or rate, the breaker, the run's end): also in the log.
      fired: (alert) => log.warn({ event: 'alert:fired', ...alert }, `alert ${alert.rule}: ${alert.message}`),
      counts: () => progress() ?? { succeeded: 0, failed: 0 },
    });
  }
  if (!metrics && !alerting) return undefined;
  return {
    eventTypes: [...new Set([...(metrics?.eventTypes ?? []), ...(alerting?.eventTypes ?? [])])],
    // Each subscriber passes over the types it does not read.
    onEvent(event) {
      metrics?.onEvent(event);
      alerting?.onEvent(event);
    },
    async close() {
      await alerting?.close();
      await metrics?.close();
    },
  };
}
