/**
 * A ledger's record of its source, for every backend: the fingerprint, the absolute path and the
 * sample of the bytes at the resume point, kept in the ledger's meta values, checked by `begin`
 * and replaced once a changed source was accepted. Each backend reads and writes its meta values
 * its own way; what they mean is decided here. (Moving the stored outcomes after accepted drift is
 * each backend's: sqlite/sqlite-source-map.ts, postgres/postgres-source-map.ts.)
 */
import { SourceError } from '../errors.js';
import type { SourceFingerprint, SourceSample } from '../sources/source.js';
import type { ResumeState } from './ledger.js';
import { ACCEPT_DRIFT_DOES, describeDrift } from './lease.js';
import { parseJson } from './row-codec.js';

/** A ledger's meta values, as a backend reads and writes them. */
export type Meta = { get(key: string): string | undefined; set(key: string, value: string): void; remove(key: string): void };

/**
 * Compares the source now with what the ledger stored. Throws SOURCE_MOVED when the job reads
 * another file, and SOURCE_DRIFT when the content changed, unless `acceptDrift`. Stores the new
 * fingerprint when nothing changed; otherwise leaves that to the engine, once it has matched the
 * outcomes by key (so that a crash meanwhile finds the drift again).
 */
export function checkSource(
  meta: Meta,
  location: string,
  fingerprint: SourceFingerprint | undefined,
  sample: SourceSample | undefined,
  acceptDrift: boolean,
  headHash?: string,
): ResumeState['drift'] {
  if (fingerprint === undefined) return undefined;
  const storedPath = meta.get('source_path');
  if (storedPath !== undefined && fingerprint.path !== undefined && storedPath !== fingerprint.path && !acceptDrift) {
    throw new SourceError(
      'SOURCE_MOVED',
      `the ledger ${location} records the source ${storedPath}, but the job now reads ${fingerprint.path}; ` +
        "run from where the job resolves the same file, point the job at it, use another ledger for the other file, or pass --accept-drift to take the new file as this ledger's source",
    );
  }
  const storedJson = meta.get('source_fingerprint');
  if (storedJson === undefined) {
    storeFingerprint(meta, fingerprint);
    return undefined;
  }
  const stored = JSON.parse(storedJson) as SourceFingerprint;
  const changes: string[] = [];
  if (storedPath !== undefined && fingerprint.path !== undefined && storedPath !== fingerprint.path) {
    changes.push(`it was ${storedPath}, now ${fingerprint.path}`);
  }
  const storedSample = parseJson<SourceSample>(meta.get('source_sample'));
  const sampleChanged =
    storedSample !== undefined && sample !== undefined && storedSample.offset === sample.offset && storedSample.hash !== sample.hash;
  // Larger, with the same first bytes and the same bytes at the resume point: probably records
  // appended, which the engine confirms by key without asking for --accept-drift.
  const grew = stored.size !== undefined && fingerprint.size !== undefined && fingerprint.size > stored.size;
  if (
    changes.length === 0 &&
    grew &&
    !sampleChanged &&
    headHash !== undefined &&
    headHash === stored.sampleHash &&
    stored.description === fingerprint.description
  ) {
    return { reason: `it grew by ${(fingerprint.size as number) - (stored.size as number)} bytes`, certain: false };
  }
  const content = describeDrift(stored, fingerprint);
  if (content) changes.push(content);
  if (sampleChanged) changes.push(`the bytes around the resume point (byte ${(sample as SourceSample).offset}) differ`);
  if (changes.length > 0) {
    const reason = changes.join('; ');
    if (!acceptDrift) {
      throw new SourceError('SOURCE_DRIFT', `the source changed since the ledger last read it (${reason}). ${ACCEPT_DRIFT_DOES}`);
    }
    return { reason, certain: true };
  }
  // The same size and sampled bytes, but written since: an edit elsewhere, or only a touch or a copy.
  if (stored.mtimeMs !== undefined && fingerprint.mtimeMs !== undefined && stored.mtimeMs !== fingerprint.mtimeMs) {
    return { reason: 'it was modified since the ledger last read it', certain: false };
  }
  // A ledger written before paths were recorded learns its source's path now.
  if (storedPath === undefined && fingerprint.path !== undefined) meta.set('source_path', fingerprint.path);
  return undefined;
}

function storeFingerprint(meta: Meta, fingerprint: SourceFingerprint | undefined): void {
  if (fingerprint === undefined) return;
  meta.set('source_fingerprint', JSON.stringify(fingerprint));
  if (fingerprint.path !== undefined) meta.set('source_path', fingerprint.path);
}

/** The source as it is now is the reference; `seen` is its record count (the engine read it whole). */
export function acceptSource(meta: Meta, fingerprint: SourceFingerprint | undefined, sample: SourceSample | undefined, seen: number): void {
  storeFingerprint(meta, fingerprint);
  if (sample) meta.set('source_sample', JSON.stringify(sample));
  else meta.remove('source_sample');
  if (seen > Number(meta.get('seen') ?? 0)) meta.set('seen', String(seen));
}
