import { createReadStream, existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { TABLE_NAMES, TABLES, type TableDef } from '../tables.js';

/** One CSV file of a load: where it is, its size (for the progress bar) and how to read it. */
export interface LoadFile {
  table: TableDef;
  /** The path or URI, as messages name it. */
  name: string;
  bytes: number;
  open(): Promise<AsyncIterable<Buffer>>;
}

/** departments.csv, jobs.csv and hired_employees.csv of a local folder, those that exist, in that order. */
export function folderFiles(folder: string): LoadFile[] {
  return TABLE_NAMES.map((name) => ({ table: TABLES[name], path: join(folder, `${name}.csv`) }))
    .filter((f) => existsSync(f.path))
    .map(({ table, path }) => ({
      table,
      name: path,
      bytes: statSync(path).size,
      open: () => Promise.resolve(createReadStream(path, { highWaterMark: 256 * 1024 })),
    }));
}
