/**
 * `npm run gen -- --rows N --out FILE [--seed S] [--table T]` (T: a table of the dictionary, default hired_employees):
 * writes a deterministic, realistic CSV file in the historical format, streaming.
 */
import { parseArgs } from 'node:util';
import { TABLE_NAMES } from '../tables.js';
import { defaultRows, type GenTable } from './gen/lines.js';
import { writeGenerated } from './gen/write.js';

const TABLES: readonly GenTable[] = TABLE_NAMES;

const USAGE = `Usage: npm run gen -- --rows N --out FILE [--seed S] [--table ${TABLES.join('|')}]
  --rows   rows to write (ids 1..N); departments and jobs default to 12 and 183
  --out    file to write, or - for stdout
  --seed   seed of the generator (default 1): the same seed gives the same file
  --table  which table's file (default hired_employees)`;

function fail(message: string): never {
  console.error(`${message}\n\n${USAGE}`);
  process.exit(2);
}

function positiveInteger(text: string | undefined, name: string): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text.replaceAll('_', ''));
  if (!Number.isSafeInteger(n) || n < 0) fail(`--${name} must be a non-negative integer, not "${text}"`);
  return n;
}

async function main(): Promise<void> {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        rows: { type: 'string' },
        out: { type: 'string' },
        seed: { type: 'string', default: '1' },
        table: { type: 'string', default: 'hired_employees' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (error) {
    fail((error as Error).message);
  }
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const table = values.table as GenTable;
  if (!TABLES.includes(table)) fail(`--table must be one of ${TABLES.join(', ')}`);
  const rows = positiveInteger(values.rows, 'rows') ?? defaultRows(table) ?? fail('--rows is required');
  const seed = positiveInteger(values.seed, 'seed')!;
  if (values.out === undefined) fail('--out is required');
  const started = Date.now();
  const { bytes } = await writeGenerated({ table, rows, seed }, values.out);
  if (values.out !== '-') {
    console.error(
      `${values.out}: ${rows} ${table} rows, ${(bytes / 1e6).toFixed(1)} MB in ${((Date.now() - started) / 1000).toFixed(1)} s`,
    );
  }
}

await main();
