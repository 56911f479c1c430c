/**
 * The contenders of `npm run bench`, in table order. `file` names the module under contenders/
 * (undefined: not built yet, shown as such); `growth` is how the cost grows with the number of
 * records when it is known not to be linear (used to decide skips before two sizes are measured);
 * `needs` names the service it runs on.
 */
export const CONTENDERS = [
  { id: 'bare', label: 'bare loop (read, parse, call)', file: 'bare' },
  { id: 'naive-1', label: 'naive: Set of done ids → JSON after every record', file: 'naive-checkpoint', growth: 2 },
  { id: 'naive-100', label: 'naive: the same, every 100 records', file: 'naive-checkpoint-100', growth: 2 },
  { id: 'p-retry', label: 'hand-written: p-retry + JSON checkpoint every 1000', file: 'p-retry-loop' },
  { id: 'bullmq', label: 'BullMQ 6 on Redis', file: 'bullmq', needs: 'redis' },
  { id: 'pg-boss', label: 'pg-boss 10 on PostgreSQL', file: 'pg-boss', needs: 'postgres' },
  { id: 'batchguard-sqlite', label: 'batchguard, SQLite ledger', file: 'batchguard-sqlite' },
  { id: 'batchguard-postgres', label: 'batchguard, PostgreSQL ledger', file: 'batchguard-postgres', needs: 'postgres' },
];
