/**
 * A seeded generator of integers in [0, n) (a linear congruential one), so a randomized test
 * replays the same operations on every run and a failure can be reproduced.
 */
export function seededRandom(seed: number): (n: number) => number {
  let state = seed;
  return (n) => {
    state = (state * 1103515245 + 12345) & 0x7fffffff;
    return state % n;
  };
}
