/**
 * Opt-out of record-level isolation: when records only make sense together, make the group the
 * record. Here each journal entry's lines must balance (debits = credits); posting some lines of an
 * entry and failing others would leave the books wrong, so the job's record is the whole entry and
 * its handler posts all of its lines or none.
 *
 * Record isolation is the wrong tool when records have side effects on each other (a line that
 * moves money another line moves back) or when a batch is all-or-nothing (an import that must land
 * whole, a set of rows under one constraint). Group them in the source, and do the group's work in
 * one transaction in the handler; retries, the report and resume then apply to whole groups.
 *
 *   npx batchguard run examples/opt-outs/whole-batch.job.ts
 */
import { defineJob, FatalError } from 'batchguard';

interface Line {
  entry: string;
  account: string;
  amount: number;
}

const lines: Line[] = [
  { entry: 'e1', account: 'cash', amount: -100 },
  { entry: 'e1', account: 'sales', amount: 100 },
  { entry: 'e2', account: 'cash', amount: -50 },
  { entry: 'e2', account: 'fees', amount: 45 },
  { entry: 'e3', account: 'rent', amount: 900 },
  { entry: 'e3', account: 'cash', amount: -900 },
];

/** The lines grouped by entry, in order: one record per journal entry. */
function* entries(): Generator<{ id: string; lines: Line[] }> {
  let current: { id: string; lines: Line[] } | undefined;
  for (const line of lines) {
    if (current && current.id !== line.entry) yield current;
    if (!current || current.id !== line.entry) current = { id: line.entry, lines: [] };
    current.lines.push(line);
  }
  if (current) yield current;
}

const balances = new Map<string, number>();

export default defineJob({
  name: 'post-journal',
  source: () => entries(),
  key: (entry) => entry.id,
  maxFailureRate: 1,
  handler: (entry) => {
    // All or nothing: check the whole entry, then apply every line (a database transaction would do
    // both in one step).
    const sum = entry.lines.reduce((total, line) => total + line.amount, 0);
    if (sum !== 0) throw new FatalError(`entry ${entry.id} does not balance (off by ${sum}); none of its lines was posted`);
    for (const line of entry.lines) balances.set(line.account, (balances.get(line.account) ?? 0) + line.amount);
    return { posted: entry.lines.length };
  },
});
