// "Departments above the mean": the API's table, and a chart of every department's hires with the
// mean drawn and the departments above it highlighted.
import type { DepartmentHires, QuarterRow } from './api.js';
import { clearChart, drawDepartmentChart, type DepartmentBars } from './charts.js';
import { byId, formatNumber, h, say } from './dom.js';

/**
 * The bars. The API lists only the departments above the mean, so every department's hires come
 * from the quarterly report (summed over jobs and quarters); that report leaves out hires without
 * a job, which the above-mean report counts. A department the API lists that has no hire with a
 * job still gets its bar, with the API's count.
 */
export function departmentBars(quarters: QuarterRow[], above: DepartmentHires[]): DepartmentBars {
  const hires = new Map<string, number>();
  for (const r of quarters) hires.set(r.department, (hires.get(r.department) ?? 0) + r.Q1 + r.Q2 + r.Q3 + r.Q4);
  for (const d of above) if (!hires.has(d.department)) hires.set(d.department, d.hired);
  const aboveNames = new Set(above.map((d) => d.department));
  // Most hires first, as the API orders its table.
  const departments = [...hires.keys()].sort((a, b) => hires.get(b)! - hires.get(a)! || a.localeCompare(b));
  const values = departments.map((d) => hires.get(d)!);
  const mean = values.length === 0 ? 0 : values.reduce((s, v) => s + v, 0) / values.length;
  return { departments, hires: values, above: departments.map((d) => aboveNames.has(d)), mean };
}

export function showAboveMean(year: number, above: DepartmentHires[], quarters: QuarterRow[]): void {
  const status = byId('above-mean-status', HTMLParagraphElement);
  const table = byId('above-mean-table', HTMLTableElement);
  const note = byId('above-mean-note', HTMLParagraphElement);
  const canvas = byId('above-mean-chart', HTMLCanvasElement);
  const box = byId('above-mean-chart-box', HTMLDivElement);

  byId('above-mean-caption', HTMLTableCaptionElement).textContent =
    `Departments that hired more in ${year} than the mean of all departments (a department without hires counts as 0)`;
  table.tBodies[0]!.replaceChildren(
    ...above.map((d) =>
      h(
        'tr',
        { 'data-id': d.id },
        h('td', { class: 'num' }, d.id),
        h('th', { scope: 'row' }, d.department),
        h('td', { class: 'num' }, formatNumber(d.hired)),
      ),
    ),
  );
  table.hidden = above.length === 0;

  const bars = departmentBars(quarters, above);
  box.hidden = bars.departments.length === 0;
  if (bars.departments.length === 0) {
    clearChart(canvas);
    note.textContent = '';
    say(status, `No department hired anyone in ${year}.`);
    return;
  }
  say(status, above.length === 0 ? `No department hired more than the mean in ${year}.` : '');
  drawDepartmentChart(canvas, bars);
  const highlighted = bars.above.filter(Boolean).length;
  canvas.setAttribute(
    'aria-label',
    `Bar chart: hires of ${bars.departments.length} departments in ${year}, mean ${bars.mean.toFixed(1)}, ${highlighted} above it; the table below lists them.`,
  );
  note.textContent =
    `Bars: each department's hires in ${year} that have a job (the quarterly report, summed); the dashed line is their mean, ` +
    `${bars.mean.toFixed(1)}. Highlighted: the departments the API finds above the mean of all departments. The table counts ` +
    'hires without a job too, so its numbers can be a little higher than the bars.';
}
