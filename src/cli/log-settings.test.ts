import { describe, expect, it } from 'vitest';
import { ConfigError } from '../errors.js';
import { logFormat, logLevel } from './log-settings.js';

describe('logFormat', () => {
  it('is pretty on a terminal and JSON elsewhere, unless the flag or BATCHGUARD_LOG_FORMAT says otherwise', () => {
    expect(logFormat({}, {}, true)).toBe('pretty');
    expect(logFormat({}, {}, false)).toBe('json');
    expect(logFormat({}, { BATCHGUARD_LOG_FORMAT: '' }, false)).toBe('json');
    expect(logFormat({}, { BATCHGUARD_LOG_FORMAT: 'pretty' }, false)).toBe('pretty');
    expect(logFormat({ logFormat: 'json' }, { BATCHGUARD_LOG_FORMAT: 'pretty' }, true)).toBe('json');
  });

  it('names the variable and the choices when the environment asks for an unknown format', () => {
    expect(() => logFormat({}, { BATCHGUARD_LOG_FORMAT: 'text' }, false)).toThrow(
      new ConfigError('BATCHGUARD_LOG_FORMAT must be one of json, pretty; got "text"', { field: 'BATCHGUARD_LOG_FORMAT' }),
    );
  });
});

describe('logLevel', () => {
  it('--log-level, then --quiet (error) and --verbose (debug), then BATCHGUARD_LOG_LEVEL, then info', () => {
    expect(logLevel({}, {})).toBe('info');
    expect(logLevel({}, { BATCHGUARD_LOG_LEVEL: 'warn' })).toBe('warn');
    expect(logLevel({ verbose: true }, { BATCHGUARD_LOG_LEVEL: 'warn' })).toBe('debug');
    expect(logLevel({ quiet: true }, { BATCHGUARD_LOG_LEVEL: 'debug' })).toBe('error');
    expect(logLevel({ logLevel: 'warn', quiet: true, verbose: true }, { BATCHGUARD_LOG_LEVEL: 'debug' })).toBe('warn');
  });

  it('names the variable and the choices when the environment asks for an unknown level', () => {
    expect(() => logLevel({}, { BATCHGUARD_LOG_LEVEL: 'loud' })).toThrow(
      new ConfigError('BATCHGUARD_LOG_LEVEL must be one of debug, info, warn, error, silent; got "loud"', {
        field: 'BATCHGUARD_LOG_LEVEL',
      }),
    );
  });
});
