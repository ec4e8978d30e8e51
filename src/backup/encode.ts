import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import avro from 'avsc';
import type { Row, TableDef } from '../tables.js';
import { avroSchema, headerMetadata } from './avro-schema.js';
import { millisFromInstant } from './timestamp.js';

/** Uncompressed bytes per block before deflate (Avro's usual sync interval). */
const BLOCK_BYTES = 64 * 1024;

export interface EncodeOptions {
  /** Called after each row is handed to the encoder (progress, counts). */
  onRow?: (rows: number) => void;
}

/**
 * Streams rows as an Avro object container file (deflate), the schema derived from the data
 * dictionary. Back-pressure runs from the consumer of the returned stream to `rows`: memory does
 * not grow with the table. An error in `rows` destroys the stream, so a consumer never mistakes
 * a partial file for a whole one (HTTP: the connection is cut; a file: the caller deletes it).
 */
export function encodeBackup(table: TableDef, rows: AsyncIterable<Row>, options: EncodeOptions = {}): Readable {
  // The plain JSON schema, not an avsc type: the header then keeps its attributes (table name,
  // format version). Datetimes are turned into epoch milliseconds here, below.
  const encoder = new avro.streams.BlockEncoder(
    avroSchema(table) as avro.schema.AvroSchema,
    {
      codec: 'deflate',
      blockSize: BLOCK_BYTES,
      metadata: headerMetadata(table),
      // An empty table is still a whole file: the header alone.
      writeHeader: 'always',
    } as Partial<avro.EncoderOptions>,
  );
  const columns = table.columns.map((c) => ({ name: c.name, instant: c.type === 'datetime' }));
  async function* records(): AsyncIterable<Record<string, unknown>> {
    let n = 0;
    for await (const row of rows) {
      const record: Record<string, unknown> = {};
      for (let i = 0; i < columns.length; i++) {
        const value = row[i] ?? null;
        record[columns[i]!.name] = columns[i]!.instant && value !== null ? millisFromInstant(String(value)) : value;
      }
      yield record;
      options.onRow?.(++n);
    }
  }
  pipeline(Readable.from(records()), encoder).catch((error: unknown) => encoder.destroy(error as Error));
  return encoder;
}
