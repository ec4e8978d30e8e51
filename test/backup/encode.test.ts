import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { decodeBackup } from '../../src/backup/decode.js';
import { encodeAvroPages } from '../../src/backup/encode.js';
import { recordPages } from '../../src/backup/record-pages.js';
import type { AvroPage } from '../../src/store/store.js';
import { TABLES, type Row } from '../../src/tables.js';

const table = TABLES.hired_employees;

const rowsFrom = (first: number, count: number): Row[] =>
  Array.from({ length: count }, (_, k): Row => {
    const id = first + k;
    return [
      id,
      `Employee number ${id} ${'x'.repeat(id % 40)}`,
      new Date(Date.UTC(2021, id % 12, 1 + (id % 28))).toISOString(),
      1 + (id % 12),
      1 + (id % 183),
    ];
  });

describe('encodeAvroPages: pages given back with AvroPage#release', () => {
  it("gives each page's buffer back once, only after its bytes are in the file: a page overwritten as soon as it is released leaves the file intact", async () => {
    // Pages of 3,000 rows are blocks of their own (deflated as they are); pages of 40 rows are joined into a block.
    const sizes = [3000, 40, 40, 3000, 40, 3000, 3000, 40];
    const pages: Row[][] = [];
    for (let i = 0, first = 1; i < sizes.length; first += sizes[i]!, i++) pages.push(rowsFrom(first, sizes[i]!));
    const released = new Map<number, number>();
    async function* given(): AsyncIterable<AvroPage> {
      let n = 0;
      for await (const page of recordPages(table, Readable.from(pages))) {
        const index = n++;
        const records = Buffer.from(page.records);
        yield {
          records,
          count: page.count,
          release: () => {
            released.set(index, (released.get(index) ?? 0) + 1);
            // What a producer reusing the buffer does to it.
            records.fill(0xff);
          },
        };
      }
    }
    const chunks: Buffer[] = [];
    for await (const chunk of encodeAvroPages(table, given())) chunks.push(chunk as Buffer);
    const decoded: Row[] = [];
    for await (const page of decodeBackup(Readable.from([Buffer.concat(chunks)]), table)) decoded.push(...page);
    expect(decoded).toEqual(pages.flat());
    expect([...released.entries()].sort((a, b) => a[0] - b[0])).toEqual(sizes.map((_, i) => [i, 1]));
  });
});
