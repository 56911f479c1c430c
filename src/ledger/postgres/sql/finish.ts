/**
 * The end of a run: one statement that releases the lease, records how the run ended and clears
 * its crash note, its own transaction (one round trip, where a transaction of a fence, three
 * writes and a COMMIT was six). It fences itself: the lease row's UPDATE matches only this holder's
 * token ($2) on a lease still held, and waits for a taker's update under way, after which it finds
 * the new token and matches nothing; the run's row and the note are written only when it matched,
 * so a holder whose lease was taken writes nothing of its end. `released` tells which.
 */
import { CRASH_NOTE_KEY } from './crash-suspects.js';
import { leaseSql } from './lease.js';

export const finishSql = (s: string): string => `
WITH released AS (
  ${leaseSql(s).release}
  RETURNING job_id
), ended AS (
  UPDATE "${s}".runs SET status = $4, ended_at = $5, summary = $6
  WHERE job_id = $1 AND run_id = $3 AND EXISTS (SELECT 1 FROM released)
), cleared AS (
  DELETE FROM "${s}".meta WHERE job_id = $1 AND key = '${CRASH_NOTE_KEY}' AND EXISTS (SELECT 1 FROM released)
)
SELECT EXISTS (SELECT 1 FROM released) AS released`;
