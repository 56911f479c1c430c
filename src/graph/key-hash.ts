/**
 * A 64-bit hash of a key, as two 32-bit halves computed by unrelated functions over the key's
 * UTF-16 code units (FNV-1a finished with an avalanche step, and a multiply-rotate hash), so that
 * keys can be told apart without keeping their strings: the chance that two of n distinct keys
 * share it is about n²/2⁶⁵. Where an equal hash must not be taken for an equal key, the caller
 * checks the key itself (the waiting records' keys are checked when the record is read again).
 */

/** The halves (hi, lo) of the last {@link hashKey}: written in place, no object per call. */
export const keyHash = new Uint32Array(2);

/** Sets {@link keyHash} to the hash of `key`. */
export function hashKey(key: string): void {
  let a = 0x811c9dc5;
  let b = 0x9747b28c ^ key.length;
  for (let i = 0; i < key.length; i++) {
    const c = key.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0xcc9e2d51);
    b = (b << 15) | (b >>> 17);
    b = Math.imul(b, 0x1b873593) + 0xe6546b64;
  }
  keyHash[0] = avalanche(a);
  keyHash[1] = avalanche(b ^ key.length);
}

function avalanche(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return h ^ (h >>> 16);
}
