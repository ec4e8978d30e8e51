import { open } from 'node:fs/promises';
import { HEADER, LONG, MAGIC, MAX_HEADER_BYTES, SYNC_BYTES, type Header } from './container.js';

/** What the framing of an Avro object container file says, without decoding a row. */
export interface ContainerSummary {
  /** The header's metadata (avro.schema, avro.codec, hr.table, …). */
  metadata: Record<string, Buffer>;
  /** Rows, summed over the blocks' counts. */
  rows: number;
  blocks: number;
  /** False when the file ends inside a block or a block's sync marker is wrong. */
  complete: boolean;
}

/**
 * Walks an Avro container file's blocks (count, size, skip, sync marker) to count its rows: a
 * few bytes read per block, so listing a folder of large backups stays cheap. Returns undefined
 * when the file is not an Avro container.
 */
export async function scanContainer(path: string): Promise<ContainerSummary | undefined> {
  const file = await open(path, 'r');
  try {
    const size = (await file.stat()).size;
    let head = Buffer.alloc(0);
    let header: { value: Header; offset: number } | undefined;
    for (let want = 4096; header === undefined && want <= MAX_HEADER_BYTES * 2; want *= 4) {
      const { buffer, bytesRead } = await file.read(Buffer.alloc(Math.min(want, size)), 0, Math.min(want, size), 0);
      head = buffer.subarray(0, bytesRead);
      if (head.length < 4 || !head.subarray(0, 4).equals(MAGIC)) return undefined;
      const decoded = HEADER.decode(head, 0) as { value: NonNullable<typeof header>['value']; offset: number };
      if (decoded.offset >= 0) header = decoded;
      else if (want >= size) return undefined;
    }
    if (header === undefined) return undefined;
    let pos = header.offset;
    let rows = 0;
    let blocks = 0;
    const frame = Buffer.alloc(20);
    const sync = Buffer.alloc(SYNC_BYTES);
    while (pos < size) {
      const { bytesRead } = await file.read(frame, 0, frame.length, pos);
      const count = LONG.decode(frame.subarray(0, bytesRead), 0);
      const length = count.offset < 0 ? count : LONG.decode(frame.subarray(0, bytesRead), count.offset);
      if (count.offset < 0 || length.offset < 0) break;
      const end = pos + length.offset + (length.value as number) + SYNC_BYTES;
      if (end > size) break;
      await file.read(sync, 0, SYNC_BYTES, end - SYNC_BYTES);
      if (!sync.equals(header.value.sync)) break;
      rows += count.value as number;
      blocks++;
      pos = end;
    }
    return { metadata: header.value.meta, rows, blocks, complete: pos === size };
  } finally {
    await file.close();
  }
}
