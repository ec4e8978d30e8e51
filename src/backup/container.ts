import avro from 'avsc';

/**
 * The framing of an Avro object container file, from the specification: a header (magic
 * `Obj\x01`, a metadata map of bytes, a 16-byte sync marker), then blocks of
 * (record count, byte length, the records — compressed by the codec —, the sync marker again).
 * Written and read here with avsc types of the spec's own schemas; the records with the table's.
 */
export interface Header {
  magic: Buffer;
  meta: Record<string, Buffer>;
  sync: Buffer;
}

export const HEADER = avro.Type.forSchema({
  type: 'record',
  name: 'org.apache.avro.file.Header',
  fields: [
    { name: 'magic', type: { type: 'fixed', name: 'Magic', size: 4 } },
    { name: 'meta', type: { type: 'map', values: 'bytes' } },
    { name: 'sync', type: { type: 'fixed', name: 'Sync', size: 16 } },
  ],
});
export const LONG = avro.Type.forSchema('long');
export const MAGIC = Buffer.from('Obj\x01', 'latin1');
export const SYNC_BYTES = 16;
/** A block's count and length: two longs, at most 10 bytes each. */
export const MAX_FRAME_BYTES = 20;

/** A file whose header is not complete after this many bytes is not a backup. */
export const MAX_HEADER_BYTES = 1024 * 1024;
/**
 * A block larger than this (compressed, or once inflated) is refused rather than held: ours are
 * ~64 KiB before deflate, other writers' a few MiB at most.
 */
export const MAX_BLOCK_BYTES = 64 * 1024 * 1024;

/** The header of a file whose records have `schema` (JSON text), compressed with `codec`. */
export function encodeHeader(schema: string, codec: string, metadata: Record<string, Buffer>, sync: Buffer): Buffer {
  const meta = { ...metadata, 'avro.schema': Buffer.from(schema), 'avro.codec': Buffer.from(codec) };
  return HEADER.toBuffer({ magic: MAGIC, meta, sync });
}

/** A block's framing before its bytes: the record count and the byte length. */
export function blockPrefix(count: number, length: number): Buffer {
  const prefix = Buffer.allocUnsafe(MAX_FRAME_BYTES);
  const end = LONG.encode(length, prefix, LONG.encode(count, prefix, 0));
  return prefix.subarray(0, end);
}

/** A long read at `pos`: its value and the position after it; undefined when `buf` ends inside it. */
export function readLong(buf: Buffer, pos: number): { value: number; offset: number } | undefined {
  const read = LONG.decode(buf, pos) as { value: number; offset: number };
  return read.offset < 0 ? undefined : read;
}
