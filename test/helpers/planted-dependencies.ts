/**
 * A JSONL source whose records depend on records planted far away in the file (half the file
 * away, before or after them), so that a contiguous split puts a record and its parent in
 * different chunks; with grandchildren, records with two parents, a missing parent, a repeated key
 * and a line that is not JSON. No cycle. The handler's rule of which records fail is `fails`.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface PlantedRecord {
  readonly id: number;
  readonly after?: readonly string[];
}

/** Record `id`'s parents: a far one (every 10th from 3), the grandchild's (from 9), two (every 50th from 11). */
export function parentsOf(id: number, records: number): string[] {
  if (id === 17) return ['nowhere'];
  if (id === 27) return ['17'];
  if (id % 10 === 3) return [String((id + records / 2 + 7) % records)];
  if (id % 10 === 9) return [String(id - 6)];
  if (id % 50 === 11) return [String(id - 1), String((id * 7) % records)];
  return [];
}

/** Whether the handler fails record `id` (fatal): every 37th, some of them parents. */
export const fails = (id: number): boolean => id % 37 === 0;

/**
 * Writes `records` records (a multiple of 20) to `name` in `dir`, a line that is not JSON at the
 * middle, and a second record with key 5 at the end. Returns its path.
 */
export function writePlantedDependencies(dir: string, name: string, records: number): string {
  const lines: string[] = [];
  for (let id = 0; id < records; id++) {
    if (id === records / 2) lines.push('not json');
    const after = parentsOf(id, records);
    lines.push(JSON.stringify(after.length === 0 ? { id } : { id, after }));
  }
  lines.push(JSON.stringify({ id: 5 }));
  const path = join(dir, name);
  writeFileSync(path, `${lines.join('\n')}\n`);
  return path;
}
