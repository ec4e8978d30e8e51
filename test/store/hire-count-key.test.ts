import { describe, expect, it } from 'vitest';
import { hireCountColumns, quarterIndex, quarterOf, yearOf } from '../../src/store/hire-count-key.js';
import { TABLES } from '../../src/tables.js';

describe('hire count keys', () => {
  it('give the year and quarter of a stored instant, as the triggers compute them', () => {
    for (let month = 1; month <= 12; month++) {
      const yq = quarterIndex(`2021-${String(month).padStart(2, '0')}-15T23:59:59.999Z`);
      expect([yearOf(yq), quarterOf(yq)]).toEqual([2021, Math.floor((month + 2) / 3)]);
    }
    expect([yearOf(quarterIndex('0001-01-01T00:00:00Z')), quarterOf(quarterIndex('9999-12-31T23:59:59Z'))]).toEqual([1, 4]);
  });

  it('refuse what the ingest never stores', () => {
    for (const bad of ['0000-01-01T00:00:00Z', 'not a date', '']) expect(() => quarterIndex(bad)).toThrow(/not a stored instant/);
  });

  it('find the counted columns of hired_employees', () => {
    expect(hireCountColumns(TABLES.hired_employees)).toEqual({ datetime: 2, department: 3, job: 4 });
  });
});
