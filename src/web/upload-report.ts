// The report of one upload, as a card under the upload form.
import { downloadFile, rejectsCsvUrl, type UploadReport } from './api.js';
import { formatNumber, h } from './dom.js';

export function errorCard(fileName: string, message: string): HTMLElement {
  return h(
    'article',
    { class: 'report failed', 'data-file': fileName },
    h('h3', {}, fileName, ' ', h('span', { class: 'badge bad' }, 'failed')),
    h('p', { class: 'status', 'data-kind': 'error', role: 'alert' }, message),
  );
}

/** An upload's report: its counts, then its rejected lines with their reasons and the link to download them. */
export function reportCard(fileName: string, report: UploadReport, apiKey: string): HTMLElement {
  const count = (label: string, value: number, kind = '') =>
    h('div', { class: `count ${kind}`.trim() }, h('dt', {}, label), h('dd', {}, formatNumber(value)));
  const card = h(
    'article',
    { class: 'report', 'data-file': fileName, 'data-upload-id': report.upload_id },
    h(
      'h3',
      {},
      `${fileName} → ${report.table}`,
      ' ',
      h(
        'span',
        { class: `badge ${report.status === 'committed' || report.status === 'dry_run' ? 'ok' : 'bad'}` },
        report.status.replace('_', ' '),
      ),
    ),
    h(
      'dl',
      { class: 'counts' },
      count('Received', report.received),
      count(report.dry_run ? 'Would insert' : 'Inserted', report.inserted),
      report.updated > 0 ? count('Updated', report.updated) : null,
      count('Incomplete', report.incomplete, report.incomplete > 0 ? 'warn' : ''),
      count('Rejected', report.rejected, report.rejected > 0 ? 'bad' : ''),
    ),
  );
  if (report.rejected === 0) {
    card.append(h('p', { class: 'hint' }, `No line was rejected · ${formatNumber(report.elapsed_ms)} ms`));
    return card;
  }
  const shown = report.errors.length;
  const link = h(
    'a',
    { href: rejectsCsvUrl(report.upload_id), download: `${report.table}-rejects.csv`, class: 'rejects-link' },
    'Download the rejected lines (CSV) to fix and upload again',
  );
  // The rejected lines need the key when the server has one: fetched with it, not followed.
  link.addEventListener('click', (event) => {
    event.preventDefault();
    downloadFile(rejectsCsvUrl(report.upload_id), `${report.table}-rejects.csv`, apiKey).catch((error: unknown) => {
      link.textContent = `The rejected lines could not be downloaded: ${error instanceof Error ? error.message : String(error)}`;
    });
  });
  card.append(
    h(
      'p',
      {},
      shown < report.rejected ? `The first ${shown} of ${formatNumber(report.rejected)} rejected lines:` : 'Rejected lines:',
      ' ',
      link,
    ),
    h(
      'div',
      { class: 'table-scroll short', tabindex: 0, role: 'region', 'aria-label': `Rejected lines of ${fileName}` },
      h(
        'table',
        { class: 'data rejects' },
        h('thead', {}, h('tr', {}, h('th', { scope: 'col', class: 'num' }, 'Line'), h('th', { scope: 'col' }, 'Reason'))),
        h('tbody', {}, ...report.errors.map((e) => h('tr', {}, h('td', { class: 'num' }, e.line), h('td', {}, e.reason)))),
      ),
    ),
  );
  return card;
}
