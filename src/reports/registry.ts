import { readFileSync } from 'node:fs';
import type { TObject } from 'typebox';
import type { Dialect, ReportRow, Store } from '../store/store.js';
import { DepartmentHiresSchema, QuarterRowSchema, YearRowSchema } from './report-rows.js';

export interface ReportDef {
  /** Base name of its `.sql` files (`sql/<name>.<dialect>.sql`), and of its route. */
  readonly name: string;
  /** One output row; its properties, in order, are the CSV header. */
  readonly row: TObject;
}

/** A report of one year, served at `GET /metrics/<name>?year=` as JSON or CSV. */
export interface YearReportDef extends ReportDef {
  /** The route's summary in the OpenAPI document. */
  readonly summary: string;
}

export const REPORTS = {
  hiredEmployees: {
    name: 'hired-employees',
    summary: 'Hires per department and job in a year, by quarter (UTC); ordered by department, then job',
    row: QuarterRowSchema,
  },
  departmentsAboveMean: {
    name: 'departments-above-mean',
    summary: 'Departments that hired more than the mean of all departments in a year; by hires, descending',
    row: DepartmentHiresSchema,
  },
  departmentHires: {
    name: 'department-hires',
    summary: "Every department's hires in a year, 0 included (what departments-above-mean compares with the mean)",
    row: DepartmentHiresSchema,
  },
  years: { name: 'years', row: YearRowSchema },
} as const satisfies Record<string, ReportDef | YearReportDef>;

/** The reports of one year, in the order of their routes (and of the OpenAPI document). */
export const YEAR_REPORTS: readonly YearReportDef[] = [REPORTS.hiredEmployees, REPORTS.departmentsAboveMean, REPORTS.departmentHires];

/** The CSV header of a report. */
export const reportColumns = (report: ReportDef): string[] => Object.keys(report.row.properties);

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
