import { describe, expect, it } from 'vitest';
import { html } from './escape.js';
import { bucketTimeline } from './chart.js';

describe('html', () => {
  it('turns markup and quotes into text', () => {
    expect(html('<script>alert("x")</script> & \'y\'')).toBe('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;y&#39;');
    expect(html(42)).toBe('42');
  });
});

describe('bucketTimeline', () => {
  it('puts each commit in its slice of the run and keeps every record', () => {
    const start = '2026-01-01T00:00:00.000Z';
    const points = [
      { at: '2026-01-01T00:00:01.000Z', done: 100, failed: 0 },
      { at: '2026-01-01T00:00:02.000Z', done: 100, failed: 5 },
      { at: '2026-01-01T00:00:04.000Z', done: 50, failed: 1 },
    ];
    const buckets = bucketTimeline(points, start);
    expect(buckets).toHaveLength(3);
    expect(buckets.reduce((n, b) => n + b.failed, 0)).toBe(6);
    // 4 s in 3 slices of 1.333 s: 100 records in the first, 100 in the second, 50 in the last.
    expect(buckets.map((b) => Math.round(b.perSecond))).toEqual([75, 75, 38]);
    expect(bucketTimeline([], start)).toEqual([]);
  });
});
