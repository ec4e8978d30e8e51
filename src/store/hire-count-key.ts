import type { TableDef } from '../tables.js';

/**
 * What a bulk load counting its own hires (SQLite's HireCountBuffer, PostgreSQL's HireCountTally)
 * shares with the hire_counts triggers: which columns count, and the year and quarter of a stored
 * instant.
 */

/** Positions of datetime, department_id and job_id in a hired_employees row. */
export interface HireCountColumns {
  datetime: number;
  department: number;
  job: number;
}

export function hireCountColumns(table: TableDef): HireCountColumns {
  const at = (name: string): number => table.columns.findIndex((c) => c.name === name);
  return { datetime: at('datetime'), department: at('department_id'), job: at('job_id') };
}

const digit = (text: string, i: number): number => text.charCodeAt(i) - 48;

/**
 * `year * 4 + quarter - 1` of a stored instant (`YYYY-MM-DDTHH:MM:SS.sssZ`, as the ingest
 * normalizes it), read from its digits without parsing: the quarter is `(month + 2) / 3`, as in
 * the triggers. Only a cheap guard on the hot path: text that gives no year 1–9999 (a bug
 * upstream) throws; other malformed text is not detected.
 */
export function quarterIndex(datetime: string): number {
  const year = digit(datetime, 0) * 1000 + digit(datetime, 1) * 100 + digit(datetime, 2) * 10 + digit(datetime, 3);
  const yq = yearQuarter(year, digit(datetime, 5) * 10 + digit(datetime, 6));
  if (!(yq >= 4 && yq < 40_000)) throw new Error(`not a stored instant: ${datetime}`);
  return yq;
}

/** `year * 4 + quarter - 1` of a year and month (1–12): the quarter is `(month + 2) / 3`, as in the triggers. */
export const yearQuarter = (year: number, month: number): number => year * 4 + Math.floor((month + 2) / 3) - 1;

export const yearOf = (yq: number): number => Math.floor(yq / 4);
export const quarterOf = (yq: number): number => (yq % 4) + 1;
