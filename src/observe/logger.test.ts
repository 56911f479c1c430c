import { hostname } from 'node:os';
import { describe, expect, it } from 'vitest';
import { createRedactor } from '../policy/redact.js';
import { createLogger, type LoggerOptions } from './logger.js';

function capture(options: Omit<LoggerOptions, 'write'>): { lines: string[]; log: ReturnType<typeof createLogger> } {
  const lines: string[] = [];
  return { lines, log: createLogger({ ...options, write: (line) => lines.push(line) }) };
}

describe('createLogger, JSON', () => {
  it('writes one JSON object per line: level by name, ISO time, the bindings, the fields and msg', () => {
    const { lines, log } = capture({ format: 'json', bindings: { job: 'geocode' } });
    log.warn({ event: 'record:failed', key: 'r1', attempt: 3 }, 'record failed');
    expect(lines).toHaveLength(1);
    expect(lines[0]).not.toContain('\n');
    const entry = JSON.parse(lines[0] as string);
    expect(entry).toMatchObject({
      level: 'warn',
      name: 'batchguard',
      job: 'geocode',
      event: 'record:failed',
      key: 'r1',
      attempt: 3,
      msg: 'record failed',
    });
    expect(new Date(entry.time).toISOString()).toBe(entry.time);
    expect(entry.pid).toBe(process.pid);
  });

  it('logs from the level chosen up (info by default; silent logs nothing)', () => {
    const levels = (level?: 'debug' | 'warn' | 'silent'): string[] => {
      const { lines, log } = capture({ format: 'json', ...(level ? { level } : {}) });
      log.debug('d');
      log.info('i');
      log.warn('w');
      log.error('e');
      return lines.map((line) => JSON.parse(line).msg);
    };
    expect(levels()).toEqual(['i', 'w', 'e']);
    expect(levels('debug')).toEqual(['d', 'i', 'w', 'e']);
    expect(levels('warn')).toEqual(['w', 'e']);
    expect(levels('silent')).toEqual([]);
  });

  it('redacts the message and every field with the job’s redactor, child loggers included', () => {
    const { lines, log } = capture({ format: 'json', redact: createRedactor([/acct-\d{6}/]) });
    log
      .child({ runId: 'run-1' })
      .info(
        { fields: { headers: { authorization: 'tok-bare-value-1' }, ledger: 'postgres://app:pw-value-2@db/x', note: 'acct-123456' } },
        'connecting to postgres://app:pw-value-3@db/x with Authorization: Bearer tok-value-4',
      );
    const line = lines[0] as string;
    for (const secret of ['tok-bare-value-1', 'pw-value-2', 'acct-123456', 'pw-value-3', 'tok-value-4']) expect(line).not.toContain(secret);
    expect(JSON.parse(line)).toMatchObject({
      runId: 'run-1',
      fields: { headers: { authorization: '[redacted]' }, ledger: 'postgres://app:[redacted]@db/x', note: '[redacted]' },
      msg: 'connecting to postgres://app:[redacted]@db/x with Authorization: Bearer [redacted]',
    });
  });

  it('leaves printf-like text alone and escapes what JSON would leave raw for a terminal', () => {
    const { lines, log } = capture({ format: 'json' });
    log.info({ key: 'a\u009b31mb\u202ec\u2028d\u001b' }, '100%s done %d');
    const line = lines[0] as string;
    // eslint-disable-next-line no-control-regex -- no raw control, bidi or separator character may be written
    expect(line).not.toMatch(/[\u0000-\u001f\u007f-\u009f\u202e\u2028]/);
    expect(JSON.parse(line)).toMatchObject({ key: 'a\u009b31mb\u202ec\u2028d\u001b', msg: '100%s done %d' });
  });
  it('keeps pino’s order (level, time, pid, hostname, name, bindings, fields, msg) and its level names', () => {
    const { lines, log } = capture({ format: 'json', level: 'debug', bindings: { job: 'geocode' } });
    log.setBindings({ runId: 'run-1' });
    log.fatal({ event: 'run:exited', level: 'not-a-level' }, 'exited');
    log.debug({ event: 'worker:waiting' });
    const [fatal, debug] = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(Object.keys(fatal ?? {})).toEqual(['level', 'time', 'pid', 'hostname', 'name', 'job', 'runId', 'event', 'msg']);
    expect(fatal).toMatchObject({ level: 'fatal', hostname: hostname(), runId: 'run-1', msg: 'exited' });
    expect(debug).toMatchObject({ level: 'debug', runId: 'run-1', event: 'worker:waiting' });
    expect(debug).not.toHaveProperty('msg');
    expect(log.isLevelEnabled('debug')).toBe(true);
    expect(capture({ format: 'json' }).log.isLevelEnabled('debug')).toBe(false);
  });

  it('redacts bound fields too, and a child’s bindings stay its own', () => {
    const { lines, log } = capture({ format: 'json', bindings: { ledger: 'postgres://app:pw-bound-1@db/x' } });
    const child = log.child({ worker: 'w1' });
    child.info('from the child');
    log.info('from the parent');
    expect(lines[0]).not.toContain('pw-bound-1');
    expect(JSON.parse(lines[0] as string)).toMatchObject({ ledger: 'postgres://app:[redacted]@db/x', worker: 'w1' });
    expect(JSON.parse(lines[1] as string)).not.toHaveProperty('worker');
  });
});

describe('createLogger, pretty', () => {
  it('writes the human line of each entry, and none for the summary', () => {
    const { lines, log } = capture({ format: 'pretty' });
    log.warn({ event: 'breaker:opened' }, 'breaker opened: 20 attempts in a row failed with retryable errors or timeouts');
    log.warn(
      { event: 'record:failed', key: 'r\n1', kind: 'fatal', attempt: 1, error: { name: 'FatalError', message: 'no' } },
      'record failed',
    );
    log.info({ event: 'run:summary', summary: { total: 1 } }, 'run x completed');
    log.fatal({ event: 'run:exited' }, 'the job called process.exit(0)');
    expect(lines).toEqual([
      'batchguard: breaker opened: 20 attempts in a row failed with retryable errors or timeouts',
      'failed  r\\n1 [fatal] after 1 attempt(s): FatalError: no',
      'batchguard: error: the job called process.exit(0)',
    ]);
  });
});
