import type { PoolClient } from 'pg';
import type { Row, TableDef } from '../../tables.js';
import { hireCountColumns, quarterIndex, quarterOf, yearOf, type HireCountColumns } from '../hire-count-key.js';

/** Distinct other counts past which the tally should be added to hire_counts, so memory stays bounded. */
const MAX_KEYS = 65_536;
/** department_id below DEPARTMENTS and job_id below JOBS are counted in a dense array per quarter. */
const DEPARTMENTS = 32;
const JOBS = 256;
/** Quarters with a dense array (32 KiB each) past which the tally should be added to hire_counts. */
const MAX_QUARTERS = 64;

/** hired_employees' triggers that keep hire_counts (migrations 003, 004): what a tally stands in for. */
export const HIRE_COUNT_TRIGGERS: readonly string[] = ['hire_counts_after_delete', 'hire_counts_after_insert', 'hire_counts_after_update'];

/**
 * Hires counted in memory by a bulk load whose transaction turned the insert trigger's work off
 * (migration 004), added to hire_counts in one statement. Same rule as the trigger: a row
 * without instant or department is not counted, a missing job counts under 0 (hire-count-key.ts).
 *
 * Small ids count in a dense array per quarter, as SQLite's HireCountBuffer does: a Map keyed by
 * (quarter, department, job) cost a heap number and a hash per row (profiled: 1.1 s of a 1M-row
 * upload's 5.4 s of CPU); an array slot costs an increment.
 */
export class HireCountTally {
  /** (year * 4 + quarter - 1) → hires at [department_id * JOBS + job_id]. */
  private readonly dense = new Map<number, Int32Array>();
  /** Other ids: `yq|department|job` → hires. */
  private readonly sparse = new Map<string, number>();
  private readonly columns: HireCountColumns;

  constructor(table: TableDef) {
    this.columns = hireCountColumns(table);
  }

  /** Whether the tally holds as much as it should before it is flushed. */
  get full(): boolean {
    return this.dense.size >= MAX_QUARTERS || this.sparse.size >= MAX_KEYS;
  }

  count(values: Row): void {
    const datetime = values[this.columns.datetime];
    const department = values[this.columns.department];
    if (typeof datetime !== 'string' || typeof department !== 'number') return;
    this.countHire(quarterIndex(datetime), department, (values[this.columns.job] ?? 0) as number);
  }

  /** Writes a row's (quarter, department, job) at `hires[3 * i]`, as CopyRows.hires holds them. */
  key(values: Row, hires: Float64Array, i: number): void {
    const datetime = values[this.columns.datetime];
    const department = values[this.columns.department];
    const counted = typeof datetime === 'string' && typeof department === 'number';
    hires[3 * i] = counted ? quarterIndex(datetime) : -1;
    hires[3 * i + 1] = counted ? department : -1;
    hires[3 * i + 2] = (values[this.columns.job] ?? 0) as number;
  }

  /** Counts the first `count` rows of CopyRows.hires. */
  countAll(hires: Float64Array, count: number): void {
    for (let i = 0; i < count; i++) {
      const yq = hires[3 * i]!;
      if (yq >= 0) this.countHire(yq, hires[3 * i + 1]!, hires[3 * i + 2]!);
    }
  }

  /**
   * Counts a row given as numbers, NaN for NULL (avro-copy.ts): `yq` its instant's quarter
   * (hire-count-key.ts), by the same rule as count.
   */
  countNumbers(yq: number, department: number, job: number): void {
    if (!Number.isNaN(yq) && !Number.isNaN(department)) this.countHire(yq, department, Number.isNaN(job) ? 0 : job);
  }

  private countHire(yq: number, department: number, job: number): void {
    if (department < DEPARTMENTS && job < JOBS) {
      let hires = this.dense.get(yq);
      if (hires === undefined) this.dense.set(yq, (hires = new Int32Array(DEPARTMENTS * JOBS)));
      hires[department * JOBS + job]!++;
      return;
    }
    const key = `${yq}|${department}|${job}`;
    this.sparse.set(key, (this.sparse.get(key) ?? 0) + 1);
  }

  /** Adds another tally's counts to this one. */
  absorb(other: HireCountTally): void {
    for (const [yq, theirs] of other.dense) {
      const ours = this.dense.get(yq);
      if (ours === undefined) this.dense.set(yq, theirs.slice());
      else for (let i = 0; i < ours.length; i++) ours[i]! += theirs[i]!;
    }
    for (const [key, hires] of other.sparse) this.sparse.set(key, (this.sparse.get(key) ?? 0) + hires);
  }

  /** Adds the counts to hire_counts in one statement (in key order, as the trigger) and empties the tally. */
  async flush(client: PoolClient): Promise<void> {
    const years: number[] = [];
    const quarters: number[] = [];
    const departments: number[] = [];
    const jobs: number[] = [];
    const hires: number[] = [];
    const add = (yq: number, department: number, job: number, n: number): void => {
      years.push(yearOf(yq));
      quarters.push(quarterOf(yq));
      departments.push(department);
      jobs.push(job);
      hires.push(n);
    };
    for (const [yq, counts] of this.dense) {
      for (let i = 0; i < counts.length; i++) if (counts[i] !== 0) add(yq, Math.floor(i / JOBS), i % JOBS, counts[i]!);
    }
    for (const [key, n] of this.sparse) {
      const [yq, department, job] = key.split('|').map(Number) as [number, number, number];
      add(yq, department, job, n);
    }
    this.dense.clear();
    this.sparse.clear();
    if (years.length === 0) return;
    await client.query(
      `INSERT INTO hire_counts AS c (year, quarter, department_id, job_id, hires)
       SELECT * FROM unnest($1::int[], $2::int[], $3::bigint[], $4::bigint[], $5::bigint[])
       ORDER BY 1, 2, 3, 4
       ON CONFLICT (year, quarter, department_id, job_id) DO UPDATE SET hires = c.hires + EXCLUDED.hires`,
      // Array literals written here: integers need no quoting, and node-pg's own conversion of
      // ~50,000 elements per array (escaping each) took a third of a 1M-row load's flush.
      [years, quarters, departments, jobs, hires].map((values) => `{${values.join(',')}}`),
    );
  }
}
