// Repeatable pseudo-randomness: a seeded generator, so a simulator run with the same seed and
// the same sequence of requests draws the same faults and latencies, and a text hash, so the
// same prompt always gets the same answer.

/** Uniform numbers in [0, 1) from a 32-bit seed (mulberry32: fast, good enough for simulation). */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let mixed = state;
    mixed = Math.imul(mixed ^ (mixed >>> 15), mixed | 1);
    mixed ^= mixed + Math.imul(mixed ^ (mixed >>> 7), mixed | 61);
    return ((mixed ^ (mixed >>> 14)) >>> 0) / 4_294_967_296;
  };
}

export const EMPTY_TEXT_HASH = 0x811c9dc5;

/**
 * FNV-1a of `text`, continuing from `previous` so several texts hash as one sequence. A
 * separator after each text keeps ["ab", "c"] apart from ["a", "bc"].
 */
export function hashText(text: string, previous: number = EMPTY_TEXT_HASH): number {
  let hash = previous;
  for (let index = 0; index < text.length; index++) {
    hash = Math.imul(hash ^ text.charCodeAt(index), 0x01000193);
  }
  return Math.imul(hash ^ 0xff, 0x01000193) >>> 0;
}
