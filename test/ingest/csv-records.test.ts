import { describe, expect, it } from 'vitest';
import { CsvRecordReader, CsvSyntaxError, type CsvRecord } from '../../src/ingest/csv-records.js';

/** Reads a whole text, split into pieces of `size` characters to exercise every chunk boundary. */
function read(text: string, size = text.length || 1, max?: number): CsvRecord[] {
  const reader = new CsvRecordReader(max);
  const out: CsvRecord[] = [];
  for (let i = 0; i < text.length; i += size) out.push(...reader.push(text.slice(i, i + size)));
  out.push(...reader.end());
  return out;
}

// Expected records written by hand from RFC 4180 (and Python's csv module for the lenient cases).
const CASES: { name: string; text: string; records: [number, string[], string][] }[] = [
  {
    name: 'LF',
    text: '1,a\n2,b\n',
    records: [
      [1, ['1', 'a'], '1,a'],
      [2, ['2', 'b'], '2,b'],
    ],
  },
  {
    name: 'CRLF without a final newline',
    text: '1,a\r\n2,b',
    records: [
      [1, ['1', 'a'], '1,a'],
      [2, ['2', 'b'], '2,b'],
    ],
  },
  {
    name: 'blank lines',
    text: '\n\r\n1,a\n\n\n2,b\r\n\r\n',
    records: [
      [3, ['1', 'a'], '1,a'],
      [6, ['2', 'b'], '2,b'],
    ],
  },
  {
    name: 'quoted delimiters, quotes and newlines',
    text: '1,"a,b"\r\n2,"say ""hi"""\r\n3,"x\r\ny\nz"\r\n4,end\r\n',
    records: [
      [1, ['1', 'a,b'], '1,"a,b"'],
      [2, ['2', 'say "hi"'], '2,"say ""hi"""'],
      [3, ['3', 'x\r\ny\nz'], '3,"x\r\ny\nz"'],
      [6, ['4', 'end'], '4,end'],
    ],
  },
  {
    name: 'empty fields',
    text: ',,\n1,,',
    records: [
      [1, ['', '', ''], ',,'],
      [2, ['1', '', ''], '1,,'],
    ],
  },
  { name: 'a quote inside an unquoted field is literal', text: 'a"b,c\n', records: [[1, ['a"b', 'c'], 'a"b,c']] },
  { name: 'text after a closing quote is kept', text: '"a"b,c\n', records: [[1, ['ab', 'c'], '"a"b,c']] },
  {
    name: 'a lone CR ends a line',
    text: '1,a\r2,b\r',
    records: [
      [1, ['1', 'a'], '1,a'],
      [2, ['2', 'b'], '2,b'],
    ],
  },
  { name: 'an empty quoted field', text: '1,""\n', records: [[1, ['1', ''], '1,""']] },
];

describe('CsvRecordReader', () => {
  for (const c of CASES) {
    it(`reads ${c.name}, whatever the chunk size`, () => {
      for (const size of [1, 2, 3, 5, 1000]) {
        const records = read(c.text, size).map((r) => [r.line, r.fields, r.raw]);
        expect(records, `chunk size ${size}`).toEqual(c.records);
      }
    });
  }

  it('throws a syntax error with the start line of a quoted field that is never closed', () => {
    expect(() => read('1,a\n2,b\n3,"open\n4,d\n')).toThrowError(CsvSyntaxError);
    try {
      read('1,a\n\n3,"open\n4,d\n', 2);
    } catch (error) {
      expect((error as CsvSyntaxError).line).toBe(3);
    }
  });

  it('refuses a record longer than the limit, complete or not', () => {
    expect(() => read(`1,${'x'.repeat(100)}\n`, 1000, 50)).toThrowError(/longer than 50 bytes/);
    expect(() => read(`1,${'x'.repeat(100)}`, 7, 50)).toThrowError(/line 1: record longer than 50/);
  });
});
