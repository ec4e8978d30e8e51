import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TABLE_NAMES } from '../../src/tables.js';
import { BACKENDS } from '../helpers/backends.js';
import { readContainer, type Decoded } from './avro-reader.js';
import { download, dump, loadHistorical, startBackupApp, type BackupApp } from './setup.js';

// Debian's python3-avro (`apt-get install python3-avro`), an implementation that shares no code with avsc.
const READ_WITH_PYTHON = `
import datetime, json, sys
from avro.datafile import DataFileReader
from avro.io import DatumReader
EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
with DataFileReader(open(sys.argv[1], 'rb'), DatumReader()) as reader:
    meta = {k: v.decode('utf-8') for k, v in reader.meta.items()}
    records = []
    for record in reader:
        for k, v in record.items():
            if isinstance(v, datetime.datetime):
                record[k] = (v - EPOCH) // datetime.timedelta(milliseconds=1)
        records.append(record)
print(json.dumps({'meta': meta, 'records': records}))
`;

/** The first Python that has the avro package: Debian's own first (pyenv shims may hide it). */
const python = ['/usr/bin/python3', 'python3'].find((exe) => spawnSync(exe, ['-c', 'import avro'], { stdio: 'ignore' }).status === 0);
if (python === undefined)
  console.warn('\n⚠ python3-avro is not installed: the Python reader check is SKIPPED (apt-get install python3-avro).\n');

for (const backend of BACKENDS) {
  describe.skipIf(!backend.available)(`a backup reads back with readers independent of avsc [${backend.name}]`, () => {
    let t: BackupApp;
    let dir: string;
    beforeAll(async () => {
      t = await startBackupApp(backend);
      await loadHistorical(t.app);
      dir = mkdtempSync(join(tmpdir(), 'hr-avro-'));
    });
    afterAll(async () => {
      await t?.close();
      rmSync(dir, { recursive: true, force: true });
    });

    /** The table's rows as the database holds them, as Avro records (datetimes in epoch ms). */
    const stored = async (table: string): Promise<Decoded[]> =>
      (await dump(t.store))[table]!.map((row) => {
        const { text: _text, ms, ...rest } = row;
        return table === 'hired_employees' ? { ...rest, datetime: ms ?? null } : row;
      }) as Decoded[];

    it('a minimal reader written from the Avro specification (header, sync markers, raw inflate, zig-zag varints)', async () => {
      for (const table of TABLE_NAMES) {
        const file = readContainer(await download(t.app, table));
        expect(file.metadata['hr.table']?.toString()).toBe(table);
        expect(file.records).toEqual(await stored(table));
      }
    });

    it.skipIf(python === undefined)("Debian's python3-avro", async () => {
      for (const table of TABLE_NAMES) {
        const path = join(dir, `${table}.avro`);
        writeFileSync(path, await download(t.app, table));
        const out = JSON.parse(execFileSync(python!, ['-c', READ_WITH_PYTHON, path], { encoding: 'utf8', maxBuffer: 64 * 2 ** 20 })) as {
          meta: Record<string, string>;
          records: Decoded[];
        };
        expect(out.meta).toMatchObject({ 'avro.codec': 'deflate', 'hr.table': table, 'hr.format_version': '1' });
        expect(JSON.parse(out.meta['avro.schema']!)).toMatchObject({ name: table, 'hr.table': table, 'hr.format_version': 1 });
        expect(out.records).toEqual(await stored(table));
      }
    });
  });
}
