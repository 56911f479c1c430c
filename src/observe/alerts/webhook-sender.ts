/**
 * Sends alerts as a JSON POST. The body is what a Slack-compatible incoming webhook accepts (a
 * `text`), plus structured fields for any other receiver. A failed send is retried a few times and
 * then reported to the caller; it never throws into the run.
 */
import type { Alert } from './alert-rules.js';
import { percent } from '../../policy/percent.js';

/** What the sender needs to know about the run, besides the alert. */
export interface AlertContext {
  readonly job: string;
  readonly runId: string | undefined;
}

/**
 * The JSON body of one alert. Its message may quote an error from the service or the input (the
 * breaker's dominating error): in `text`, which Slack reads as markup, `&`, `<` and `>` are escaped
 * as Slack asks, so that such a message cannot mention `<!channel>` or show a link of its own.
 * `message` keeps the words as they are, for receivers that read fields.
 */
export function webhookBody(alert: Alert, context: AlertContext): Record<string, unknown> {
  return {
    text: slackEscaped(`batchguard: job ${context.job}: ${alert.rule}: ${alert.message} (failure rate ${percent(alert.failureRate)})`),
    job: context.job,
    runId: context.runId ?? null,
    rule: alert.rule,
    message: alert.message,
    failureRate: alert.failureRate,
    failed: alert.failed,
    finished: alert.finished,
    at: new Date(alert.atMs).toISOString(),
  };
}

/** `text` with Slack's control characters escaped (api.slack.com, "Formatting text": &, < and >). */
function slackEscaped(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** The URL without what may be a secret (credentials, path, query): Slack's token is in the path. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.protocol}//${parsed.host}/…`;
  } catch {
    return '[an invalid URL]';
  }
}

export interface WebhookSenderOptions {
  readonly url: string;
  readonly timeoutMs: number;
  readonly retries: number;
  /** Between attempts. @default 500 */
  readonly retryDelayMs?: number;
}

/** POSTs `body`; resolves with undefined on success, or a one-line reason (URL redacted) after the last failed attempt. */
export async function postWebhook(body: unknown, options: WebhookSenderOptions): Promise<string | undefined> {
  let reason = '';
  for (let attempt = 1; attempt <= options.retries + 1; attempt++) {
    if (attempt > 1) await new Promise((resolve) => setTimeout(resolve, options.retryDelayMs ?? 500));
    try {
      const response = await fetch(options.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(options.timeoutMs),
      });
      await response.arrayBuffer().catch(() => undefined);
      if (response.ok) return undefined;
      reason = `HTTP ${response.status}`;
      // A 4xx other than 408/429 will not get better by asking again (a wrong or revoked URL).
      if (response.status < 500 && response.status !== 408 && response.status !== 429) break;
    } catch (error) {
      // fetch says only "fetch failed"; the system error (ECONNREFUSED, ENOTFOUND…) is in its cause.
      const cause = (error as { cause?: { code?: string; errors?: { code?: string }[] } }).cause;
      const code = cause?.code ?? cause?.errors?.[0]?.code;
      reason = (error as Error).name === 'TimeoutError' ? `no answer within ${options.timeoutMs} ms` : (code ?? (error as Error).message);
    }
  }
  return `the alert webhook ${redactUrl(options.url)} failed: ${reason}`;
}
