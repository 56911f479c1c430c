import { describe, expect, it } from 'vitest';
import { generatedCsv } from '../../test/helpers/csv-files.js';
import { FirstRecordParser, firstRecordOnce, type FirstRecord } from './csv-first-record.js';

/** What a FirstRecord says, with an error reduced to its code and message (they are new objects). */
const said = (first: FirstRecord): unknown =>
  first.kind === 'error' ? { kind: 'error', code: (first.error as { code?: string }).code, message: first.error.message } : first;

describe('FirstRecordParser', () => {
  it("answers as csv-parse's single-use parse (its fallback) does, for every record start and cut of generated files, parse after parse", () => {
    const options = [
      { columns: false },
      { columns: false, relax_column_count: true },
      { columns: false, bom: true, skip_empty_lines: true },
    ];
    for (let seed = 1; seed <= 6; seed++) {
      const bytes = Buffer.from(generatedCsv(seed).content);
      for (const option of options) {
        const parser = new FirstRecordParser(option);
        expect(parser.reusesParser).toBe(true);
        let compared = 0;
        for (let start = 0; start < bytes.length; start++) {
          if (start > 0 && bytes[start - 1] !== 10) continue;
          for (const end of [start + 7, start + 40, bytes.length]) {
            const part = bytes.subarray(start, Math.min(end, bytes.length));
            const whole = end >= bytes.length;
            expect(said(parser.parse(part, whole)), `seed ${seed} at ${start}..${end}`).toEqual(said(firstRecordOnce(part, whole, option)));
            compared++;
          }
        }
        expect(compared).toBeGreaterThan(10);
      }
    }
  });
});
