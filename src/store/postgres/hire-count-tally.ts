import type { PoolClient } from 'pg';
import type { Row, TableDef } from '../../tables.js';
import { hireCountColumns, quarterIndex, quarterOf, yearOf, type HireCountColumns } from '../hire-count-key.js';

/** Distinct counts past which the tally is added to hire_counts early, so memory stays bounded. */
export const MAX_KEYS = 65_536;

/** Ids below this make a numeric key (year·quarter, department, job); others a string one. */
const SMALL = 65_536;

/**
 * Hires counted in memory by a bulk load whose transaction turned the insert trigger's work off
 * (migration 004), added to hire_counts in one statement. Same rule as the trigger: a row
 * without instant or department is not counted, a missing job counts under 0 (hire-count-key.ts).
 */
export class HireCountTally {
  private readonly counts = new Map<number | string, number>();
  private readonly columns: HireCountColumns;

  constructor(table: TableDef) {
    this.columns = hireCountColumns(table);
  }

  get size(): number {
    return this.counts.size;
  }

  count(values: Row): void {
    const datetime = values[this.columns.datetime];
    const department = values[this.columns.department];
    if (typeof datetime !== 'string' || typeof department !== 'number') return;
    const job = (values[this.columns.job] ?? 0) as number;
    const yq = quarterIndex(datetime);
    const key = department < SMALL && job < SMALL ? (yq * SMALL + department) * SMALL + job : `${yq}|${department}|${job}`;
    this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
  }

  /** Adds another tally's counts to this one. */
  absorb(other: HireCountTally): void {
    for (const [key, hires] of other.counts) this.counts.set(key, (this.counts.get(key) ?? 0) + hires);
  }

  /** Adds the counts to hire_counts in one statement (in key order, as the trigger) and empties the tally. */
  async flush(client: PoolClient): Promise<void> {
    if (this.counts.size === 0) return;
    const years: number[] = [];
    const quarters: number[] = [];
    const departments: number[] = [];
    const jobs: number[] = [];
    const hires: number[] = [];
    for (const [key, n] of this.counts) {
      let yq: number;
      let department: number;
      let job: number;
      if (typeof key === 'number') {
        job = key % SMALL;
        department = Math.floor(key / SMALL) % SMALL;
        yq = Math.floor(key / SMALL / SMALL);
      } else {
        [yq, department, job] = key.split('|').map(Number) as [number, number, number];
      }
      years.push(yearOf(yq));
      quarters.push(quarterOf(yq));
      departments.push(department);
      jobs.push(job);
      hires.push(n);
    }
    await client.query(
      `INSERT INTO hire_counts AS c (year, quarter, department_id, job_id, hires)
       SELECT * FROM unnest($1::int[], $2::int[], $3::bigint[], $4::bigint[], $5::bigint[])
       ORDER BY 1, 2, 3, 4
       ON CONFLICT (year, quarter, department_id, job_id) DO UPDATE SET hires = c.hires + EXCLUDED.hires`,
      [years, quarters, departments, jobs, hires],
    );
    this.counts.clear();
  }
}
