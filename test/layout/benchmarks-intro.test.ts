/**
 * docs/benchmarks.md is written by `npm run bench` (bench/compare.mjs): bench/compare/benchmarks-intro.md,
 * then the measured sections. A text added to the doc's intro and not to that file is lost at the
 * next measurement, so the two must stay the same.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../..');
const MEASURED = '\n## Where and when these figures were measured\n';

it('bench/compare/benchmarks-intro.md is docs/benchmarks.md above its measured sections', () => {
  const doc = readFileSync(resolve(ROOT, 'docs/benchmarks.md'), 'utf8');
  const at = doc.indexOf(MEASURED);
  expect(at, `docs/benchmarks.md has no "${MEASURED.trim()}" section`).toBeGreaterThan(0);
  const intro = readFileSync(resolve(ROOT, 'bench/compare/benchmarks-intro.md'), 'utf8');
  expect(intro.trim(), 'copy the text of docs/benchmarks.md above that section into bench/compare/benchmarks-intro.md').toBe(
    doc.slice(0, at).trim(),
  );
});
