/**
 * Rebuilds the duplicate-key index from what earlier runs committed.
 */
import type { Ledger } from '../ledger/ledger.js';
import { KEY_INDEX_ENTRY_BYTES, KEY_INDEX_MAX_EXPECTED_KEYS, KeyIndex } from '../structures/key-index.js';

/** The keys of every earlier run, from the chunks committed with their batches. */
export async function loadKeyIndex(ledger: Ledger): Promise<KeyIndex> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of ledger.keyChunks()) chunks.push(chunk);
  // Sized once for what is stored (and room to grow), instead of doubling and rehashing on the way.
  const stored = chunks.reduce((sum, chunk) => sum + chunk.byteLength / KEY_INDEX_ENTRY_BYTES, 0);
  const keys = new KeyIndex({ expectedKeys: Math.min(KEY_INDEX_MAX_EXPECTED_KEYS, Math.ceil(stored * 1.25)) });
  for (const chunk of chunks) keys.load(chunk);
  return keys;
}
