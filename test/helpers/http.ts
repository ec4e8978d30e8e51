import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const BOUNDARY = '----hr-test-boundary-7MA4YWxkTrZu0gW';

/** A multipart/form-data body with one file part (field `file` unless told otherwise). */
export function multipart(content: string | Buffer, options: { field?: string; filename?: string } = {}) {
  const head = `--${BOUNDARY}\r\nContent-Disposition: form-data; name="${options.field ?? 'file'}"; filename="${options.filename ?? 'data.csv'}"\r\nContent-Type: text/csv\r\n\r\n`;
  const payload = Buffer.concat([
    Buffer.from(head),
    Buffer.isBuffer(content) ? content : Buffer.from(content),
    Buffer.from(`\r\n--${BOUNDARY}--\r\n`),
  ]);
  return { payload, headers: { 'content-type': `multipart/form-data; boundary=${BOUNDARY}` } };
}

export const historical = (name: 'departments' | 'jobs' | 'hired_employees'): Buffer =>
  readFileSync(fileURLToPath(new URL(`../../data/historical/${name}.csv`, import.meta.url)));

export interface ExpectedReports {
  counts: { departments: number; jobs: number; hired_employees: number; incomplete: number };
  hired_employees_2021: Record<string, string | number>[];
  hired_employees_2022: Record<string, string | number>[];
  departments_above_mean_2021: Record<string, string | number>[];
  departments_above_mean_2022: Record<string, string | number>[];
  department_hires_2021: Record<string, string | number>[];
  department_hires_2022: Record<string, string | number>[];
}

/** Answers computed by test/fixtures/expected_reports.py (Python's csv module, not our code). */
export const expectedReports = (): ExpectedReports =>
  JSON.parse(readFileSync(fileURLToPath(new URL('../fixtures/expected-reports.json', import.meta.url)), 'utf8')) as ExpectedReports;
