import { readFileSync } from 'node:fs';
import type { Dialect, ReportRow, Store } from '../store/store.js';

export interface ReportDef {
  /** Base name of its `.sql` files: `sql/<name>.<dialect>.sql`. */
  name: string;
  /** Output columns, in order (the CSV header). */
  columns: readonly string[];
}

export const REPORTS = {
  hiredEmployees: { name: 'hired-employees', columns: ['department', 'job', 'Q1', 'Q2', 'Q3', 'Q4'] },
  departmentsAboveMean: { name: 'departments-above-mean', columns: ['id', 'department', 'hired'] },
  departmentHires: { name: 'department-hires', columns: ['id', 'department', 'hired'] },
  years: { name: 'years', columns: ['year'] },
} as const satisfies Record<string, ReportDef>;

const cache = new Map<string, string>();

/** The report's SQL for a dialect, read once from its `.sql` file. */
export function reportSql(report: ReportDef, dialect: Dialect): string {
  const key = `${report.name}.${dialect}`;
  let sql = cache.get(key);
  if (sql === undefined) {
    sql = readFileSync(new URL(`./sql/${key}.sql`, import.meta.url), 'utf8');
    cache.set(key, sql);
  }
  return sql;
}

export function runReport(store: Store, report: ReportDef, params: readonly (string | number)[]): Promise<ReportRow[]> {
  return store.query(reportSql(report, store.dialect), params);
}
