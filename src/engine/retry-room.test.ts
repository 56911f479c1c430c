import { describe, expect, it } from 'vitest';
import { MAX_EXTRA_RETRY_WAITING, RETRY_WAITING_PER_SLOT, RetryRoom } from './retry-room.js';

describe('RetryRoom', () => {
  const base = (1 + RETRY_WAITING_PER_SLOT) * 8;

  it('holds the base bound until a retry is served', () => {
    const room = new RetryRoom();
    expect(room.full(8, base - 9, 8)).toBe(false);
    expect(room.full(8, base - 8, 8)).toBe(true);
    room.retryEnded(false, 30);
    expect(room.extraRoom).toBe(0);
  });

  it('grows to twice the records waiting when a retry is served, and never shrinks on a success', () => {
    const room = new RetryRoom();
    room.retryEnded(true, 39);
    expect(room.extraRoom).toBe(78);
    expect(room.full(1, base + 76, 8)).toBe(false);
    expect(room.full(1, base + 77, 8)).toBe(true);
    room.retryEnded(true, 5);
    expect(room.extraRoom).toBe(78);
  });

  it('halves what was added with each retry that fails', () => {
    const room = new RetryRoom();
    room.retryEnded(true, 500);
    room.retryEnded(false, 900);
    expect(room.extraRoom).toBe(500);
    for (let i = 0; i < 10; i++) room.retryEnded(false, 900);
    expect(room.extraRoom).toBe(0);
  });

  it('grows no further than MAX_EXTRA_RETRY_WAITING', () => {
    const room = new RetryRoom();
    room.retryEnded(true, 1_000_000);
    expect(room.extraRoom).toBe(MAX_EXTRA_RETRY_WAITING);
  });
});
