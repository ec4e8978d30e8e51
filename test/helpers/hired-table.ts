/**
 * What the PostgreSQL tests of a table swap (a restore's, an upload's into an empty table) read
 * of hired_employees on their own connection: which table holds the name, what it is made of,
 * its rows, and hire_counts.
 */
import type pg from 'pg';
import type { Row } from '../../src/tables.js';

/** The OID of the table that holds the name now. */
export const tableOid = async (sql: pg.Pool): Promise<number> =>
  (await sql.query<{ oid: number }>(`SELECT 'hired_employees'::regclass::oid::int AS oid`)).rows[0]!.oid;

/** Its indexes, constraints and triggers by name, and the schema's tables: what a swap must keep. */
export const tableCatalog = async (sql: pg.Pool) => ({
  indexes: (
    await sql.query(
      `SELECT indexname, regexp_replace(indexdef, '^.* USING ', '') AS def FROM pg_indexes WHERE tablename = 'hired_employees' AND schemaname = current_schema() ORDER BY 1`,
    )
  ).rows,
  constraints: (await sql.query(`SELECT conname, contype FROM pg_constraint WHERE conrelid = 'hired_employees'::regclass ORDER BY 1`)).rows,
  triggers: (
    await sql.query(
      `SELECT tgname, pg_get_triggerdef(oid) AS def, tgenabled FROM pg_trigger WHERE tgrelid = 'hired_employees'::regclass AND NOT tgisinternal ORDER BY 1`,
    )
  ).rows,
  tables: (await sql.query<{ tablename: string }>(`SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY 1`)).rows,
});

/** The rows by id, each as its CSV fields would give it (the instant as ISO text). */
export const storedHires = async <R extends Row = Row>(sql: pg.Pool): Promise<R[]> =>
  (
    await sql.query<R>({
      text: `SELECT id::int, name, to_char(datetime AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS".000Z"'), department_id::int, job_id::int FROM hired_employees ORDER BY id`,
      rowMode: 'array',
    })
  ).rows;

/** hire_counts: "year-quarter-department-job" → hires, zeros left out. */
export const storedCounts = async (sql: pg.Pool): Promise<Record<string, number>> => {
  const result = await sql.query<{ key: string; hires: string }>(
    `SELECT year || '-' || quarter || '-' || department_id || '-' || job_id AS key, hires FROM hire_counts WHERE hires <> 0`,
  );
  return Object.fromEntries(result.rows.map((r) => [r.key, Number(r.hires)]));
};

/** hire_counts as it must be for rows of 2021 (id, name, ISO instant, department, job), worked out from them. */
export const countsOf2021 = (rows: readonly Row[]): Record<string, number> => {
  const counts: Record<string, number> = {};
  for (const r of rows) {
    const key = `2021-${Math.floor(new Date(r[2] as string).getUTCMonth() / 3) + 1}-${r[3]}-${r[4]}`;
    counts[key] = (counts[key] ?? 0) + 1;
  }
  return counts;
};
