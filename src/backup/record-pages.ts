import type { AvroPage } from '../store/store.js';
import { withRoom } from '../lib/bytes.js';
import type { Row, TableDef } from '../tables.js';
import { recordWriter } from './record-writer.js';

/** Initial bytes of a page's buffer: a thousand rows of the widest table, with room to spare. */
const START_BYTES = 64 * 1024;

/**
 * Encodes pages of rows (datetimes as canonical text or epoch milliseconds) as pages of Avro
 * records, each row written by the table's record writer straight into the page's buffer.
 */
export async function* recordPages(table: TableDef, pages: AsyncIterable<readonly Row[]>): AsyncIterable<AvroPage> {
  const writer = recordWriter(table);
  for await (const page of pages) {
    let buf = Buffer.allocUnsafe(START_BYTES);
    let pos = 0;
    for (const row of page) {
      buf = withRoom(buf, pos, writer.maxBytes(row));
      pos = writer.write(row, buf, pos);
    }
    if (page.length > 0) yield { records: buf.subarray(0, pos), count: page.length };
  }
}
