import { describe, expect, it } from 'vitest';
import { hostAllowed, isLoopback } from './local-host.js';

describe('the Host check of local servers', () => {
  it('knows loopback addresses and names', () => {
    for (const address of ['127.0.0.1', '127.1.2.3', '::1', '[::1]', 'localhost', 'LOCALHOST', 'app.localhost'])
      expect(isLoopback(address)).toBe(true);
    for (const address of ['0.0.0.0', '::', '10.0.0.5', 'example.com', '127.0.0.1.evil.com', 'localhost.evil.com'])
      expect(isLoopback(address)).toBe(false);
  });

  it('on a loopback address, answers only requests addressed to a loopback name (a rebound name is refused)', () => {
    for (const host of ['127.0.0.1:8765', 'localhost:8765', 'localhost', '[::1]:8765', '127.0.0.2'])
      expect(hostAllowed('127.0.0.1', host)).toBe(true);
    for (const host of ['evil.example:8765', 'evil.example', '127.0.0.1.nip.io:8765', '[2001:db8::1]:80', ''])
      expect(hostAllowed('127.0.0.1', host)).toBe(false);
    expect(hostAllowed('::1', 'evil.example')).toBe(false);
    expect(hostAllowed('localhost', 'evil.example')).toBe(false);
  });

  it('answers any name when bound elsewhere (exposed on purpose), and a request without Host', () => {
    expect(hostAllowed('0.0.0.0', 'batch-host.internal:9464')).toBe(true);
    expect(hostAllowed('10.0.0.5', 'evil.example')).toBe(true);
    expect(hostAllowed('127.0.0.1', undefined)).toBe(true);
  });
});
