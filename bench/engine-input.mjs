/**
 * The input of the engine's own benches (engine-throughput.mjs, engine-ab.mjs): `count` JSONL
 * records of ~100 bytes, city-like (id, name, lat, lng, population), written to `path`.
 */
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';

export async function writeEngineInput(path, count) {
  const out = createWriteStream(path);
  for (let i = 0; i < count; i++) {
    const line = `{"id":${i},"name":"city-${i}","lat":${(i % 180) - 90 + 0.123},"lng":${(i % 360) - 180 + 0.456},"population":${i * 7}}\n`;
    if (!out.write(line)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
}
