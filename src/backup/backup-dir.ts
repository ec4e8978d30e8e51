import { constants, createWriteStream, type ReadStream, type Stats } from 'node:fs';
import { lstat, mkdir, open, readdir, realpath, rename, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { AppError } from '../errors.js';
import type { Store } from '../store/store.js';
import { TABLE_NAMES, type TableDef, type TableName } from '../tables.js';
import { TABLE_KEY } from './avro-schema.js';
import { scanContainer } from './container-scan.js';
import { encodeAvroPages } from './encode.js';

/** A backup file in the backup folder. */
export interface BackupFile {
  name: string;
  /** The table it holds, from its header (or its name when the header does not say). */
  table: string | null;
  /** UTC instant it was taken, from its name; else the file's modification time. */
  created_at: string;
  bytes: number;
  rows: number | null;
  /** False when the file ends inside a block (a copy cut short): it cannot be restored. */
  complete: boolean;
}

/** What a backup wrote. */
export interface WrittenBackup {
  name: string;
  table: TableName;
  rows: number;
  bytes: number;
  created_at: string;
}

const EXTENSION = '.avro';
/**
 * Names `?from=` may use: one plain file name in the folder, no separators, not hidden, so no
 * path can leave the folder (`../x`, `/etc/passwd`, `a/b` and `.x` are all refused).
 */
const SAFE_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,200}\.avro$/;
/** Names the service gives its backups: `<table>-<UTC basic ISO 8601 with ms>[-n].avro`. */
const OWN_NAME = new RegExp(`^(${TABLE_NAMES.join('|')})-(\\d{8}T\\d{6}\\.\\d{3}Z)(?:-\\d+)?\\.avro$`);

/** `2024-05-01T12:30:45.123Z` → `20240501T123045.123Z`: sortable, no colons (valid on every file system). */
const stamp = (date: Date): string => date.toISOString().replace(/[-:]/g, '');

const unstamp = (text: string): string =>
  `${text.slice(0, 4)}-${text.slice(4, 6)}-${text.slice(6, 8)}T${text.slice(9, 11)}:${text.slice(11, 13)}:${text.slice(13)}`;

/** The name a backup of `table` taken at `date` gets (also the download's file name). */
export const backupName = (table: TableDef, date: Date, n = 0): string => `${table.name}-${stamp(date)}${n > 0 ? `-${n}` : ''}${EXTENSION}`;

/**
 * The path of a backup named by a client (`?from=`), inside `dir` or nowhere: a name that is not
 * a plain `.avro` file name is BACKUP_NAME_INVALID (400), a missing file BACKUP_NOT_FOUND (404).
 */
export async function backupPath(dir: string, name: string): Promise<string> {
  if (!SAFE_NAME.test(name) || name.includes('..')) {
    throw new AppError('BACKUP_NAME_INVALID', `"${name.slice(0, 100)}" is not a backup name: use a file name from GET /backups`);
  }
  const path = await pathInFolder(dir, name);
  if (path === undefined) throw new AppError('BACKUP_NOT_FOUND', `No backup named "${name}" in the backup folder`);
  return path;
}

/**
 * The real path of the regular file `name` of `dir`, or undefined when there is none. A symbolic
 * link is followed only when its target is a file of the same folder: a link out of the folder
 * (`x.avro -> /etc/shadow`, `-> ../hr.db`) is as good as no file.
 */
export async function pathInFolder(dir: string, name: string): Promise<string | undefined> {
  const folder = await realpath(dir).catch(() => undefined);
  if (folder === undefined) return undefined;
  const path = join(folder, name);
  const link = await lstat(path).catch(() => undefined);
  if (link === undefined) return undefined;
  const real = link.isSymbolicLink() ? await realpath(path).catch(() => undefined) : path;
  if (real === undefined || dirname(real) !== folder) return undefined;
  const found = await lstat(real).catch(() => undefined);
  return found?.isFile() === true ? real : undefined;
}

/**
 * Opens a file of a folder for reading (see pathInFolder), with O_NOFOLLOW on its real path, so a
 * link swapped in after the check is refused rather than followed out of the folder.
 */
export async function openInFolder(dir: string, name: string): Promise<ReadStream | undefined> {
  const path = await pathInFolder(dir, name);
  if (path === undefined) return undefined;
  const handle = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW).catch(() => undefined);
  return handle?.createReadStream({ highWaterMark: 256 * 1024 });
}

/** Opens a backup of the folder for reading (see backupPath and openInFolder). */
export async function openBackup(dir: string, name: string): Promise<ReadStream> {
  await backupPath(dir, name);
  const stream = await openInFolder(dir, name);
  if (stream === undefined) throw new AppError('BACKUP_NOT_FOUND', `No backup named "${name}" in the backup folder`);
  return stream;
}

/** The `.avro` files of the folder, newest first, each with its table and row count. */
export async function listBackups(dir: string): Promise<BackupFile[]> {
  const names = await readdir(dir).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return [] as string[];
    throw error;
  });
  const files: BackupFile[] = [];
  for (const name of names.filter((n) => SAFE_NAME.test(n))) {
    const path = await pathInFolder(dir, name);
    const info: Stats | undefined = path === undefined ? undefined : await stat(path).catch(() => undefined);
    if (path === undefined || info === undefined || !info.isFile()) continue;
    const own = OWN_NAME.exec(name);
    const summary = await scanContainer(path).catch(() => undefined);
    files.push({
      name,
      table: summary?.metadata[TABLE_KEY]?.toString() ?? own?.[1] ?? null,
      created_at: own === null ? info.mtime.toISOString() : unstamp(own[2]!),
      bytes: info.size,
      rows: summary?.rows ?? null,
      complete: summary?.complete ?? false,
    });
  }
  return files.sort((a, b) => b.created_at.localeCompare(a.created_at) || a.name.localeCompare(b.name));
}

/**
 * Writes a backup of one table into `dir` under a fresh name. The file appears under its name
 * only once whole (written as `.partial`, then renamed), so the folder never lists half a backup.
 */
export async function writeBackup(
  store: Store,
  table: TableDef,
  dir: string,
  onRow?: (rows: number) => void,
  now = new Date(),
): Promise<WrittenBackup> {
  await mkdir(dir, { recursive: true });
  let name = backupName(table, now);
  for (let n = 1; await exists(join(dir, name)); n++) name = backupName(table, now, n);
  const path = join(dir, name);
  const partial = `${path}.partial`;
  let rows = 0;
  try {
    await pipeline(
      encodeAvroPages(table, store.exportAvro(table), {
        onRow: (n) => {
          rows = n;
          onRow?.(n);
        },
      }),
      createWriteStream(partial, { flags: 'wx' }),
    );
    await rename(partial, path);
  } catch (error) {
    await rm(partial, { force: true });
    throw error;
  }
  return { name, table: table.name, rows, bytes: (await stat(path)).size, created_at: now.toISOString() };
}

const exists = (path: string): Promise<boolean> =>
  stat(path).then(
    () => true,
    () =>
      stat(`${path}.partial`).then(
        () => true,
        () => false,
      ),
  );
