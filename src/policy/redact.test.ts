import { describe, expect, it } from 'vitest';
import { ConfigError } from '../errors.js';
import { checkRedactPatterns, createRedactor, defaultRedactor } from './redact.js';
import { serializeError } from './serialize-error.js';

describe('defaultRedactor', () => {
  it.each([
    ['GET https://admin:s3cr3t-pass@db.example.com:5432/x failed', 'GET https://admin:[redacted]@db.example.com:5432/x failed'],
    ['request had Authorization: Bearer abc.def-ghi_123', 'request had Authorization: Bearer [redacted]'],
    ['{"authorization":"Basic dXNlcjpwYXNz"}', '{"authorization":"Basic [redacted]"}'],
    ['sent bearer eyJhbGciOiJIUzI1NiJ9xyz to the api', 'sent bearer [redacted] to the api'],
    ['GET /v1/geo?q=Oslo&api_key=AKd93kdl39&limit=1', 'GET /v1/geo?q=Oslo&api_key=[redacted]&limit=1'],
    [
      'token=tok_123 password=hunter2 client_secret=zzz X-Amz-Signature=abc123',
      'token=[redacted] password=[redacted] client_secret=[redacted] X-Amz-Signature=[redacted]',
    ],
    ['access_token=aaa&refresh_token=bbb', 'access_token=[redacted]&refresh_token=[redacted]'],
    ['body {"password": "hunter2", "user": "jane"}', 'body {"password": "[redacted]", "user": "jane"}'],
    ['x-api-key: k-123-456', 'x-api-key: [redacted]'],
    ['jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.sig-nature_x here', 'jwt [redacted] here'],
    ['leaked ghp_abcdefghijklmnopqrstuvwxyz0123456789 and AKIAABCDEFGHIJKLMNOP', 'leaked [redacted] and [redacted]'],
  ])('%j', (text, redacted) => {
    expect(defaultRedactor(text)).toBe(redacted);
  });

  it.each([
    ['refreshtoken=abc1', 'refreshtoken=[redacted]'],
    ['MyAccessTOKEN=abc2', 'MyAccessTOKEN=[redacted]'],
    ['{"DB_PASSWORD": "abc3"}', '{"DB_PASSWORD": "[redacted]"}'],
    ["X-Session-Id: 'abc4'", "X-Session-Id: '[redacted]'"],
    ['Credential=abc5 in\n    at f (file:///srv/app.js:1:2)', 'Credential=[redacted] in\n    at f (file:///srv/app.js:1:2)'],
  ])('redacts %j, a name the quick check before the costly patterns must not miss', (text, redacted) => {
    expect(defaultRedactor(text)).toBe(redacted);
  });

  it('leaves ordinary messages alone', () => {
    for (const text of [
      'no match for New York',
      'Unexpected token } in JSON at position 5',
      'record key=42 failed',
      'the bearer of bad news',
      'https://example.com/a?b=1',
    ]) {
      expect(defaultRedactor(text)).toBe(text);
    }
  });

  it('is linear on hostile input (a long single token)', () => {
    const text = `${'a'.repeat(200_000)}=x`;
    expect(defaultRedactor(text)).toBe(text);
  });
});

describe('createRedactor', () => {
  it('adds job patterns: the whole match, or only the group named secret', () => {
    const redact = createRedactor([/acct-\d{6}/, /session (?<secret>\w+)/i]);
    expect(redact('acct-123456 had Session ABCDEF and password=x')).toBe('[redacted] had Session [redacted] and password=[redacted]');
  });

  it('redacts serialized errors: message, stack, cause and kept fields', () => {
    const error = new Error('GET https://u:pw-secret-1@h/ failed', {
      cause: Object.assign(new Error('api_key=KEY-SECRET-2'), { hostname: 'token=TOK-SECRET-3' }),
    });
    const text = JSON.stringify(serializeError(error));
    for (const secret of ['pw-secret-1', 'KEY-SECRET-2', 'TOK-SECRET-3']) expect(text).not.toContain(secret);
  });

  it('redacts a secret that straddles the point where a long message is cut', () => {
    const error = new Error(`${'x'.repeat(1990)} password=SECRETSECRETSECRET`);
    expect(JSON.stringify(serializeError(error))).not.toContain('SECRETSECR');
  });
});

describe('checkRedactPatterns', () => {
  it('accepts an array of regular expressions', () => {
    expect(checkRedactPatterns(undefined)).toEqual([]);
    expect(checkRedactPatterns([/a+/g])).toEqual([/a+/g]);
  });

  it.each([
    ['not an array', /x/, 'job.redact must be an array of regular expressions'],
    ['a string entry', ['password'], 'job.redact[0] must be a regular expression; got "password"'],
    ['a pattern matching the empty string', [/x*/], 'job.redact[0] (/x*/) matches the empty string'],
  ])('refuses %s', (_label, value, message) => {
    expect(() => checkRedactPatterns(value)).toThrow(ConfigError);
    expect(() => checkRedactPatterns(value)).toThrow(message);
  });
});
