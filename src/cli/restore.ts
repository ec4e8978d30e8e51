/**
 * `npm run restore -- --table T [--mode replace|merge] FILE`
 * Restores a table of DATABASE_URL from an Avro backup file, in one transaction, through the same
 * code as POST /restore/{table}, with a progress bar.
 */
import { createReadStream } from 'node:fs';
import { parseArgs } from 'node:util';
import cliProgress from 'cli-progress';
import { scanContainer } from '../backup/container-scan.js';
import { restoreTable } from '../backup/restore.js';
import { loadConfig } from '../config.js';
import { openStore } from '../store/open-store.js';
import { resolveTable, TABLE_NAMES } from '../tables.js';
import { describeError, runMain } from './run-main.js';

const USAGE = `usage: npm run restore -- --table ${TABLE_NAMES.join('|')} [--mode replace|merge] FILE`;

async function main(): Promise<number> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      table: { type: 'string' },
      mode: { type: 'string', default: 'replace' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const table = values.table === undefined ? undefined : resolveTable(values.table);
  const file = positionals[0];
  const mode = values.mode;
  if (table === undefined || file === undefined || positionals.length > 1 || (mode !== 'replace' && mode !== 'merge')) {
    console.error(USAGE);
    return 2;
  }
  // The blocks' counts give the bar its total without decoding a row (unknown if the file is not Avro).
  const summary = await scanContainer(file).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return null;
    return undefined;
  });
  if (summary === null) {
    console.error(`${file}: no such file`);
    return 2;
  }
  const store = await openStore(loadConfig());
  await store.migrate();
  const bar = new cliProgress.SingleBar(
    { format: `${table.name.padEnd(16)} {bar} {percentage}% | {value}/{total} rows`, hideCursor: true },
    cliProgress.Presets.shades_classic,
  );
  bar.start(summary?.rows ?? 0, 0);
  try {
    // Called once per page of rows (a block of the file).
    const result = await restoreTable(store, table, createReadStream(file, { highWaterMark: 256 * 1024 }), mode, (rows) =>
      bar.update(rows),
    );
    bar.update(result.restored);
    bar.stop();
    console.log(JSON.stringify(result));
    return 0;
  } catch (error) {
    bar.stop();
    console.error(`${file}: ${describeError(error)}`);
    return 1;
  } finally {
    await store.close();
  }
}

runMain(main);
