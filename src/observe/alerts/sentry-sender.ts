/**
 * Record failures and alerts to Sentry through the optional peer dependency `@sentry/node`,
 * loaded only when a DSN is configured. Failures are grouped by batchguard's fingerprint (Sentry's
 * `fingerprint`), tagged with the record key, run id and job, and carry the record's retries as
 * breadcrumbs. At most `maxEventsPerGroup` failures per group are sent per run, so a million
 * failures of one cause are one issue with a few samples, not a million events.
 */
import type { EngineEvent } from '../../events/engine-event.js';
import type { Alert } from './alert-rules.js';
import type { AlertContext } from './webhook-sender.js';

type SentryModule = typeof import('@sentry/node');

export interface SentrySenderOptions {
  readonly dsn: string;
  readonly environment: string | undefined;
  readonly maxEventsPerGroup: number;
}

/** Records whose retries are remembered for breadcrumbs at once (oldest forgotten first). */
const MAX_TRACKED_KEYS = 1000;

export class SentrySender {
  private readonly sentGroups = new Map<string, number>();
  private readonly retries = new Map<string, { attempt: number; message: string; atMs: number }[]>();

  private constructor(
    private readonly sentry: SentryModule,
    private readonly maxEventsPerGroup: number,
  ) {}

  /** Loads `@sentry/node` and initialises it; throws a clear error when it is not installed. */
  static async start(options: SentrySenderOptions): Promise<SentrySender> {
    let sentry: SentryModule;
    try {
      sentry = await import('@sentry/node');
    } catch {
      throw new Error('Sentry alerts need the package @sentry/node: npm install @sentry/node@10');
    }
    sentry.init({
      dsn: options.dsn,
      environment: options.environment,
      // batchguard reports what it knows; Sentry's own instrumentation and handlers stay out of the job's process.
      defaultIntegrations: false,
      tracesSampleRate: 0,
    });
    return new SentrySender(sentry, options.maxEventsPerGroup);
  }

  /** The event types `event()` reads. */
  static readonly eventTypes: readonly EngineEvent['type'][] = Object.freeze(['record:retrying', 'record:failed']);

  event(event: EngineEvent, context: AlertContext): void {
    if (event.type === 'record:retrying') {
      if (!this.retries.has(event.key) && this.retries.size >= MAX_TRACKED_KEYS)
        this.retries.delete(this.retries.keys().next().value as string);
      const list = this.retries.get(event.key) ?? [];
      list.push({ attempt: event.attempt, message: event.error.message, atMs: Date.now() });
      this.retries.set(event.key, list);
    } else if (event.type === 'record:failed') {
      const retries = this.retries.get(event.key) ?? [];
      this.retries.delete(event.key);
      // The same group as the failure report's, so a Sentry issue and `failures --error FP` match.
      const { fingerprint } = event;
      const sent = this.sentGroups.get(fingerprint) ?? 0;
      if (sent >= this.maxEventsPerGroup) return;
      this.sentGroups.set(fingerprint, sent + 1);
      const error = Object.assign(new Error(event.error.message), { name: event.error.name });
      if (event.error.stack) error.stack = event.error.stack;
      this.sentry.withScope((scope) => {
        scope.setFingerprint([fingerprint]);
        scope.setTags({ job: context.job, runId: context.runId ?? '', key: event.key, kind: event.kind, fingerprint });
        scope.setContext('record', { key: event.key, attempts: event.attempts, kind: event.kind, rule: event.rule });
        for (const r of retries) {
          scope.addBreadcrumb({
            category: 'retry',
            level: 'warning',
            message: `attempt ${r.attempt} failed: ${r.message}`,
            timestamp: r.atMs / 1000,
          });
        }
        this.sentry.captureException(error);
      });
    }
  }

  alert(alert: Alert, context: AlertContext, text: string): void {
    this.sentry.withScope((scope) => {
      scope.setFingerprint(['batchguard-alert', context.job, alert.rule]);
      scope.setTags({ job: context.job, runId: context.runId ?? '', rule: alert.rule });
      this.sentry.captureMessage(text, 'warning');
    });
  }

  /** Waits for queued events to be sent (at most `timeoutMs`). */
  async close(timeoutMs: number): Promise<void> {
    await this.sentry.close(timeoutMs);
  }
}
