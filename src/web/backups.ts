// The "Backups" section (docs/backup.md): back up every table into the server's backup folder,
// list the backups and restore one (replace after a confirmation, or merge), download a table
// as Avro, and restore from a file. Every call sends the API key typed under "Load data".
import {
  ApiError,
  backupAll,
  downloadBackup,
  getTables,
  listBackups,
  restoreFromBackup,
  restoreFromFile,
  type BackupFile,
  type RestoreMode,
  type RestoreResult,
  isTable,
  TABLE_NAMES,
  type TableName,
  type WrittenBackup,
} from './api.js';
import { byId, formatBytes, formatNumber, h, say } from './dom.js';
import { guessTable } from './upload.js';

interface Outcome {
  text: string;
  kind: 'success' | 'error';
}

let busy = false;
let nextId = 0;

export function setupBackups(onRestored: () => Promise<void>): void {
  const section = byId('backups', HTMLElement);
  const keyInput = byId('api-key', HTMLInputElement);
  const backupButton = byId('backup-all', HTMLButtonElement);
  const backupStatus = byId('backup-status', HTMLParagraphElement);
  const written = byId('backup-written', HTMLDivElement);
  const listStatus = byId('backups-list-status', HTMLParagraphElement);
  const listBox = byId('backups-box', HTMLDivElement);
  const listBody = byId('backups-table', HTMLTableElement).tBodies[0]!;
  const restoreStatus = byId('restore-status', HTMLParagraphElement);
  const downloadTable = byId('download-table', HTMLSelectElement);
  const downloadStatus = byId('download-status', HTMLParagraphElement);
  const fileForm = byId('restore-file-form', HTMLFormElement);
  const fileInput = byId('restore-file-input', HTMLInputElement);
  const fileTable = byId('restore-file-table', HTMLSelectElement);
  downloadTable.append(...TABLE_NAMES.map((t) => h('option', { value: t }, t)));
  fileTable.append(...TABLE_NAMES.map((t) => h('option', { value: t }, t)));
  const fileProgress = byId('restore-file-progress', HTMLProgressElement);
  const fileStatus = byId('restore-file-status', HTMLParagraphElement);

  const apiKey = (): string => keyInput.value.trim();
  /** The names the last "Back up all tables" wrote: marked "new" in the list. */
  let fresh = new Set<string>();

  /** A failed call, in words: the API's message, its status, and what to do about a refused key. */
  function failure(error: unknown, what: string): Outcome {
    if (!(error instanceof ApiError)) return { text: `${what}: ${(error as Error).message}`, kind: 'error' };
    const status = error.status > 0 ? ` (HTTP ${error.status})` : '';
    const hint = error.status === 401 ? ' Type a valid API key under Load data, then try again.' : '';
    return { text: `${what}: ${error.message.replace(/\.$/, '')}${status}.${hint}`, kind: 'error' };
  }

  /** Runs one action at a time; the section's buttons say they are unavailable meanwhile, and keep the focus. */
  async function exclusive(action: () => Promise<void>): Promise<void> {
    if (busy) return;
    busy = true;
    section.setAttribute('aria-busy', 'true');
    for (const button of section.querySelectorAll('button')) button.setAttribute('aria-disabled', 'true');
    try {
      await action();
    } finally {
      busy = false;
      section.setAttribute('aria-busy', 'false');
      for (const button of section.querySelectorAll('button')) button.removeAttribute('aria-disabled');
    }
  }

  // The list of backups.

  async function refreshList(userAsked: boolean): Promise<void> {
    try {
      const { backups } = await listBackups(apiKey());
      listBody.replaceChildren(...backups.map(backupRow));
      listBox.hidden = backups.length === 0;
      say(listStatus, backups.length === 0 ? 'No backups yet: “Back up all tables” writes one file per table.' : '');
    } catch (error) {
      listBody.replaceChildren();
      listBox.hidden = true;
      // Opening the page without a key on a server that wants one is not an error yet: say what to do.
      if (!userAsked && error instanceof ApiError && error.status === 401 && apiKey() === '') {
        say(listStatus, 'Type the API key under Load data to see the backups, then press “Refresh list”.');
      } else {
        const { text, kind } = failure(error, 'The backups could not be listed');
        say(listStatus, text, kind);
      }
    }
  }

  function backupRow(backup: BackupFile): HTMLTableRowElement {
    const taken = backup.created_at.replace('T', ' ').replace(/(\.\d+)?Z$/, '');
    return h(
      'tr',
      { 'data-name': backup.name, 'data-table': backup.table ?? '' },
      h(
        'th',
        { scope: 'row' },
        h('span', { class: 'backup-table' }, backup.table ?? 'unknown table'),
        fresh.has(backup.name) ? h('span', { class: 'badge ok' }, 'new') : null,
        h('span', { class: 'backup-meta' }, h('span', { class: 'taken' }, `${taken} UTC`), ' · ', backup.name),
      ),
      h('td', { class: 'num rows' }, backup.rows === null ? '—' : formatNumber(backup.rows)),
      h('td', { class: 'num size' }, formatBytes(backup.bytes)),
      h('td', {}, restoreControls(backup)),
    );
  }

  function restoreControls(backup: BackupFile): HTMLElement {
    const { table } = backup;
    if (backup.rows === null || table === null) return h('span', { class: 'badge bad' }, 'not an Avro backup');
    if (!backup.complete) return h('span', { class: 'badge bad' }, 'cut short: cannot be restored');
    if (!isTable(table)) return h('span', { class: 'badge bad' }, `unknown table ${table}`);
    const id = `restore-mode-${nextId++}`;
    const mode = h(
      'select',
      { id, class: 'mode', 'aria-describedby': 'restore-modes-hint' },
      h('option', { value: 'replace' }, 'Replace'),
      h('option', { value: 'merge' }, 'Merge'),
    );
    const button = h('button', { type: 'button', class: 'secondary', 'aria-label': `Restore ${table} from ${backup.name}` }, 'Restore');
    button.addEventListener('click', () => void restoreListed(backup, table, mode.value as RestoreMode));
    return h(
      'div',
      { class: 'restore-controls' },
      h('label', { for: id, class: 'visually-hidden' }, `Mode to restore ${backup.name}`),
      mode,
      button,
    );
  }

  function restoreListed(backup: BackupFile, table: TableName, mode: RestoreMode): Promise<void> {
    return exclusive(async () => {
      const rows = formatNumber(backup.rows ?? 0);
      if (mode === 'replace' && !(await confirmReplace(table, `the ${rows} rows of the backup ${backup.name}`))) {
        say(restoreStatus, `Nothing was restored: ${table} is unchanged.`);
        return;
      }
      say(restoreStatus, `Restoring ${table} from ${backup.name} (${mode})…`);
      await finishRestore(restoreStatus, () => restoreFromBackup(table, backup.name, mode, apiKey()));
    });
  }

  /** Runs a restore, then (when it worked) refreshes the tables and reports before the final word. */
  async function finishRestore(status: HTMLElement, restore: () => Promise<RestoreResult>): Promise<boolean> {
    let outcome: Outcome;
    try {
      const result = await restore();
      const rows = `${formatNumber(result.restored)} row${result.restored === 1 ? '' : 's'}`;
      outcome = {
        text:
          result.mode === 'replace'
            ? `Restored ${result.table}: it now holds the backup's ${rows} (replace).`
            : `Restored ${result.table}: ${rows} of the backup merged in (merge).`,
        kind: 'success',
      };
      say(status, 'Refreshing the tables and reports…');
      await onRestored();
    } catch (error) {
      outcome = failure(error, 'Nothing was restored');
    }
    say(status, outcome.text, outcome.kind);
    return outcome.kind === 'success';
  }

  // "Back up all tables".

  backupButton.addEventListener(
    'click',
    () =>
      void exclusive(async () => {
        say(backupStatus, 'Backing up every table…');
        try {
          const { files } = await backupAll(apiKey());
          fresh = new Set(files.map((f) => f.name));
          showWritten(files);
          const rows = files.reduce((sum, f) => sum + f.rows, 0);
          say(
            backupStatus,
            `Backed up ${files.length} table${files.length === 1 ? '' : 's'} (${formatNumber(rows)} rows) into the backup folder.`,
            'success',
          );
          await refreshList(true);
        } catch (error) {
          const { text, kind } = failure(error, 'No backup was written');
          say(backupStatus, text, kind);
        }
      }),
  );

  function showWritten(files: WrittenBackup[]): void {
    written
      .querySelector('tbody')!
      .replaceChildren(
        ...files.map((f) =>
          h(
            'tr',
            { 'data-table': f.table },
            h('th', { scope: 'row' }, f.table),
            h('td', { class: 'num' }, formatNumber(f.rows)),
            h('td', { class: 'num' }, formatBytes(f.bytes)),
            h('td', { class: 'backup-name' }, f.name),
          ),
        ),
      );
    written.hidden = files.length === 0;
  }

  byId('backups-refresh', HTMLButtonElement).addEventListener('click', () => void exclusive(() => refreshList(true)));
  // A key typed (or changed) may open the list.
  keyInput.addEventListener('change', () => {
    if (!busy) void refreshList(false);
  });

  // Download: the GET needs the key in a header, so api.ts fetches the file and saves it.

  byId('download-button', HTMLButtonElement).addEventListener(
    'click',
    () =>
      void exclusive(async () => {
        const table = downloadTable.value as TableName;
        say(downloadStatus, `Reading ${table}…`);
        try {
          const { name, bytes } = await downloadBackup(table, apiKey());
          say(downloadStatus, `Downloaded ${name} (${formatBytes(bytes)}).`, 'success');
        } catch (error) {
          const { text, kind } = failure(error, `${table} could not be downloaded`);
          say(downloadStatus, text, kind);
        }
      }),
  );

  // Restore from a file the user picks.

  let guessed = '';
  fileInput.addEventListener('change', () => {
    const file = fileInput.files?.[0];
    if (file === undefined) return;
    // The file's name picks the table, unless the user already chose another one.
    if (fileTable.value === '' || fileTable.value === guessed) {
      guessed = guessTable(file.name);
      fileTable.value = guessed;
    }
    say(fileStatus, '');
  });

  fileForm.addEventListener('submit', (event) => {
    event.preventDefault();
    void exclusive(async () => {
      const file = fileInput.files?.[0];
      if (file === undefined) {
        say(fileStatus, 'Choose an Avro backup file first.', 'error');
        fileInput.focus();
        return;
      }
      const table = fileTable.value;
      if (!isTable(table)) {
        say(fileStatus, `Choose the table to restore ${file.name} into.`, 'error');
        fileTable.focus();
        return;
      }
      const checked = fileForm.querySelector<HTMLInputElement>('input[name="restore-file-mode"]:checked');
      const mode: RestoreMode = checked?.value === 'merge' ? 'merge' : 'replace';
      if (mode === 'replace' && !(await confirmReplace(table, `the rows of ${file.name}`))) {
        say(fileStatus, `Nothing was restored: ${table} is unchanged.`);
        return;
      }
      fileProgress.value = 0;
      fileProgress.hidden = false;
      say(fileStatus, `Sending ${file.name}…`);
      try {
        await finishRestore(fileStatus, () =>
          restoreFromFile(table, file, mode, apiKey(), (sent, total) => {
            const percent = total === 0 ? 100 : Math.floor((sent / total) * 100);
            fileProgress.value = percent;
            say(
              fileStatus,
              percent >= 100
                ? `${file.name} sent · the server is restoring ${table}…`
                : `Sending ${file.name}: ${percent}% · ${formatBytes(sent)} of ${formatBytes(total)}`,
            );
          }),
        );
      } finally {
        fileProgress.hidden = true;
      }
    });
  });

  void refreshList(false);
}

/**
 * Asks before a replace (it deletes the rows the backup does not have), in a modal dialog:
 * Cancel has the focus, Escape cancels, the focus goes back to the button that asked.
 */
async function confirmReplace(table: TableName, source: string): Promise<boolean> {
  const dialog = byId('restore-confirm', HTMLDialogElement);
  const now = await getTables()
    .then(({ tables }) => tables.find((t) => t.name === table)?.rows)
    .catch(() => undefined);
  const current = now === undefined ? '' : ` (now ${formatNumber(now)} row${now === 1 ? '' : 's'})`;
  byId('restore-confirm-title', HTMLHeadingElement).textContent = `Replace ${table}?`;
  byId('restore-confirm-text', HTMLParagraphElement).textContent =
    `Every row of ${table}${current} is replaced by ${source}. Rows that are not in the backup are deleted; ` +
    'only another backup can bring them back.';
  byId('restore-confirm-button', HTMLButtonElement).textContent = `Replace ${table}`;
  dialog.returnValue = '';
  return new Promise((resolve) => {
    dialog.addEventListener('close', () => resolve(dialog.returnValue === 'confirm'), { once: true });
    dialog.showModal();
  });
}
