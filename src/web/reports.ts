// The "Reports" section: the year picker, then both reports for the year picked.
import { showAboveMean } from './above-mean.js';
import { getAboveMean, getDepartmentHires, getQuarterReport, getYears, reportCsvUrl, tableList } from './api.js';
import { byId, h, say } from './dom.js';
import { setupQuarters, showQuarters } from './quarters.js';

/**
 * The reports' default year (the `year` default of `/metrics/*`, src/routes/metrics.ts): the page
 * opens on it when it has hires, as the API answers without a year. test/web checks they agree.
 */
export const DEFAULT_YEAR = 2021;

let generation = 0;

export function setupReports(): void {
  setupQuarters();
  const select = byId('year', HTMLSelectElement);
  select.addEventListener('change', () => void loadYear(Number(select.value)));
}

/**
 * Reads the years with hires and shows a year's reports: the one picked if it is still there, else
 * the default year if it has hires, else the latest.
 */
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
    say(status, `No hires yet: load ${tableList('and', '.csv')} above to see the reports.`);
    section.setAttribute('aria-busy', 'false');
    return;
  }
  const year = [previous, DEFAULT_YEAR].find((y) => years.includes(y)) ?? Math.max(...years);
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
