import { Readable } from 'node:stream';

/**
 * A hired_employees file of `rows` rows made on the fly (never whole in memory): ids 1..rows,
 * CRLF, datetimes over 2020–2023, every 29th row with an empty job_id.
 */
export function employeesStream(rows: number, rowsPerChunk = 2000): Readable {
  let id = 0;
  return new Readable({
    read() {
      if (id >= rows) return void this.push(null);
      let text = '';
      const end = Math.min(rows, id + rowsPerChunk);
      while (id < end) {
        id++;
        const year = 2020 + (id % 4);
        const month = String(1 + (id % 12)).padStart(2, '0');
        const day = String(1 + (id % 28)).padStart(2, '0');
        const job = id % 29 === 0 ? '' : String(1 + (id % 183));
        text += `${id},Employee ${id},${year}-${month}-${day}T${String(id % 24).padStart(2, '0')}:00:00Z,${1 + (id % 12)},${job}\r\n`;
      }
      this.push(text);
    },
  });
}

/** The expected hires per year of employeesStream(rows), computed from its formula. */
export function employeesPerYear(rows: number): Map<number, number> {
  const years = new Map<number, number>();
  for (let id = 1; id <= rows; id++) years.set(2020 + (id % 4), (years.get(2020 + (id % 4)) ?? 0) + 1);
  return years;
}
