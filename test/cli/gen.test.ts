import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FIRST_YEAR, generateCsv, LAST_YEAR } from '../../src/cli/gen/lines.js';
import { writeGenerated } from '../../src/cli/gen/write.js';
import { CsvRecordReader } from '../../src/ingest/csv-records.js';
import { checkFields } from '../../src/ingest/row-rules.js';
import { TABLES } from '../../src/tables.js';

const text = (rows: number, seed = 1, table: 'hired_employees' | 'departments' | 'jobs' = 'hired_employees') =>
  [...generateCsv({ table, rows, seed })].join('');
const sha = (s: string) => createHash('sha256').update(s).digest('hex');

describe('the data generator', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hr-gen-test-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('is deterministic: the same seed gives the same bytes, another seed other bytes', () => {
    expect(sha(text(5000, 7))).toBe(sha(text(5000, 7)));
    expect(sha(text(5000, 8))).not.toBe(sha(text(5000, 7)));
    // A longer file starts with the shorter one: row n does not depend on the row count.
    expect(text(6000, 7).startsWith(text(5000, 7))).toBe(true);
  });

  it('writes hired_employees in the historical format: ids 1..N, CRLF, valid rows, ~3.5% with one empty field', () => {
    const rows = 20_000;
    const csv = text(rows, 3);
    expect(csv.endsWith('\r\n')).toBe(true);
    expect(csv.replaceAll('\r\n', '').includes('\n')).toBe(false);
    const records = [...new CsvRecordReader().push(csv), ...new CsvRecordReader().end()];
    expect(records).toHaveLength(rows);
    let incomplete = 0;
    const years = new Set<number>();
    const problems: string[] = [];
    records.forEach((r, i) => {
      const check = checkFields(TABLES.hired_employees, r.fields, false);
      if (!check.ok) return problems.push(`line ${r.line}: ${check.reason}`);
      const [id, name, datetime, department, job] = check.values;
      if (r.line !== i + 1 || id !== i + 1) problems.push(`line ${r.line}: id ${String(id)}`);
      if (r.fields.filter((f) => f === '').length !== (check.incomplete ? 1 : 0)) problems.push(`line ${r.line}: empty fields`);
      if (check.incomplete) incomplete++;
      if (name !== null && !/^\S.* \S+$/.test(String(name))) problems.push(`line ${r.line}: name ${String(name)}`);
      if (datetime !== null) {
        // Written as the historical files write it (seconds, Z); stored in the canonical form.
        if (!/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/.test(r.fields[2]!)) problems.push(`line ${r.line}: datetime ${r.fields[2]}`);
        if (String(datetime) !== `${r.fields[2]!.slice(0, 19)}.000Z`) problems.push(`line ${r.line}: stored ${String(datetime)}`);
        years.add(Number(String(datetime).slice(0, 4)));
      }
      if (department !== null && !(Number(department) >= 1 && Number(department) <= 12)) problems.push(`line ${r.line}: department`);
      if (job !== null && !(Number(job) >= 1 && Number(job) <= 183)) problems.push(`line ${r.line}: job`);
      return undefined;
    });
    expect(problems.slice(0, 10)).toEqual([]);
    expect(incomplete / rows).toBeGreaterThan(0.03);
    expect(incomplete / rows).toBeLessThan(0.04);
    expect([...years].sort()).toEqual(Array.from({ length: LAST_YEAR - FIRST_YEAR + 1 }, (_, i) => FIRST_YEAR + i));
  });

  it('writes the 12 departments and 183 jobs of the historical files by default, and numbered copies beyond', () => {
    const departments = text(12, 1, 'departments').split('\r\n').slice(0, -1);
    expect(departments).toHaveLength(12);
    expect(departments[0]).toBe('1,Product Management');
    const jobs = text(183, 1, 'jobs').split('\r\n').slice(0, -1);
    expect(new Set(jobs.map((l) => l.split(',')[1])).size).toBe(183);
    expect(text(14, 1, 'departments').split('\r\n')[12]).toBe('13,Product Management 2');
  });

  it('streams: blocks of bounded size, produced lazily', () => {
    const blocks = generateCsv({ table: 'hired_employees', rows: 10_000_000, seed: 1 });
    let chars = 0;
    for (let i = 0; i < 20; i++) {
      const block = blocks.next();
      expect(block.done).toBe(false);
      expect(block.value.length).toBeLessThan(70 * 1024);
      chars += block.value.length;
    }
    expect(chars).toBeGreaterThan(20 * 60 * 1024);
    blocks.return(undefined);
  });

  it('writes a file with back-pressure and reports its size', async () => {
    const file = join(dir, 'h.csv');
    const { bytes, rows } = await writeGenerated({ table: 'hired_employees', rows: 30_000, seed: 5 }, file);
    const written = readFileSync(file);
    expect(rows).toBe(30_000);
    expect(written.length).toBe(bytes);
    expect(written.toString('utf8')).toBe(text(30_000, 5));
  });
});
