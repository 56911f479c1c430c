import { describe, expect, it } from 'vitest';
import { LedgerError } from '../../errors.js';
import { sessionEnded } from './session-ended.js';

const pgError = (code: string, message = 'from the server'): Error => Object.assign(new Error(message), { code, severity: 'FATAL' });

describe('sessionEnded', () => {
  it('is true for the SQLSTATEs of a session the server ended, and for a connection exception', () => {
    for (const code of ['25P03', '57P01', '57P02', '57P05', '08006', '08003', '08000'])
      expect(sessionEnded(pgError(code)), code).toBe(true);
  });

  it("is true for node-postgres' own words for a connection gone or unusable, and for a socket that broke", () => {
    for (const message of [
      'Connection terminated unexpectedly',
      'Connection terminated',
      'Client has encountered a connection error and is not queryable',
      'Client was closed and is not queryable',
    ])
      expect(sessionEnded(new Error(message)), message).toBe(true);
    for (const code of ['ECONNRESET', 'EPIPE', 'ETIMEDOUT'])
      expect(sessionEnded(Object.assign(new Error('socket'), { code })), code).toBe(true);
  });

  it('looks through the cause chain', () => {
    const wrapped = new LedgerError('LEDGER_UNUSABLE', 'commit failed', { cause: pgError('57P01') });
    expect(sessionEnded(wrapped)).toBe(true);
    expect(sessionEnded(new Error('outer', { cause: new Error('Connection terminated unexpectedly') }))).toBe(true);
  });

  it('is false for an error of the statement itself, a connection never made, and anything else', () => {
    // A syntax error, a unique violation, a serialization failure, a lock timeout, a statement cancelled.
    for (const code of ['42601', '23505', '40001', '55P03', '57014']) expect(sessionEnded(pgError(code)), code).toBe(false);
    expect(sessionEnded(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' }))).toBe(false);
    expect(sessionEnded(new Error('Connection terminated due to connection timeout'))).toBe(false);
    // The words must be the client's own, not a message that happens to quote them under a code of its own.
    expect(sessionEnded(Object.assign(new Error('Connection terminated'), { code: 'LEDGER_UNUSABLE' }))).toBe(false);
    for (const value of [undefined, null, 'Connection terminated', 42, {}]) expect(sessionEnded(value)).toBe(false);
  });

  it('ends on a cause chain that loops', () => {
    const a: { cause?: unknown } = {};
    const b = { cause: a };
    a.cause = b;
    expect(sessionEnded(a)).toBe(false);
  });
});
