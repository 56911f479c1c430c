import { describe, expect, it } from 'vitest';
import type { EngineEvent } from '../events/engine-event.js';
import { EngineEvents } from './events.js';

const skipped: EngineEvent = { type: 'record:skipped', key: 'k', blockedBy: ['p'] };
const succeeded: EngineEvent = { type: 'record:succeeded', key: 'k', attempts: 1, attemptDurationsMs: [1] };

describe('EngineEvents', () => {
  it('gives each listener only the types it asked for; an event no listener wants goes to nobody', () => {
    const failuresOnly: string[] = [];
    const skips: string[] = [];
    const events = new EngineEvents([
      { name: 'a', listener: (e) => void failuresOnly.push(e.type), types: ['record:failed'] },
      { name: 'b', listener: (e) => void skips.push(e.type), types: ['record:skipped', 'record:failed'] },
      { name: 'none', listener: undefined },
    ]);
    expect(events.wants('record:skipped')).toBe(true);
    expect(events.wants('record:succeeded')).toBe(false);
    expect(events.wants('attempt:ended')).toBe(false);
    events.emit(skipped);
    events.emit(succeeded);
    expect(failuresOnly).toEqual([]);
    expect(skips).toEqual(['record:skipped']);
  });

  it('a listener that names no types gets every event; with no listener, nothing is wanted', () => {
    const all: string[] = [];
    const events = new EngineEvents([{ name: 'all', listener: (e) => void all.push(e.type) }]);
    expect(events.wants('record:succeeded')).toBe(true);
    events.emit(succeeded);
    expect(all).toEqual(['record:succeeded']);
    expect(new EngineEvents([]).wants('run:finished')).toBe(false);
  });
});
