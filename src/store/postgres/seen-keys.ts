/** Keys per page of the bitmap: 4 KiB each. */
const PAGE_BITS = 1 << 15;
const PAGE_WORDS = PAGE_BITS / 32;

/**
 * Pages a SeenKeys holds at most (16 MiB): past that it gives up. Ids 1..N fill N / 32,768 pages,
 * so a file of 100M ids fits; only ids spread far apart (one per 32,768) run out first.
 */
export const SEEN_KEYS_MAX_PAGES = 4096;

/**
 * The integer keys an upload has met so far, as a bitmap in pages of 32,768 keys made as they are
 * needed: what lets an upload into an empty table copy its rows into a table without a key
 * (postgres-load.ts), since it knows no id repeats. Exact, or it says it cannot tell.
 */
export class SeenKeys {
  private readonly pages = new Map<number, Uint32Array>();

  constructor(private readonly maxPages = SEEN_KEYS_MAX_PAGES) {}

  /**
   * Adds the first `count` keys; false when one of them was met before (here or earlier among
   * them) or the bitmap would outgrow its pages. Either way the keys before it stay added.
   */
  addAll(keys: Float64Array, count: number): boolean {
    let page: Uint32Array | undefined;
    let pageNumber = Number.NaN;
    for (let i = 0; i < count; i++) {
      const key = keys[i]!;
      const number = Math.floor(key / PAGE_BITS);
      if (number !== pageNumber) {
        page = this.pages.get(number);
        if (page === undefined) {
          if (this.pages.size >= this.maxPages) return false;
          page = new Uint32Array(PAGE_WORDS);
          this.pages.set(number, page);
        }
        pageNumber = number;
      }
      const bit = key - number * PAGE_BITS;
      const word = bit >>> 5;
      const mask = 1 << (bit & 31);
      if ((page![word]! & mask) !== 0) return false;
      page![word] = page![word]! | mask;
    }
    return true;
  }
}
