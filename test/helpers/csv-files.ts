/** CSV files for the tests of the CSV source and its record reader. */
import type { SourceItem } from '../../src/sources/source.js';
import { seededInts } from './random.js';

/**
 * A random CSV file written record by record, so the true position of each record is known: quoted
 * fields with line breaks and doubled quotes, multi-byte text, blank lines, rows with a wrong field
 * count, LF or CRLF, with or without BOM and final line break.
 */
export function generatedCsv(seed: number): { content: Buffer; items: SourceItem<unknown>[] } {
  const random = seededInts(seed);
  const eol = seed % 2 === 0 ? '\r\n' : '\n';
  const words = ['Zürich', '東京', 'a "quoted" word', `two${eol}lines`, 'comma, inside', '🚀', 'plain', 'y'.repeat(150)];
  const encode = (value: string): string => (/[",\r\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value);
  let text = seed % 3 === 0 ? '\ufeff' : '';
  text += `id,name,note${eol}`;
  const items: SourceItem<unknown>[] = [];
  const count = 40;
  for (let i = 0; i < count; i++) {
    while (random(6) === 0) text += eol;
    const offset = Buffer.byteLength(text);
    const line = text.split('\n').length;
    const position = { seq: items.length, line, offset };
    const last = i === count - 1 && seed % 4 === 1 ? '' : eol;
    if (random(8) === 0) {
      const row = `${i},only two`;
      text += row + last;
      const message = `line ${line}: Invalid Record Length: columns length is 3, got 2 (CSV_RECORD_INCONSISTENT_COLUMNS)`;
      items.push({ kind: 'invalid', position, message, raw: row });
      continue;
    }
    const value = { id: String(i), name: words[random(words.length)] ?? '', note: words[random(words.length)] ?? '' };
    text += `${value.id},${encode(value.name)},${encode(value.note)}${last}`;
    items.push({ kind: 'record', position, value });
  }
  return { content: Buffer.from(text), items };
}
