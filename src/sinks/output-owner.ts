/**
 * Which ledger owns an output file. Two ledgers writing one file (two copies of a job, a job run
 * from two folders) would each write every record into it, so the first ledger to open the file
 * claims it in a sidecar `<output>.owner` and every other ledger is refused. The output itself
 * stays plain JSONL.
 *
 * The claim holds a random id that the owning ledger also stores in its committed sink state:
 * the id, not the ledger's path, is what proves ownership once the ledger has committed (so a
 * ledger moved to another folder keeps its output). Before its first commit, a ledger recognises
 * its own claim by its path (a first run that died before committing anything).
 */
import { randomUUID } from 'node:crypto';
import { linkSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { SinkError } from '../errors.js';
import type { SinkOwner } from './output-sink.js';

export interface OwnerClaim {
  readonly id: string;
  readonly ledger: string;
  readonly job: string;
  readonly claimedAt: string;
}

export function ownerFilePath(outputPath: string): string {
  return `${outputPath}.owner`;
}

/**
 * Claims `outputPath` for `owner`, or checks that it already owns it. `committedId` is the id in
 * the ledger's committed sink state, if any. Returns the id to store with the next commit.
 * Throws a SinkError naming the owning ledger when another ledger owns the file.
 */
export function claimOutput(outputPath: string, owner: SinkOwner, committedId: string | undefined): string {
  const file = ownerFilePath(outputPath);
  const claim = readClaim(file);
  if (claim === undefined) {
    const id = committedId ?? randomUUID();
    if (writeClaimOnce(file, { id, ledger: owner.ledger, job: owner.job, claimedAt: new Date().toISOString() })) return id;
    // Another ledger claimed the file at the same moment.
    return claimOutput(outputPath, owner, committedId);
  }
  const ours = committedId !== undefined ? claim.id === committedId : claim.ledger === owner.ledger;
  if (!ours) {
    throw new SinkError(
      `the output file ${outputPath} belongs to the ledger ${claim.ledger} (job ${claim.job}, since ${claim.claimedAt}), not to ${owner.ledger}: ` +
        `two ledgers writing one output would each write every record into it. Run with --ledger ${claim.ledger}, or give this job another output file; ` +
        `if that ledger no longer exists, delete ${file} and the output to start over`,
    );
  }
  // A ledger that was moved keeps its output: the claim follows it.
  if (claim.ledger !== owner.ledger) writeFileSync(file, `${JSON.stringify({ ...claim, ledger: owner.ledger })}\n`);
  return claim.id;
}

function readClaim(file: string): OwnerClaim | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new SinkError(`cannot read the output's owner file ${file}: ${(error as Error).message}`, { cause: error });
  }
  try {
    const claim = JSON.parse(text) as Partial<OwnerClaim>;
    if (typeof claim.id === 'string' && typeof claim.ledger === 'string') return { job: '?', claimedAt: '?', ...claim } as OwnerClaim;
  } catch {
    // Reported below.
  }
  throw new SinkError(
    `the output's owner file ${file} is damaged (it should hold {"id", "ledger", …}); delete it if the output belongs to this job's ledger`,
  );
}

/** Writes the claim only if no claim exists; false if one appeared first. Readers never see a half-written claim. */
function writeClaimOnce(file: string, claim: OwnerClaim): boolean {
  const temporary = `${file}.${process.pid}.${claim.id}.tmp`;
  writeFileSync(temporary, `${JSON.stringify(claim)}\n`);
  try {
    linkSync(temporary, file);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw new SinkError(`cannot write the output's owner file ${file}: ${(error as Error).message}`, { cause: error });
  } finally {
    unlinkSync(temporary);
  }
}
