// "Hires by department and job, per quarter": a sortable, filterable table and the stacked chart
// of the rows the filters keep.
import { nameLabel, type QuarterRow } from './api.js';
import { clearChart, drawQuarterChart } from './charts.js';
import { byId, formatNumber, h } from './dom.js';

type Key = 'department' | 'job' | 'Q1' | 'Q2' | 'Q3' | 'Q4' | 'total';
const COLUMNS: { key: Key; label: string; numeric: boolean }[] = [
  { key: 'department', label: 'Department', numeric: false },
  { key: 'job', label: 'Job', numeric: false },
  { key: 'Q1', label: 'Q1', numeric: true },
  { key: 'Q2', label: 'Q2', numeric: true },
  { key: 'Q3', label: 'Q3', numeric: true },
  { key: 'Q4', label: 'Q4', numeric: true },
  { key: 'total', label: 'Total', numeric: true },
];
const QUARTERS = ['Q1', 'Q2', 'Q3', 'Q4'] as const;

// The rows as shown: a missing name is its label, so the filters, sorting and bars treat it as text.
type ShownRow = Omit<QuarterRow, 'department' | 'job'> & { department: string; job: string };

const total = (r: ShownRow): number => r.Q1 + r.Q2 + r.Q3 + r.Q4;
const value = (r: ShownRow, key: Key): string | number => (key === 'total' ? total(r) : r[key]);
const text = new Intl.Collator('en', { sensitivity: 'base', numeric: true });

let rows: ShownRow[] = [];
let sort: { key: Key; descending: boolean } = { key: 'department', descending: false };

export function setupQuarters(): void {
  const head = byId('quarters-table', HTMLTableElement).tHead!.rows[0]!;
  head.replaceChildren(
    ...COLUMNS.map((c) => {
      const button = h(
        'button',
        { type: 'button', class: 'sort', 'data-key': c.key },
        c.label,
        h('span', { class: 'arrow', 'aria-hidden': 'true' }),
      );
      button.addEventListener('click', () => {
        // A new column sorts text A→Z and numbers high→low first; the same column flips.
        sort = sort.key === c.key ? { key: c.key, descending: !sort.descending } : { key: c.key, descending: c.numeric };
        render();
      });
      return h('th', { scope: 'col', class: c.numeric ? 'num' : '' }, button);
    }),
  );
  byId('filter-department', HTMLSelectElement).addEventListener('change', render);
  byId('filter-job', HTMLInputElement).addEventListener('input', render);
}

/** Shows a year's report: the filters keep their values when they still make sense. */
export function showQuarters(report: QuarterRow[]): void {
  rows = report.map((r) => ({ ...r, department: nameLabel(r.department), job: nameLabel(r.job) }));
  const select = byId('filter-department', HTMLSelectElement);
  const previous = select.value;
  const departments = [...new Set(rows.map((r) => r.department))].sort(text.compare);
  select.replaceChildren(h('option', { value: '' }, 'All departments'), ...departments.map((d) => h('option', { value: d }, d)));
  select.value = departments.includes(previous) ? previous : '';
  render();
}

function render(): void {
  const department = byId('filter-department', HTMLSelectElement).value;
  const job = byId('filter-job', HTMLInputElement).value.trim().toLowerCase();
  const kept = rows.filter((r) => (department === '' || r.department === department) && (job === '' || r.job.toLowerCase().includes(job)));
  const sign = sort.descending ? -1 : 1;
  const compare = (a: ShownRow, b: ShownRow): number => {
    const x = value(a, sort.key);
    const y = value(b, sort.key);
    const primary = typeof x === 'number' && typeof y === 'number' ? x - y : text.compare(String(x), String(y));
    return sign * primary || text.compare(a.department, b.department) || text.compare(a.job, b.job);
  };
  kept.sort(compare);

  const table = byId('quarters-table', HTMLTableElement);
  for (const th of Array.from(table.tHead!.rows[0]!.cells)) {
    const key = th.querySelector('button')?.dataset.key;
    if (key === sort.key) th.setAttribute('aria-sort', sort.descending ? 'descending' : 'ascending');
    else th.removeAttribute('aria-sort');
  }
  table.tBodies[0]!.replaceChildren(
    ...kept.map((r) =>
      h(
        'tr',
        {},
        ...COLUMNS.map((c) =>
          h(
            c.key === 'department' ? 'th' : 'td',
            { class: c.numeric ? 'num' : '', scope: c.key === 'department' ? 'row' : undefined },
            value(r, c.key),
          ),
        ),
      ),
    ),
  );
  const hires = kept.reduce((s, r) => s + total(r), 0);
  byId('quarters-count', HTMLParagraphElement).textContent =
    kept.length === rows.length
      ? `${formatNumber(rows.length)} department–job pairs, ${formatNumber(hires)} hires.`
      : `Showing ${formatNumber(kept.length)} of ${formatNumber(rows.length)} department–job pairs, ${formatNumber(hires)} hires.`;

  // One bar per department, summed over the jobs kept, in department order.
  const byDepartment = new Map<string, number[]>();
  for (const r of kept) {
    const sums = byDepartment.get(r.department) ?? [0, 0, 0, 0];
    QUARTERS.forEach((q, i) => (sums[i]! += r[q]));
    byDepartment.set(r.department, sums);
  }
  const departments = [...byDepartment.keys()].sort(text.compare);
  const canvas = byId('quarters-chart', HTMLCanvasElement);
  byId('quarters-chart-box', HTMLDivElement).hidden = departments.length === 0;
  const quarter = (i: number) => departments.map((d) => byDepartment.get(d)![i]!);
  if (departments.length === 0) clearChart(canvas);
  else drawQuarterChart(canvas, { departments, quarters: [quarter(0), quarter(1), quarter(2), quarter(3)] });
  canvas.setAttribute(
    'aria-label',
    `Stacked bar chart: hires per quarter for ${departments.length} department${departments.length === 1 ? '' : 's'}; the table below has the numbers.`,
  );
}
