// A small seedable generator (mulberry32) for routing's draws: weighted
// choice and backoff jitter. Tests pass a seed and get the same draws every
// run; the gateway seeds it from crypto at start-up.
import { randomInt } from "node:crypto";

/** Uniform numbers in [0, 1), the same sequence for the same seed. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let mixed = state;
    mixed = Math.imul(mixed ^ (mixed >>> 15), mixed | 1);
    mixed ^= mixed + Math.imul(mixed ^ (mixed >>> 7), mixed | 61);
    return ((mixed ^ (mixed >>> 14)) >>> 0) / 4294967296;
  };
}

/** A generator seeded from the operating system: production's default. */
export function unseededRandom(): () => number {
  return seededRandom(randomInt(0, 2 ** 32 - 1));
}
