/**
 * SeenKeys answers "has any of these ids come before?" exactly, or says it cannot tell: checked
 * against a Set of every key added, over random ids, repeats within one call and across calls,
 * and a page budget that runs out.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SeenKeys } from '../../src/store/postgres/seen-keys.js';

/** What addAll must answer, worked out with a Set: the keys before the first repeat are added either way. */
function reference(seen: Set<number>, keys: readonly number[]): boolean {
  for (const key of keys) {
    if (seen.has(key)) return false;
    seen.add(key);
  }
  return true;
}

describe('SeenKeys', () => {
  it('agrees with a Set over random chunks of ids, near and far apart', () => {
    const id = fc.oneof(fc.integer({ min: 1, max: 5000 }), fc.integer({ min: 1, max: 2 ** 31 - 1 }));
    fc.assert(
      fc.property(fc.array(fc.array(id, { maxLength: 60 }), { maxLength: 30 }), (chunks) => {
        const seen = new SeenKeys();
        const set = new Set<number>();
        for (const chunk of chunks) {
          const expected = reference(set, chunk);
          expect(seen.addAll(Float64Array.from(chunk), chunk.length)).toBe(expected);
          // A repeat ends the upload's use of the bitmap; what follows it in the chunk is not asked about.
          if (!expected) return;
        }
      }),
      { numRuns: 300 },
    );
  });

  it('a repeat within one chunk, across chunks, and on the first and last key of a page', () => {
    const seen = new SeenKeys();
    expect(seen.addAll(Float64Array.from([1, 2, 3, 2]), 4)).toBe(false);
    expect(seen.addAll(Float64Array.from([10, 11]), 2)).toBe(true);
    expect(seen.addAll(Float64Array.from([12, 10]), 2)).toBe(false);
    expect(seen.addAll(Float64Array.from([32767, 32768, 0]), 3)).toBe(true);
    expect(seen.addAll(Float64Array.from([32768]), 1)).toBe(false);
    expect(seen.addAll(Float64Array.from([32767]), 1)).toBe(false);
    expect(seen.addAll(Float64Array.from([0]), 1)).toBe(false);
  });

  it('counts only the first `count` keys of the array it is given', () => {
    const seen = new SeenKeys();
    expect(seen.addAll(Float64Array.from([5, 6, 5]), 2)).toBe(true);
    expect(seen.addAll(Float64Array.from([7]), 1)).toBe(true);
    expect(seen.addAll(Float64Array.from([6]), 1)).toBe(false);
  });

  it('says it cannot tell once the keys need more pages than it may hold', () => {
    const seen = new SeenKeys(3);
    // Three pages: keys 0–32,767, 32,768–65,535 and 65,536–98,303.
    expect(seen.addAll(Float64Array.from([1, 40_000, 70_000, 2, 40_001]), 5)).toBe(true);
    expect(seen.addAll(Float64Array.from([98_303, 3]), 2)).toBe(true);
    expect(seen.addAll(Float64Array.from([4, 98_304]), 2)).toBe(false);
  });
});
