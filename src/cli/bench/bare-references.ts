import { TABLES } from '../../tables.js';
import { freshPostgres, freshSqlite } from './databases.js';
import { COLUMNS, postgresRows, quoted, run, sqliteRows, timed, version, type Reference } from './references.js';

/**
 * The PK-only table the bare engines load into: the same columns, `id` the primary key, no foreign
 * keys, no secondary index, no trigger, no CHECK — the physical floor the upload is measured against.
 */
export function bareTable(): string {
  const cols = TABLES.hired_employees.columns.map((c) =>
    c.primaryKey === true ? `"${c.name}" INTEGER PRIMARY KEY` : `"${c.name}" ${c.type === 'integer' ? 'INTEGER' : 'TEXT'}`,
  );
  return `CREATE TABLE hired_employees (${cols.join(', ')})`;
}

/**
 * `sqlite3 .import` into a temporary TEXT table, then one INSERT … SELECT NULLIF(…) into the PK-only
 * table, in one transaction (WAL, synchronous=NORMAL as the service runs). NULLIF in the copy rather
 * than an UPDATE afterwards: an UPDATE would rewrite every page a second time.
 */
export function bareSqliteReference(): Reference | string {
  const v = version('sqlite3');
  if (v === undefined) return 'sqlite3 not found: install it with `apt-get install sqlite3`';
  const staging = `CREATE TEMP TABLE staging (${COLUMNS.map((c) => `"${c}" TEXT`).join(', ')});`;
  const copy = `INSERT INTO hired_employees SELECT ${COLUMNS.map((c) => `NULLIF("${c}", '')`).join(', ')} FROM temp.staging;`;
  return {
    tool: 'sqlite3 .import, PK-only table',
    version: v.split(' ')[0]!,
    load: async (file) => {
      const db = freshSqlite();
      try {
        await run('sqlite3', [db.where], `PRAGMA journal_mode = WAL;\n${bareTable()};\n`);
        const script = [
          'PRAGMA synchronous = NORMAL;',
          'BEGIN;',
          staging,
          `.import --csv --schema temp ${quoted(file)} staging`,
          copy,
          'COMMIT;',
        ].join('\n');
        const { ms, rows } = await timed(
          () => run('sqlite3', [db.where], script),
          () => sqliteRows(db.where),
        );
        return { ms, rows };
      } finally {
        await db.drop();
      }
    },
  };
}

/** `psql \copy … WITH (FORMAT csv)` into the PK-only table (CSV's unquoted empty field is NULL). */
export function barePostgresReference(baseUrl: string): Reference | string {
  const v = version('psql');
  if (v === undefined) return 'psql not found: install it with `apt-get install postgresql-client`';
  return {
    tool: 'psql \\copy, PK-only table',
    version: v.replace(/^psql \(PostgreSQL\) /, ''),
    load: async (file) => {
      const db = await freshPostgres(baseUrl);
      try {
        await run('psql', [db.url, '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-c', bareTable()], '');
        const copy = `\\copy hired_employees (${COLUMNS.join(', ')}) FROM ${quoted(file)} WITH (FORMAT csv)`;
        const { ms, rows } = await timed(
          () => run('psql', [db.url, '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-c', copy], ''),
          () => postgresRows(db.url),
        );
        return { ms, rows };
      } finally {
        await db.drop();
      }
    },
  };
}
