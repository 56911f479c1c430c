import { describe, expect, it } from 'vitest';
import { webhookBody } from './webhook-sender.js';

describe('the webhook body', () => {
  it("escapes Slack's markup in its text, so that a quoted error cannot ping a channel or show a link, and keeps the message as it is", () => {
    const message = 'the run was aborted: dominating error: Error: <!channel> see <https://evil.example|your invoice> & pay';
    const body = webhookBody(
      { rule: 'run-aborted', message, failureRate: 0.5, failed: 10, finished: 20, atMs: Date.parse('2026-12-02T08:00:00Z') },
      { job: 'orders', runId: 'r' },
    );
    expect(body.text).toBe(
      'batchguard: job orders: run-aborted: the run was aborted: dominating error: Error: &lt;!channel&gt; see &lt;https://evil.example|your invoice&gt; &amp; pay (failure rate 50.0%)',
    );
    expect(body.message).toBe(message);
  });
});
