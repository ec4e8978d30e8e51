/**
 * `npm run backup -- [--dir DIR] [--table T]`
 * Writes an Avro backup of every table (or of one) of DATABASE_URL into DIR (default BACKUP_DIR),
 * the same files as POST /backup, with a progress bar per table.
 */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import cliProgress from 'cli-progress';
import { writeBackup } from '../backup/backup-dir.js';
import { loadConfig } from '../config.js';
import { openStore } from '../store/open-store.js';
import { resolveTable, TABLE_NAMES, TABLES } from '../tables.js';
import { describeError, runMain } from './run-main.js';

const USAGE = `usage: npm run backup -- [--dir DIR] [--table ${TABLE_NAMES.join('|')}]`;

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      dir: { type: 'string' },
      table: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const only = values.table === undefined ? undefined : resolveTable(values.table);
  if (values.table !== undefined && only === undefined) {
    console.error(`Unknown table "${values.table}"\n${USAGE}`);
    return 2;
  }
  const config = loadConfig();
  const dir = values.dir ?? config.BACKUP_DIR;
  const store = await openStore(config);
  await store.migrate();
  let failed = false;
  try {
    const counts = new Map((await store.countRows()).map((c) => [c.name, c.rows]));
    for (const table of only === undefined ? TABLE_NAMES.map((name) => TABLES[name]) : [only]) {
      const bar = new cliProgress.SingleBar(
        { format: `${table.name.padEnd(16)} {bar} {percentage}% | {value}/{total} rows`, hideCursor: true },
        cliProgress.Presets.shades_classic,
      );
      bar.start(counts.get(table.name) ?? 0, 0);
      try {
        // Called once per page of rows.
        const written = await writeBackup(store, table, dir, (rows) => bar.update(rows));
        // Rows committed while the backup ran are not in its snapshot: the bar ends at what was written.
        bar.setTotal(written.rows);
        bar.update(written.rows);
        bar.stop();
        console.log(JSON.stringify({ ...written, path: resolve(dir, written.name) }));
      } catch (error) {
        bar.stop();
        failed = true;
        console.error(`${table.name}: ${describeError(error)}`);
      }
    }
  } finally {
    await store.close();
  }
  return failed ? 1 : 0;
}

runMain(main);
