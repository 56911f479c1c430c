import { defineJob, type JobOptions } from '../../src/job.js';

export interface Item {
  id: number;
}

/** `n` records `{ id: 0 }` … `{ id: n - 1 }`. */
export const items = (n: number): Item[] => Array.from({ length: n }, (_, i) => ({ id: i }));

/** A job over `items(count)`, keyed by id, whose handler returns 'ok'; `options` add to or replace any of that. */
export function itemsJob(name: string, count: number, options: Partial<JobOptions<Item>> = {}) {
  return defineJob<Item>({
    name,
    source: items(count),
    key: (r) => String(r.id),
    handler: async () => 'ok',
    ...options,
  });
}
