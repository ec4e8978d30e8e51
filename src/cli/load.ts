/**
 * `npm run load -- <folder | s3://bucket/prefix/> [--strict] [--dry-run] [--on-conflict update] [--batch-size N]`
 * Loads each table's CSV file (departments.csv, jobs.csv, hired_employees.csv) from a folder or an S3 prefix into DATABASE_URL
 * through the same ingestion code as POST /upload, with a progress bar per file.
 */
import { parseArgs } from 'node:util';
import cliProgress from 'cli-progress';
import { loadConfig } from '../config.js';
import { ingestCsv } from '../ingest/upload.js';
import { openStore } from '../store/open-store.js';
import { tableList } from '../tables.js';
import { findFiles, type LoadFiles } from './load-files.js';
import { describeError, runMain } from './run-main.js';

const USAGE = 'usage: npm run load -- <folder | s3://bucket/prefix/> [--strict] [--dry-run] [--on-conflict reject|update] [--batch-size N]';

async function main(): Promise<number> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      strict: { type: 'boolean', default: false },
      'dry-run': { type: 'boolean', default: false },
      'on-conflict': { type: 'string', default: 'reject' },
      'batch-size': { type: 'string', default: '1000' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const folder = positionals[0] ?? 'data/historical';
  const onConflict = values['on-conflict'];
  const batchSize = Number(values['batch-size']);
  if ((onConflict !== 'reject' && onConflict !== 'update') || !Number.isInteger(batchSize) || batchSize < 1) {
    console.error(USAGE);
    return 2;
  }
  const config = loadConfig();
  let found: LoadFiles;
  try {
    found = await findFiles(folder, config);
  } catch (error) {
    console.error(describeError(error));
    return 2;
  }
  const { files } = found;
  if (files.length === 0) {
    found.close();
    console.error(`No ${tableList('or', '.csv')} in ${folder}`);
    return 2;
  }
  const store = await openStore(config);
  await store.migrate();
  let failed = false;
  try {
    for (const file of files) {
      const size = file.bytes;
      const bar = new cliProgress.SingleBar(
        {
          format: `${file.table.name.padEnd(16)} {bar} {percentage}% | {value}/{total} bytes | {rows} rows`,
          hideCursor: true,
          // Without a terminal (CI logs, `2> file`) a line every few seconds and the final one.
          noTTYOutput: true,
          notTTYSchedule: 5000,
        },
        cliProgress.Presets.shades_classic,
      );
      bar.start(size, 0, { rows: 0 });
      try {
        const report = await ingestCsv(store, await file.open(), {
          table: file.table,
          batchSize,
          strict: values.strict,
          dryRun: values['dry-run'],
          onConflict,
          maxBytes: Number.MAX_SAFE_INTEGER,
          maxRecordChars: config.CSV_MAX_RECORD_BYTES,
          onProgress: (bytes, rows) => bar.update(bytes, { rows }),
        });
        // The last record of a file without a final newline is counted after the last chunk's call.
        bar.update(size, { rows: report.received });
        bar.stop();
        const { errors, ...summary } = report;
        // stdout holds nothing but one JSON report per file (`| jq` works); the rest is for people.
        console.log(JSON.stringify(summary));
        for (const e of errors.slice(0, 10)) console.error(`  line ${e.line}: ${e.reason}`);
        if (report.rejected > 10) console.error(`  … ${report.rejected - 10} more: GET /uploads/${report.upload_id}/rejects.csv`);
      } catch (error) {
        bar.stop();
        failed = true;
        console.error(`${file.name}: ${describeError(error)}`);
      }
    }
  } finally {
    found.close();
    await store.close();
  }
  return failed ? 1 : 0;
}

runMain(main);
