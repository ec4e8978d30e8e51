// "Departments above the mean": the API's table, and a chart of every department's hires with the
// mean drawn and the departments above it highlighted.
import { nameLabel, type DepartmentHires } from './api.js';
import { clearChart, drawDepartmentChart, type DepartmentBars } from './charts.js';
import { byId, formatNumber, h, say } from './dom.js';

/** The bars: every department's hires (0 included), their mean, and which are above it per the API. */
export function departmentBars(all: DepartmentHires[], above: DepartmentHires[]): DepartmentBars {
  const aboveIds = new Set(above.map((d) => d.id));
  const values = all.map((d) => d.hired);
  const mean = values.length === 0 ? 0 : values.reduce((s, v) => s + v, 0) / values.length;
  return { departments: all.map((d) => nameLabel(d.department)), hires: values, above: all.map((d) => aboveIds.has(d.id)), mean };
}

export function showAboveMean(year: number, above: DepartmentHires[], all: DepartmentHires[]): void {
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
        h('th', { scope: 'row' }, nameLabel(d.department)),
        h('td', { class: 'num' }, formatNumber(d.hired)),
      ),
    ),
  );
  table.hidden = above.length === 0;

  const bars = departmentBars(all, above);
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
    `Bars: every department's hires in ${year}; the dashed line is their mean, ${bars.mean.toFixed(1)}. ` +
    'Highlighted: the departments above it, listed in the table.';
}
