/**
 * Helpers for "one run at a time": is a holder still alive, and did the source change.
 */
import { hostname } from 'node:os';
import type { SourceFingerprint } from '../sources/source.js';
import type { LeaseHolder } from './ledger.js';

/**
 * Whether the process holding a lease still runs. A holder on another host cannot be checked from
 * here, so it counts as alive: taking over a live run's ledger would corrupt it.
 */
export function isAlive(holder: LeaseHolder): boolean {
  if (holder.host !== hostname()) return true;
  try {
    process.kill(holder.pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** What changed between two fingerprints of a source, or undefined when nothing did. */
export function describeDrift(before: SourceFingerprint, now: SourceFingerprint): string | undefined {
  const changes: string[] = [];
  if (before.description !== now.description) changes.push(`it was ${before.description}, now ${now.description}`);
  if (before.size !== now.size) changes.push(`size ${before.size} → ${now.size} bytes`);
  if (before.sampleHash !== now.sampleHash) changes.push('its first 64 KiB differ');
  // mtime alone (a `touch`, a copy) is not drift when size and content sample agree.
  return changes.length > 0 ? changes.join('; ') : undefined;
}
