import { writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ConfigError, SourceError } from '../errors.js';
import { seededInts } from '../../test/helpers/random.js';
import { collect } from '../../test/helpers/sources.js';
import { tempFiles } from '../../test/helpers/temp.js';
import { csv } from '../sources/csv.js';
import { fromIterable } from '../sources/iterable.js';
import { jsonl } from '../sources/jsonl.js';
import type { Source, SourceItem } from '../sources/source.js';
import { planChunks } from './chunk-plan.js';
import { readChunk } from './read-chunk.js';

const { file } = tempFiles('batchguard-chunks-', '.txt');

/** Every chunk read on its own, concatenated, must be the whole source read at once. */
async function expectChunksCoverSource(source: Source<unknown>, recordsPerChunk: number): Promise<SourceItem<unknown>[]> {
  const whole = await collect(source.read());
  const plan = await planChunks(source, { recordsPerChunk });
  expect(plan.total).toBe(whole.length);
  expect(plan.chunks.length).toBe(Math.ceil(whole.length / recordsPerChunk));
  const pieces: SourceItem<unknown>[] = [];
  for (const chunk of plan.chunks) {
    expect(chunk.from).toEqual(whole[chunk.from.seq]?.position);
    pieces.push(...(await collect(readChunk(source, chunk))));
  }
  expect(pieces).toEqual(whole);
  return whole;
}

/** A random CSV with quoted line breaks, doubled quotes, blank lines, multi-byte text, a BOM or not, LF or CRLF. */
function randomCsv(seed: number, records: number): string {
  const random = seededInts(seed);
  const eol = seed % 2 === 0 ? '\r\n' : '\n';
  const words = ['Zürich', '東京', 'a "quoted" word', `two${eol}lines`, `"${eol}"`, 'comma, inside', '🚀', 'plain'];
  const encode = (value: string): string => (/[",\r\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value);
  let text = seed % 3 === 0 ? '\ufeff' : '';
  text += `id,note${eol}`;
  for (let i = 0; i < records; i++) {
    while (random(5) === 0) text += eol;
    text += `${i},${encode(words[random(words.length)] as string)}${eol}`;
  }
  return text;
}

describe('planChunks and readChunk', () => {
  it('splits JSONL at record boundaries, blank lines and invalid lines included, with a BOM', async () => {
    const lines = ['\ufeff{"id":0}', '', '{"id":1}', '   ', 'not json', '{"id":"ü東"}', '{"id":4}', '', '{"id":5}', '{"id":6}'];
    const path = file(lines.join('\n'));
    for (const per of [1, 2, 3, 7, 100]) await expectChunksCoverSource(jsonl(path), per);
  });

  it("plans JSONL from its lines without parsing them: the same positions as read()'s, invalid UTF-8 included", async () => {
    const path = file('');
    writeFileSync(path, Buffer.concat([Buffer.from('{"id":0}\n{"id":"'), Buffer.from([0xff, 0xfe]), Buffer.from('"}\n\n{"id":2}\n')]));
    const source = jsonl(path, { invalidUtf8: 'fail' });
    const read = await collect(source.read());
    expect(read.map((item) => item.kind)).toEqual(['record', 'invalid', 'record']);
    if (source.positions === undefined) throw new Error('jsonl tells positions');
    expect((await collect(source.positions())).map((item) => item.position)).toEqual(read.map((item) => item.position));
    await expectChunksCoverSource(source, 2);
  });

  it('splits CRLF JSONL without a final line break', async () => {
    const path = file(Array.from({ length: 25 }, (_, i) => JSON.stringify({ id: i })).join('\r\n'));
    const whole = await expectChunksCoverSource(jsonl(path), 4);
    expect(whole).toHaveLength(25);
  });

  it('never puts a CSV boundary on a line break inside a quoted field', async () => {
    for (const seed of [1, 2, 3, 4, 5, 6]) {
      const path = file(randomCsv(seed, 60));
      const whole = await expectChunksCoverSource(csv(path), 1 + (seed % 5));
      expect(whole.every((item) => item.kind === 'record')).toBe(true);
      expect(whole.map((item) => (item.kind === 'record' ? (item.value as { id: string }).id : ''))).toEqual(
        Array.from({ length: 60 }, (_, i) => String(i)),
      );
    }
  });

  it('splits CSV read as arrays, and CSV with given column names', async () => {
    const path = file(randomCsv(7, 30));
    await expectChunksCoverSource(csv(path, { columns: false }), 4);
    await expectChunksCoverSource(csv(path, { columns: ['a', 'b'], relaxColumnCount: true }), 9);
  });

  it('plans an empty file as no chunks', async () => {
    expect(await planChunks(jsonl(file('')))).toEqual({ chunks: [], total: 0 });
    expect(await planChunks(csv(file('id,name\n')))).toEqual({ chunks: [], total: 0 });
  });

  it('refuses a source that cannot seek, naming it', async () => {
    await expect(planChunks(fromIterable([1, 2, 3], { description: 'my-list' }))).rejects.toThrow(
      new ConfigError(
        'source my-list cannot be shared by several workers: it cannot start reading in the middle. ' +
          'Use jsonl(path) or csv(path) on storage every worker can read, or postgresTable(...)',
        { field: 'source' },
      ),
    );
  });

  it('rejects a recordsPerChunk that is not a positive integer', async () => {
    await expect(planChunks(jsonl(file('{}\n')), { recordsPerChunk: 0 })).rejects.toBeInstanceOf(ConfigError);
  });

  it('notices a file changed after planning: a chunk that no longer starts at a record, or a file cut short', async () => {
    const path = file(Array.from({ length: 10 }, (_, i) => JSON.stringify({ id: i })).join('\n') + '\n');
    const plan = await planChunks(jsonl(path), { recordsPerChunk: 4 });
    writeFileSync(path, Array.from({ length: 6 }, (_, i) => JSON.stringify({ id: i })).join('\n') + '\n');
    const last = plan.chunks[2];
    if (last === undefined) throw new Error('three chunks expected');
    await expect(collect(readChunk(jsonl(path), last))).rejects.toThrow(SourceError);
    const second = plan.chunks[1];
    if (second === undefined) throw new Error('three chunks expected');
    await expect(collect(readChunk(jsonl(path), second))).rejects.toThrow(
      `source jsonl:${path} changed after the run was planned: chunk 1 starts at item 4 (line 5), but it ends at item 6, before the chunk's last item 7. ` +
        'Every worker must read the same file; restore it, or start a new run with a new ledger',
    );
  });

  it('skips the items a previous holder of the chunk already recorded', async () => {
    const path = file(Array.from({ length: 10 }, (_, i) => JSON.stringify({ id: i })).join('\n'));
    const plan = await planChunks(jsonl(path), { recordsPerChunk: 5 });
    const chunk = plan.chunks[1];
    if (chunk === undefined) throw new Error('two chunks expected');
    const items = await collect(readChunk(jsonl(path), chunk, { skip: (seq) => seq === 5 || seq === 7 }));
    expect(items.map((item) => item.position.seq)).toEqual([6, 8, 9]);
  });

  it('hands out the items the source has already read without a promise, as reading them one by one would', async () => {
    const path = file(Array.from({ length: 30 }, (_, i) => JSON.stringify({ id: i })).join('\n') + '\n');
    const plan = await planChunks(jsonl(path), { recordsPerChunk: 12 });
    const chunk = plan.chunks[1];
    if (chunk === undefined) throw new Error('three chunks expected');
    const read = async (skip?: (seq: number) => boolean): Promise<{ seqs: number[]; buffered: number }> => {
      const items = readChunk(jsonl(path), chunk, skip === undefined ? {} : { skip });
      const seqs: number[] = [];
      let buffered = 0;
      for (;;) {
        let item = items.nextBuffered();
        if (item !== undefined) buffered++;
        else {
          const step = await items.next();
          if (step.done) return { seqs, buffered };
          item = step.value;
        }
        seqs.push(item.position.seq);
      }
    };
    const { seqs, buffered } = await read((seq) => seq === 13);
    expect(seqs).toEqual([12, ...Array.from({ length: 10 }, (_, i) => 14 + i)]);
    expect(buffered).toBeGreaterThan(0);
    // The file cut short under the chunk: the end is found by next(), after the buffered items.
    writeFileSync(path, Array.from({ length: 20 }, (_, i) => JSON.stringify({ id: i })).join('\n') + '\n');
    await expect(read()).rejects.toThrow("but it ends at item 20, before the chunk's last item 23");
  });
});
