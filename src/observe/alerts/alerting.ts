/**
 * Alerting as a subscriber of the engine's events: feeds the rules, and sends what fires to the
 * webhook and Sentry. Nothing here can fail the run: a sender's failure is reported through
 * `warn` (one line, the URL redacted), and `close()` waits a bounded time for sends in flight.
 */
import type { EngineEvent } from '../../events/engine-event.js';
import type { ResolvedAlerts } from './alert-options.js';
import { AlertRules, RULE_EVENT_TYPES, type Alert, type AlertCounts } from './alert-rules.js';
import { SentrySender } from './sentry-sender.js';
import { postWebhook, redactUrl, webhookBody, type AlertContext } from './webhook-sender.js';
import { counted } from '../../domain/counted.js';

export interface AlertingOptions {
  readonly job: string;
  readonly alerts: ResolvedAlerts;
  /** The run's totals now (the CLI passes the run handle's progress). */
  readonly counts: () => AlertCounts;
  /** Where a sender's failure is reported; never throws. */
  readonly warn: (line: string) => void;
  /** Told of each alert as it fires, before it is sent; never throws. @default nothing */
  readonly fired?: (alert: Alert) => void;
  /** @default Date.now */
  readonly now?: () => number;
  /** How often the count and rate rules are evaluated besides at each failure. @default 1000 */
  readonly sampleEveryMs?: number;
}

export interface Alerting {
  readonly onEvent: (event: EngineEvent) => void;
  /** The event types `onEvent` reads (the run's `eventTypes`): no other is built for it. */
  readonly eventTypes: readonly EngineEvent['type'][];
  /** Stops sampling and waits at most `timeoutMs` for alerts still being sent. */
  close(timeoutMs?: number): Promise<void>;
}

export async function startAlerting(options: AlertingOptions): Promise<Alerting> {
  const now = options.now ?? Date.now;
  const rules = new AlertRules(options.alerts.rules);
  const context: { job: string; runId: string | undefined } = { job: options.job, runId: undefined };
  /** The webhook's sends in flight, with the rule of each. */
  const pending = new Map<Promise<void>, string>();
  let sentry: SentrySender | undefined;
  const sentryOptions = options.alerts.sentry;
  if (sentryOptions?.dsn !== undefined) {
    try {
      sentry = await SentrySender.start({ ...sentryOptions, dsn: sentryOptions.dsn });
    } catch (error) {
      options.warn(`alerts: ${(error as Error).message}; Sentry alerts are off for this run`);
    }
  }
  const track = (promise: Promise<void>, rule: string): void => {
    pending.set(promise, rule);
    void promise.finally(() => pending.delete(promise));
  };
  const send = (alert: Alert): void => {
    options.fired?.(alert);
    const body = webhookBody(alert, context as AlertContext);
    if (options.alerts.webhook) {
      track(
        postWebhook(body, options.alerts.webhook).then((failure) => {
          if (failure !== undefined) options.warn(`alerts: ${failure} (the run goes on)`);
        }),
        alert.rule,
      );
    }
    sentry?.alert(alert, context, String(body.text));
  };
  const sample = (): void => {
    for (const alert of rules.sample(options.counts(), now())) send(alert);
  };
  const timer = setInterval(sample, options.sampleEveryMs ?? 1000);
  timer.unref();
  const ruleEvents = new Set(RULE_EVENT_TYPES);
  return {
    // The run's id for the senders, failures for the count and rate rules, and Sentry's breadcrumbs.
    eventTypes: [
      ...new Set<EngineEvent['type']>(['run:started', 'record:failed', ...RULE_EVENT_TYPES, ...(sentry ? SentrySender.eventTypes : [])]),
    ],
    onEvent(event) {
      if (event.type === 'run:started') context.runId = event.runId;
      sentry?.event(event, context);
      if (event.type === 'record:failed') sample();
      // No clock read and no pass over the rules for an event no rule fires on.
      if (ruleEvents.has(event.type)) for (const alert of rules.event(event, now())) send(alert);
    },
    async close(timeoutMs = 10_000) {
      clearInterval(timer);
      const deadline = new Promise<void>((resolve) => setTimeout(resolve, timeoutMs).unref());
      await Promise.race([Promise.all([...pending.keys()]), deadline]);
      // Given up on (a receiver that does not answer, retries outlasting the wait): said, not lost in silence.
      if (pending.size > 0 && options.alerts.webhook) {
        const rules = [...new Set(pending.values())].join(', ');
        options.warn(
          `alerts: ${counted(pending.size, 'alert')} (${rules}) not delivered: still being sent to ${redactUrl(options.alerts.webhook.url)} ${timeoutMs} ms after the run ended`,
        );
      }
      // Sentry drains its queue on close; a dead ingest must not hold the end of the run for long.
      await sentry?.close(Math.min(timeoutMs, 2000)).catch(() => undefined);
    },
  };
}
