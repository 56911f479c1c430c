import { describe, expect, it } from 'vitest';
import { createRedactor, defaultRedactor, isSecretName } from './redact.js';
import { redactFields } from './redact-fields.js';

describe('isSecretName', () => {
  it.each([
    'authorization',
    'Proxy-Authorization',
    'password',
    'db_password',
    'x-api-key',
    'apiKey',
    'accessToken',
    'token',
    'Set-Cookie',
    'cookie',
    'client_secret',
    'sessionId',
  ])('%s names a secret', (name) => expect(isSecretName(name)).toBe(true));

  it.each(['author', 'authority', 'tokenCount', 'key', 'name', 'url', 'cookies_accepted', 'passwordHint'])('%s does not', (name) =>
    expect(isSecretName(name)).toBe(false),
  );
});

describe('redactFields', () => {
  it('replaces the whole value of a field named like a secret, at any depth and whatever its type', () => {
    const fields = {
      request: { headers: { Authorization: 'tok-no-scheme-123', 'x-request-id': 'r-1', cookie: 'sid=abc; theme=dark' } },
      password: 12345,
      nested: [{ apiKey: { id: 'k1', value: 'v' } }],
      token: null,
    };
    expect(redactFields(fields, defaultRedactor)).toEqual({
      request: { headers: { Authorization: '[redacted]', 'x-request-id': 'r-1', cookie: '[redacted]' } },
      password: '[redacted]',
      nested: [{ apiKey: '[redacted]' }],
      token: null,
    });
  });

  it('runs the text redactor over every other string, with the job’s own patterns', () => {
    const redact = createRedactor([/acct-\d{6}/]);
    expect(redactFields({ url: 'postgres://app:pw-x1@db/jobs', note: ['account acct-123456', 'plain'] }, redact)).toEqual({
      url: 'postgres://app:[redacted]@db/jobs',
      note: ['account [redacted]', 'plain'],
    });
  });

  it('returns plain JSON data: errors by name and message, toJSON, bigints, functions; the input is not changed', () => {
    const input = {
      error: new Error('GET https://u:pw-2@h/ failed'),
      at: new Date('2026-01-02T03:04:05.000Z'),
      big: 12n,
      fn: () => 1,
      n: 1.5,
      ok: true,
      missing: undefined,
    };
    expect(redactFields(input, defaultRedactor)).toEqual({
      error: { name: 'Error', message: 'GET https://u:[redacted]@h/ failed' },
      at: '2026-01-02T03:04:05.000Z',
      big: '12',
      fn: '[function]',
      n: 1.5,
      ok: true,
      missing: undefined,
    });
    expect(input.error.message).toBe('GET https://u:pw-2@h/ failed');
  });

  it('is bounded: cycles, depth and breadth are cut with a mark, and a throwing getter is no exception', () => {
    const cyclic: Record<string, unknown> = { name: 'a' };
    cyclic.self = cyclic;
    let deep: Record<string, unknown> = { leaf: 'x' };
    for (let i = 0; i < 20; i++) deep = { deeper: deep };
    const wide = Object.fromEntries(Array.from({ length: 150 }, (_, i) => [`f${i}`, i]));
    const hostile = {
      get boom(): never {
        throw new Error('no');
      },
    };
    expect(redactFields(cyclic, defaultRedactor)).toEqual({ name: 'a', self: '[circular]' });
    expect(JSON.stringify(redactFields(deep, defaultRedactor))).toContain('[too deep]');
    const cut = redactFields({ wide, list: Array.from({ length: 130 }, (_, i) => i) }, defaultRedactor) as {
      wide: Record<string, unknown>;
      list: unknown[];
    };
    expect(Object.keys(cut.wide)).toHaveLength(101);
    expect(cut.wide['…']).toBe('50 more fields');
    expect(cut.list).toHaveLength(101);
    expect(cut.list.at(-1)).toBe('[30 more]');
    expect(redactFields({ hostile }, defaultRedactor)).toEqual({ hostile: '[unreadable]' });
  });
});
