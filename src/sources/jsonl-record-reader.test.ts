import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SourceError } from '../errors.js';
import { tempDir } from '../../test/helpers/temp.js';
import { jsonl } from './jsonl.js';
import type { SourceItem, SourcePosition } from './source.js';

/** Every record of the file as the source streams it, and the same records read again by position. */
async function readBoth(content: string | Buffer): Promise<{ streamed: SourceItem<unknown>[]; again: SourceItem<unknown>[] }> {
  const path = join(tempDir(), 'data.jsonl');
  writeFileSync(path, content);
  const source = jsonl(path);
  const streamed: SourceItem<unknown>[] = [];
  for await (const item of source.read()) streamed.push(item);
  const reader = await (source.openReader as () => ReturnType<NonNullable<typeof source.openReader>>)();
  try {
    // Backwards, as released records come: each read seeks.
    const again = [...streamed].reverse().map((item) => reader.read(item.position));
    return { streamed, again: again.reverse() };
  } finally {
    await reader.close();
  }
}

describe('jsonl record reader', () => {
  it('reads each record again at its position, as the source streamed it', async () => {
    const long = 'x'.repeat(20_000);
    const { streamed, again } = await readBoth(`\uFEFF{"id":1}\r\n\n  \n{"id":2,"long":"${long}"}\n{"id":"é ✓"}\n{"id":4}`);
    expect(streamed.map((item) => item.kind)).toEqual(['record', 'record', 'record', 'record']);
    expect(again).toEqual(streamed);
  });

  it('names the file when it cannot be read', async () => {
    const dir = tempDir();
    const source = jsonl(join(dir, 'gone.jsonl'));
    const reader = await (source.openReader as () => ReturnType<NonNullable<typeof source.openReader>>)();
    const position: SourcePosition = { seq: 0, line: 1, offset: 0 };
    expect(() => reader.read(position)).toThrow(SourceError);
    expect(() => reader.read(position)).toThrow(/cannot read jsonl source .*gone\.jsonl: no such file \(ENOENT\)/);
    await reader.close();
  });
});
