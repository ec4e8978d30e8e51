// The "Reports" section: the year picker, then both reports for the year picked.
import { showAboveMean } from './above-mean.js';
import { getAboveMean, getDepartmentHires, getQuarterReport, getYears, reportCsvUrl } from './api.js';
import { byId, h, say } from './dom.js';
import { setupQuarters, showQuarters } from './quarters.js';

let generation = 0;

export function setupReports(): void {
  setupQuarters();
  const select = byId('year', HTMLSelectElement);
  select.addEventListener('change', () => void loadYear(Number(select.value)));
}

/** Reads the years with hires, keeps the year picked if it is still there, and shows its reports. */
export async function refreshReports(): Promise<void> {
  const section = byId('reports', HTMLElement);
  const status = byId('reports-status', HTMLParagraphElement);
  const select = byId('year', HTMLSelectElement);
  const body = byId('report-body', HTMLDivElement);
  section.setAttribute('aria-busy', 'true');
  let years: number[];
  try {
    years = (await getYears()).years;
  } catch (error) {
    say(status, `The years could not be read: ${(error as Error).message}`, 'error');
    section.setAttribute('aria-busy', 'false');
    return;
  }
  const previous = Number(select.value);
  select.replaceChildren(...years.map((y) => h('option', { value: y }, y)));
  select.disabled = years.length === 0;
  byId('year-field', HTMLDivElement).hidden = years.length === 0;
  if (years.length === 0) {
    generation++;
    body.hidden = true;
    say(status, 'No hires yet: load departments.csv, jobs.csv and hired_employees.csv above to see the reports.');
    section.setAttribute('aria-busy', 'false');
    return;
  }
  const year = years.includes(previous) ? previous : years[0]!;
  select.value = String(year);
  await loadYear(year);
}

async function loadYear(year: number): Promise<void> {
  // A slower answer for a year picked earlier must not overwrite the current one.
  const mine = ++generation;
  const section = byId('reports', HTMLElement);
  section.setAttribute('aria-busy', 'true');
  byId('quarters-csv', HTMLAnchorElement).href = reportCsvUrl('hired-employees', year);
  byId('above-mean-csv', HTMLAnchorElement).href = reportCsvUrl('departments-above-mean', year);
  const [quarters, above, all] = await Promise.allSettled([getQuarterReport(year), getAboveMean(year), getDepartmentHires(year)]);
  if (mine !== generation) return;

  say(byId('reports-status', HTMLParagraphElement), '');
  byId('report-body', HTMLDivElement).hidden = false;
  const quartersStatus = byId('quarters-status', HTMLParagraphElement);
  const content = byId('quarters-content', HTMLDivElement);
  if (quarters.status === 'rejected') {
    say(quartersStatus, `This report could not be read: ${(quarters.reason as Error).message}`, 'error');
    content.hidden = true;
  } else if (quarters.value.length === 0) {
    say(quartersStatus, `No hire in ${year} has both a department and a job.`);
    content.hidden = true;
  } else {
    say(quartersStatus, '');
    content.hidden = false;
    showQuarters(quarters.value);
  }
  if (above.status === 'rejected' || all.status === 'rejected') {
    const reason = (above.status === 'rejected' ? above.reason : (all as PromiseRejectedResult).reason) as Error;
    say(byId('above-mean-status', HTMLParagraphElement), `This report could not be read: ${reason.message}`, 'error');
  } else {
    showAboveMean(year, above.value, all.value);
  }
  section.setAttribute('aria-busy', 'false');
}
