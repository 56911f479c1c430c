/**
 * Before a run reads anything: is the source still the one the ledger recorded? The ledger's
 * `begin` compares the cheap signs (size, first bytes, the bytes at the resume point, the path);
 * when one differs, or only the modification time does, the outcomes are matched to the records by
 * key (source-map.ts): unchanged keys mean nothing moved (a touch, a copy, records appended), and
 * otherwise the run goes on only with `acceptDrift`, after every outcome follows its record.
 */
import { SourceError } from '../errors.js';
import type { Job } from '../job.js';
import type { Ledger, ResumeState } from '../ledger/ledger.js';
import { ACCEPT_DRIFT_DOES } from '../ledger/lease.js';
import { changedWhileRead, SAMPLE_BYTES } from '../sources/file-source.js';
import type { SourceFingerprint, SourceSample } from '../sources/source.js';
import { mapSourceByKey } from './source-map.js';

/**
 * What `begin` compares besides the fingerprint: the source's bytes now where the ledger last
 * sampled them, and, when the source grew, the hash of its first bytes as the stored fingerprint
 * sampled them (undefined where the ledger has nothing to compare, or the source cannot tell).
 */
export async function sourceNow(
  job: Job<any, any>,
  ledger: Ledger,
  fingerprint: SourceFingerprint | undefined,
): Promise<{ sample: SourceSample | undefined; headHash: string | undefined }> {
  const stored = await ledger.sourceState();
  const sample = stored.sample && job.source.sampleAt ? await job.source.sampleAt(stored.sample.offset) : undefined;
  const before = stored.fingerprint?.size;
  const grew = before !== undefined && fingerprint?.size !== undefined && fingerprint.size > before;
  const headHash = grew && job.source.headHash ? await job.source.headHash(before) : undefined;
  return { sample, headHash };
}

/** What happened to the ledger's outcomes before the run, for the run:started event and the summary. */
export interface DriftSettled {
  readonly resume: ResumeState;
  /** Set when outcomes were moved to follow their records: what changed. */
  readonly remapped: string | undefined;
}

/**
 * Settles drift that `begin` reported (`resume.drift`): returns the resume state to use, after
 * moving the stored outcomes when the source changed and `acceptDrift` allows it.
 * @throws SourceError SOURCE_DRIFT when records moved and drift is not accepted.
 */
export async function settleDrift(
  job: Job<any, any>,
  ledger: Ledger,
  runId: string,
  resume: ResumeState,
  fingerprint: SourceFingerprint | undefined,
  acceptDrift: boolean,
  signal?: AbortSignal,
): Promise<DriftSettled> {
  if (!resume.drift) return { resume, remapped: undefined };
  const map = await mapSourceByKey(job, ledger, signal);
  const sample = map.watermark?.offset !== undefined ? await job.source.sampleAt?.(map.watermark.offset) : undefined;
  if (map.unchanged) {
    await ledger.acceptSource(fingerprint, sample, map.seen);
    return { resume, remapped: undefined };
  }
  if (!acceptDrift) {
    throw new SourceError(
      'SOURCE_DRIFT',
      `the source changed since the ledger last read it (${resume.drift.reason}: ${map.changes}). ${ACCEPT_DRIFT_DOES}`,
    );
  }
  await ledger.applySourceMap(runId, fingerprint, { ...map, sample });
  const after = await ledger.inspect();
  return { resume: { ...after, crashedRunId: resume.crashedRunId }, remapped: `${resume.drift.reason}: ${map.changes}` };
}

/**
 * At the end of the source: throws SOURCE_DRIFT when it changed while this run read it, from
 * `atStart` (its fingerprint when the run began): smaller, or its first bytes not the same (a file
 * rewritten in place, which the reader read on into from its old offset). A source that only grew
 * passes: its new records were read. Sources without a size and a sample are not checked.
 */
export async function checkUnchangedSince(job: Job<any, any>, atStart: SourceFingerprint | undefined): Promise<void> {
  if (atStart?.size === undefined || atStart.sampleHash === undefined) return;
  const now = await job.source.fingerprint();
  if (now?.size === undefined) return;
  const { description } = job.source;
  if (now.size < atStart.size) throw changedWhileRead(description, `it shrank from ${atStart.size} to ${now.size} bytes`);
  const head = now.size === atStart.size ? now.sampleHash : await job.source.headHash?.(atStart.size);
  if (head !== undefined && head !== atStart.sampleHash) {
    throw changedWhileRead(description, `its first ${Math.min(atStart.size, SAMPLE_BYTES)} bytes are not the ones it started with`);
  }
}
