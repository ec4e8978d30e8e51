import type { TableName } from '../../tables.js';
import { Random } from './random.js';
import { DEPARTMENTS, FIRST_NAMES, JOBS, LAST_NAMES } from './words.js';

/** Every table of the dictionary has a generator: a table added there fails to compile here until it has one. */
export type GenTable = TableName;

export interface GenOptions {
  table: GenTable;
  /** Rows to write; ids are 1..rows. */
  rows: number;
  seed: number;
}

/** Share of hired_employees rows with one empty field (70 of 1,999 in the historical file). */
export const INCOMPLETE_SHARE = 0.035;
/** Hire instants are spread uniformly over these years (UTC). */
export const FIRST_YEAR = 2018;
export const LAST_YEAR = 2023;
/** Characters per yielded block: big enough for fast writes, small enough to stay flat. */
const BLOCK_CHARS = 64 * 1024;

const FROM_MS = Date.UTC(FIRST_YEAR, 0, 1);
const SPAN_S = (Date.UTC(LAST_YEAR + 1, 0, 1) - FROM_MS) / 1000;

/** Rows a table has when no count is given: the historical files' 12 departments and 183 jobs. */
export const defaultRows = (table: GenTable): number | undefined =>
  table === 'departments' ? DEPARTMENTS.length : table === 'jobs' ? JOBS.length : undefined;

/**
 * The lines of a generated CSV file in the historical format (no header, CRLF), yielded in blocks
 * of about 64 KiB so that any number of rows takes the same memory. Deterministic: the same
 * options give the same bytes.
 */
export function* generateCsv(options: GenOptions): Generator<string> {
  const random = new Random(options.seed);
  const line = options.table === 'hired_employees' ? (id: number) => employeeLine(random, id) : namedLine(options.table);
  let block = '';
  for (let id = 1; id <= options.rows; id++) {
    block += line(id);
    if (block.length >= BLOCK_CHARS) {
      yield block;
      block = '';
    }
  }
  if (block !== '') yield block;
}

function employeeLine(random: Random, id: number): string {
  const fields = [
    `${random.pick(FIRST_NAMES)} ${random.pick(LAST_NAMES)}`,
    `${new Date(FROM_MS + Math.floor(random.next() * SPAN_S) * 1000).toISOString().slice(0, 19)}Z`,
    String(random.int(1, DEPARTMENTS.length)),
    String(random.int(1, JOBS.length)),
  ];
  if (random.next() < INCOMPLETE_SHARE) fields[random.int(0, 3)] = '';
  return `${id},${fields.join(',')}\r\n`;
}

/** departments and jobs: the listed names, then numbered copies past the end of the list. */
function namedLine(table: 'departments' | 'jobs'): (id: number) => string {
  const names = table === 'departments' ? DEPARTMENTS : JOBS;
  return (id) => {
    const round = Math.floor((id - 1) / names.length);
    return `${id},${names[(id - 1) % names.length]!}${round === 0 ? '' : ` ${round + 1}`}\r\n`;
  };
}
