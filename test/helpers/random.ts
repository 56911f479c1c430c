/**
 * A deterministic source of random integers (a linear congruential generator): `random(n)` is in
 * 0 … n - 1, and the same seed gives the same sequence, so a generated case can be replayed.
 */
export function seededInts(seed: number): (n: number) => number {
  let state = seed;
  return (n: number): number => {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    return state % n;
  };
}
