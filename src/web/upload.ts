// The "Load data" section: files (picked or dropped), their tables, options, the upload with a
// progress bar per file, then each upload's report.
import { ApiError, TABLE_ALIASES, TABLE_NAMES, uploadFile, type TableName } from './api.js';
import { directUploadFrom, importThroughS3 } from './direct-upload.js';
import { byId, formatBytes, h, say } from './dom.js';
import { errorCard, reportCard } from './upload-report.js';

const KEY_STORAGE = 'hr-dashboard.api-key';

// The words that point to a table: those of its name and aliases, singular (hired_employees and
// employees: hired, employee; jobs: job).
const TABLE_WORDS: [TableName, string[]][] = TABLE_NAMES.map((table) => {
  const names = [table, ...Object.keys(TABLE_ALIASES).filter((alias) => TABLE_ALIASES[alias] === table)];
  return [table, [...new Set(names.flatMap((n) => n.split('_')).map((word) => word.replace(/s$/, '')))]];
});

/**
 * The table a file's name points to (`hired_employees.csv`, `employees-2024.csv`, `Jobs.csv`…), or
 * '' if none: the table whose word comes first in the name (`employees-by-department.csv` is hires).
 */
export function guessTable(fileName: string): TableName | '' {
  const name = fileName.toLowerCase();
  let best: { table: TableName | ''; at: number } = { table: '', at: Infinity };
  for (const [table, words] of TABLE_WORDS) {
    for (const word of words) {
      const at = name.indexOf(word);
      if (at !== -1 && at < best.at) best = { table, at };
    }
  }
  return best.table;
}

interface Entry {
  file: File;
  item: HTMLLIElement;
  table: HTMLSelectElement;
  progress: HTMLProgressElement;
  progressText: HTMLElement;
  /** Uploaded: it stays listed with its progress until other files are picked. */
  done: boolean;
}

let nextId = 0;

export function setupUpload(onLoaded: () => Promise<void>): void {
  const form = byId('upload-form', HTMLFormElement);
  const input = byId('file-input', HTMLInputElement);
  const dropZone = byId('drop-zone', HTMLDivElement);
  const list = byId('file-list', HTMLUListElement);
  const button = byId('upload-button', HTMLButtonElement);
  const status = byId('upload-status', HTMLParagraphElement);
  const results = byId('upload-results', HTMLDivElement);
  const keyInput = byId('api-key', HTMLInputElement);
  // The hint names one file per table of the dictionary, as their names must be to be picked.
  const names = TABLE_NAMES.map((t) => h('strong', {}, `${t}.csv`));
  byId('load-file-names', HTMLSpanElement).replaceChildren(
    ...names.flatMap((name, i) => (i === 0 ? [name] : [i === names.length - 1 ? ' and ' : ', ', name])),
  );
  const options = {
    strict: byId('opt-strict', HTMLInputElement),
    dryRun: byId('opt-dry-run', HTMLInputElement),
    update: byId('opt-update', HTMLInputElement),
  };
  let entries: Entry[] = [];
  let busy = false;

  // The key lives in sessionStorage: typed once, kept for this tab, gone when it closes.
  keyInput.value = readKey();
  keyInput.addEventListener('input', () => writeKey(keyInput.value.trim()));
  byId('api-key-forget', HTMLButtonElement).addEventListener('click', () => {
    keyInput.value = '';
    writeKey('');
    keyInput.focus();
  });

  function addFiles(files: Iterable<File>): void {
    if (busy) return;
    entries = entries.filter((e) => !e.done);
    for (const file of files) {
      // The same name again replaces the earlier pick.
      const existing = entries.find((e) => e.file.name === file.name);
      if (existing !== undefined) remove(existing);
      entries.push(makeEntry(file));
    }
    render();
    say(status, '');
  }

  function makeEntry(file: File): Entry {
    const id = `file-${nextId++}`;
    const table = h('select', { id: `${id}-table`, 'data-file': file.name }, h('option', { value: '' }, 'Choose a table…'));
    for (const t of TABLE_NAMES) table.append(h('option', { value: t }, t));
    table.value = guessTable(file.name);
    const progress = h('progress', { max: 100, value: 0, 'aria-label': `Upload of ${file.name}` });
    const progressText = h('span', { class: 'progress-text' }, 'Ready');
    const removeButton = h('button', { type: 'button', class: 'link', 'aria-label': `Remove ${file.name}` }, 'Remove');
    const item = h(
      'li',
      { class: 'file-item' },
      h(
        'div',
        { class: 'file-head' },
        h('span', { class: 'file-name' }, file.name),
        h('span', { class: 'file-size' }, formatBytes(file.size)),
        h('label', { for: table.id, class: 'table-label' }, 'Table'),
        table,
        removeButton,
      ),
      h('div', { class: 'file-progress' }, progress, progressText),
    );
    const entry: Entry = { file, item, table, progress, progressText, done: false };
    removeButton.addEventListener('click', () => {
      if (busy) return;
      remove(entry);
      render();
      input.focus();
    });
    return entry;
  }

  function remove(entry: Entry): void {
    entries = entries.filter((e) => e !== entry);
  }

  function render(): void {
    list.replaceChildren(...entries.map((e) => e.item));
    list.hidden = entries.length === 0;
  }

  input.addEventListener('change', () => {
    if (input.files !== null) addFiles(Array.from(input.files));
    // Cleared so that picking the same file again is a change too.
    input.value = '';
  });

  // Dropping anywhere on the page adds the files (and never navigates away to show them).
  let depth = 0;
  document.addEventListener('dragenter', (event) => {
    if (!hasFiles(event)) return;
    depth++;
    dropZone.classList.add('dragging');
  });
  document.addEventListener('dragleave', () => {
    depth = Math.max(0, depth - 1);
    if (depth === 0) dropZone.classList.remove('dragging');
  });
  document.addEventListener('dragover', (event) => {
    if (hasFiles(event)) event.preventDefault();
  });
  document.addEventListener('drop', (event) => {
    if (!hasFiles(event)) return;
    event.preventDefault();
    depth = 0;
    dropZone.classList.remove('dragging');
    addFiles(Array.from(event.dataTransfer?.files ?? []));
  });

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    void run();
  });

  async function run(): Promise<void> {
    if (busy) return;
    const pending = entries.filter((e) => !e.done);
    if (pending.length === 0) return say(status, 'Choose at least one CSV file first.', 'error');
    const unpicked = pending.find((e) => e.table.value === '');
    if (unpicked !== undefined) {
      say(status, `Choose the table for ${unpicked.file.name}.`, 'error');
      unpicked.table.focus();
      return;
    }
    // The dictionary's order, departments and jobs before hires: strict mode checks a hire's department and job ids.
    const order = (e: Entry) => TABLE_NAMES.indexOf(e.table.value as TableName);
    const queue = [...pending].sort((a, b) => order(a) - order(b));
    const settings = {
      strict: options.strict.checked,
      dryRun: options.dryRun.checked,
      update: options.update.checked,
      apiKey: keyInput.value.trim(),
    };

    setBusy(true);
    results.replaceChildren();
    for (const e of queue) {
      e.progress.value = 0;
      e.progressText.textContent = 'Waiting';
    }
    let done = 0;
    let failed = 0;
    let outcome: { text: string; kind: 'success' | 'error' } | undefined;
    let refused = false;
    try {
      for (const [index, entry] of queue.entries()) {
        say(status, `Uploading ${entry.file.name} (${index + 1} of ${queue.length})…`);
        try {
          const table = entry.table.value as TableName;
          const showSent = (sent: number, total: number, where = ''): void => {
            const percent = total === 0 ? 100 : Math.floor((sent / total) * 100);
            entry.progress.value = percent;
            entry.progressText.textContent =
              percent >= 100
                ? '100% sent · the server is checking the rows…'
                : `${percent}%${where} · ${formatBytes(sent)} of ${formatBytes(total)}`;
          };
          // Big files through S3 and an import job when the server has a bucket; else POST /upload.
          const direct =
            entry.file.size >= directUploadFrom(location.search)
              ? await importThroughS3(table, entry.file, settings, (phase, done, total, records) => {
                  if (phase === 'sending') return showSent(done, total, ' sent to S3');
                  entry.progress.value = total === 0 ? 100 : Math.floor((done / total) * 100);
                  entry.progressText.textContent = `Importing · ${(records ?? 0).toLocaleString('en')} rows read · ${entry.progress.value}%`;
                })
              : undefined;
          const report = direct ?? (await uploadFile(table, entry.file, settings, showSent));
          entry.progress.value = 100;
          entry.progressText.textContent = `100% · ${report.dry_run ? 'checked (dry run)' : 'loaded'}`;
          results.append(reportCard(entry.file.name, report, settings.apiKey));
          entry.done = true;
          done++;
        } catch (error) {
          failed++;
          const message = describe(error);
          entry.progressText.textContent = error instanceof ApiError && error.status > 0 ? `Failed (HTTP ${error.status})` : 'Failed';
          results.append(errorCard(entry.file.name, message));
          // A refused key refuses every file: stop here and say what to do.
          if (error instanceof ApiError && error.status === 401) {
            for (const rest of queue.slice(index + 1)) rest.progressText.textContent = 'Not sent';
            outcome = { text: `${message} (HTTP 401). Type a valid API key above, then upload again.`, kind: 'error' };
            refused = true;
            break;
          }
        }
      }
      const files = (n: number) => `${n} file${n === 1 ? '' : 's'}`;
      outcome ??=
        failed === 0
          ? { text: `Done: ${files(done)} ${settings.dryRun ? 'checked' : 'loaded'}.`, kind: 'success' }
          : { text: `${files(done)} loaded, ${failed} failed: see below.`, kind: 'error' };
      say(status, 'Refreshing the tables and reports…');
      // The final word comes once the tables and reports show the new data.
      await onLoaded();
    } finally {
      setBusy(false);
    }
    say(status, outcome.text, outcome.kind);
    if (refused) keyInput.focus();
  }

  function setBusy(value: boolean): void {
    busy = value;
    button.disabled = value;
    input.disabled = value;
    form.setAttribute('aria-busy', String(value));
    for (const e of entries) e.table.disabled = value || e.done;
  }

  render();
}

const describe = (error: unknown): string => (error instanceof Error ? error.message : String(error));

function hasFiles(event: DragEvent): boolean {
  return event.dataTransfer?.types.includes('Files') ?? false;
}

function readKey(): string {
  try {
    return sessionStorage.getItem(KEY_STORAGE) ?? '';
  } catch {
    return '';
  }
}

function writeKey(key: string): void {
  try {
    if (key === '') sessionStorage.removeItem(KEY_STORAGE);
    else sessionStorage.setItem(KEY_STORAGE, key);
  } catch {
    // Storage disabled: the key still works for this page, it is just not kept.
  }
}
