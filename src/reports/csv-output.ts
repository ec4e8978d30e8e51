/** Writes rows as RFC 4180 CSV with a header row. */

const NEEDS_QUOTES = /[",\r\n]/;
const FORMULA_START = /^[=+\-@\t\r]/;

export interface CsvOutputOptions {
  /** Prefix cells that a spreadsheet would run as a formula with `'` (OWASP's advice). */
  spreadsheetSafe?: boolean;
}

export function csvCell(value: unknown, options: CsvOutputOptions = {}): string {
  if (value === null || value === undefined) return '';
  let text = String(value);
  if (options.spreadsheetSafe && typeof value === 'string' && FORMULA_START.test(text)) text = `'${text}`;
  return NEEDS_QUOTES.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

export const csvLine = (values: readonly unknown[], options: CsvOutputOptions = {}): string =>
  `${values.map((v) => csvCell(v, options)).join(',')}\r\n`;

export function toCsv(columns: readonly string[], rows: readonly Record<string, unknown>[], options: CsvOutputOptions = {}): string {
  return (
    csvLine(columns) +
    rows
      .map((row) =>
        csvLine(
          columns.map((c) => row[c]),
          options,
        ),
      )
      .join('')
  );
}
