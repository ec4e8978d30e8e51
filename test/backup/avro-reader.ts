/**
 * A minimal Avro object container reader written from the specification alone (no avsc), to
 * prove a backup is standard Avro: magic `Obj\x01`, the metadata map, the 16-byte sync marker,
 * then blocks of (count, size, deflated bytes, sync marker); records decoded by hand (zig-zag
 * varint longs, length-prefixed UTF-8 strings, unions as a branch index then the value).
 */
import { inflateRawSync } from 'node:zlib';

type Schema = string | { type: string; [key: string]: unknown } | Schema[];
export type Decoded = Record<string, string | number | null>;

export interface ContainerFile {
  metadata: Record<string, Buffer>;
  schema: Record<string, unknown>;
  codec: string;
  records: Decoded[];
  blocks: number;
}

class Cursor {
  pos = 0;
  constructor(readonly buf: Buffer) {}

  long(): number {
    let shift = 0n;
    let n = 0n;
    for (;;) {
      if (this.pos >= this.buf.length) throw new Error('truncated varint');
      const byte = BigInt(this.buf[this.pos++]!);
      n |= (byte & 0x7fn) << shift;
      if ((byte & 0x80n) === 0n) break;
      shift += 7n;
    }
    // Zig-zag: (n >>> 1) ^ -(n & 1).
    return Number((n >> 1n) ^ -(n & 1n));
  }

  bytes(length = this.long()): Buffer {
    if (this.pos + length > this.buf.length) throw new Error('truncated bytes');
    const out = this.buf.subarray(this.pos, this.pos + length);
    this.pos += length;
    return out;
  }

  string(): string {
    return this.bytes().toString('utf8');
  }
}

function readValue(cursor: Cursor, schema: Schema): string | number | null {
  if (Array.isArray(schema)) return readValue(cursor, schema[cursor.long()]!);
  const type = typeof schema === 'string' ? schema : schema.type;
  switch (type) {
    case 'null':
      return null;
    case 'int':
    case 'long':
      return cursor.long();
    case 'string':
      return cursor.string();
    default:
      throw new Error(`type ${type} is not handled by this minimal reader`);
  }
}

/** Reads a whole container file held in memory (the test files are small). */
export function readContainer(file: Buffer): ContainerFile {
  const cursor = new Cursor(file);
  if (!cursor.bytes(4).equals(Buffer.from([0x4f, 0x62, 0x6a, 0x01]))) throw new Error('not an Avro container: bad magic');
  const metadata: Record<string, Buffer> = {};
  for (let count = cursor.long(); count !== 0; count = cursor.long()) {
    if (count < 0) {
      count = -count;
      cursor.long(); // the block's size in bytes, unused
    }
    for (let i = 0; i < count; i++) metadata[cursor.string()] = Buffer.from(cursor.bytes());
  }
  const sync = Buffer.from(cursor.bytes(16));
  const schema = JSON.parse(metadata['avro.schema']!.toString('utf8')) as { fields: { name: string; type: Schema }[] } & Record<
    string,
    unknown
  >;
  const codec = metadata['avro.codec']?.toString('utf8') ?? 'null';
  const records: Decoded[] = [];
  let blocks = 0;
  while (cursor.pos < file.length) {
    const count = cursor.long();
    const raw = cursor.bytes();
    if (!cursor.bytes(16).equals(sync)) throw new Error(`block ${blocks}: wrong sync marker`);
    const data = codec === 'deflate' ? inflateRawSync(raw) : codec === 'null' ? raw : undefined;
    if (data === undefined) throw new Error(`codec ${codec} is not handled by this minimal reader`);
    const block = new Cursor(data);
    for (let i = 0; i < count; i++) {
      const record: Decoded = {};
      for (const field of schema.fields) record[field.name] = readValue(block, field.type);
      records.push(record);
    }
    if (block.pos !== data.length) throw new Error(`block ${blocks}: ${data.length - block.pos} bytes left after ${count} records`);
    blocks++;
  }
  return { metadata, schema, codec, records, blocks };
}
