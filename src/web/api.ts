// The API as the dashboard sees it. Relative URLs, so the page also works behind a path prefix.
import type { DepartmentHires, QuarterRow } from '../reports/report-rows.js';
import type { UploadReport } from '../upload-record.js';
import { TABLE_ALIASES, TABLE_NAMES, tableList, type TableName } from '../tables.js';

// The server's data dictionary, bundled: the page never restates the table list.
export { TABLE_ALIASES, TABLE_NAMES, tableList, type TableName };
export const isTable = (name: string | null): name is TableName => (TABLE_NAMES as (string | null)[]).includes(name);

/** The answer of POST /upload and GET /uploads/{id}, as the server declares it (UploadReportSchema). */
export type { UploadReport } from '../upload-record.js';

// The reports' rows as the server declares them (a department or job stored without a name is
// null: see nameLabel). Types only: nothing of the server is bundled but the dictionary.
export type { DepartmentHires, QuarterRow } from '../reports/report-rows.js';

export interface UploadOptions {
  strict: boolean;
  dryRun: boolean;
  update: boolean;
  apiKey: string;
}

/** An answer other than 2xx, with the API's `{error, message}` when it sent one. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

function errorFrom(status: number, body: string): ApiError {
  try {
    const parsed = JSON.parse(body) as { error?: unknown; message?: unknown };
    if (typeof parsed.message === 'string') return new ApiError(status, String(parsed.error ?? ''), parsed.message);
  } catch {
    // Not JSON (a proxy's page, say): fall through to the status alone.
  }
  return new ApiError(status, '', status === 0 ? 'The server could not be reached' : `The server answered ${status}`);
}

export async function getJson<T>(url: string): Promise<T> {
  let response: Response;
  try {
    response = await fetch(url, { headers: { accept: 'application/json' } });
  } catch {
    throw errorFrom(0, '');
  }
  const text = await response.text();
  if (!response.ok) throw errorFrom(response.status, text);
  return JSON.parse(text) as T;
}

/** What the page shows for a department or job stored without a name. */
export const NO_NAME = '(no name)';
export const nameLabel = (name: string | null): string => name ?? NO_NAME;

export const getTables = () => getJson<{ tables: { name: string; rows: number }[] }>('tables');
export const getYears = () => getJson<{ years: number[] }>('metrics/years');
export const getQuarterReport = (year: number) => getJson<QuarterRow[]>(`metrics/hired-employees?year=${year}`);
export const getAboveMean = (year: number) => getJson<DepartmentHires[]>(`metrics/departments-above-mean?year=${year}`);
export const getDepartmentHires = (year: number) => getJson<DepartmentHires[]>(`metrics/department-hires?year=${year}`);

export const reportCsvUrl = (report: 'hired-employees' | 'departments-above-mean', year: number): string =>
  `metrics/${report}?year=${year}&format=csv`;
export const rejectsCsvUrl = (uploadId: string): string => `uploads/${encodeURIComponent(uploadId)}/rejects.csv`;

/**
 * Uploads one file as multipart/form-data. XMLHttpRequest, not fetch: only it reports the bytes
 * sent (`upload.onprogress`). `onProgress` gets (sent, total); the last call is (total, total),
 * when the body is out, before the server has answered.
 */
export function uploadFile(
  table: TableName,
  file: File,
  options: UploadOptions,
  onProgress: (sent: number, total: number) => void,
): Promise<UploadReport> {
  const query = new URLSearchParams({
    strict: String(options.strict),
    dry_run: String(options.dryRun),
    on_conflict: options.update ? 'update' : 'reject',
  });
  return sendFile<UploadReport>(`upload/${table}?${query.toString()}`, file, options.apiKey, onProgress);
}

/** POSTs `file` as the multipart field `file` and answers the JSON reply (see uploadFile for `onProgress`). */
function sendFile<T>(url: string, file: File, apiKey: string, onProgress: (sent: number, total: number) => void): Promise<T> {
  const body = new FormData();
  body.append('file', file, file.name);
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', url);
    xhr.setRequestHeader('accept', 'application/json');
    if (apiKey !== '') xhr.setRequestHeader('authorization', `Bearer ${apiKey}`);
    xhr.upload.addEventListener('progress', (event) => {
      if (event.lengthComputable) onProgress(event.loaded, event.total);
    });
    // Small bodies may go out without a progress event; `load` on the upload means all was sent.
    xhr.upload.addEventListener('load', (event) => {
      const total = event.lengthComputable && event.total > 0 ? event.total : file.size;
      onProgress(total, total);
    });
    xhr.addEventListener('load', () => {
      if (xhr.status >= 200 && xhr.status < 300) {
        try {
          resolve(JSON.parse(xhr.responseText) as T);
        } catch {
          reject(new ApiError(xhr.status, '', 'The server sent an answer that is not JSON'));
        }
      } else {
        reject(errorFrom(xhr.status, xhr.responseText));
      }
    });
    xhr.addEventListener('error', () => reject(errorFrom(0, '')));
    xhr.addEventListener('abort', () => reject(new ApiError(0, 'ABORTED', 'The upload was cancelled')));
    xhr.send(body);
  });
}

// Backups (docs/backup.md). They hold every row, so every call sends the key: in a header, never in a URL.

export type RestoreMode = 'replace' | 'merge';

export interface WrittenBackup {
  name: string;
  table: string;
  rows: number;
  bytes: number;
  created_at: string;
}

export interface BackupFile {
  name: string;
  /** Null when the file is not an Avro container. */
  table: string | null;
  /** Null when the file is not an Avro container. */
  rows: number | null;
  bytes: number;
  created_at: string;
  /** False when the file ends inside a block: it cannot be restored. */
  complete: boolean;
}

export interface RestoreResult {
  table: string;
  restored: number;
  mode: RestoreMode;
}

export const authHeaders = (apiKey: string, accept = 'application/json'): Record<string, string> =>
  apiKey === '' ? { accept } : { accept, authorization: `Bearer ${apiKey}` };

/** fetch with the key (and a JSON body, if any); a 2xx answer is returned, anything else thrown as an ApiError. */
async function keyed(method: 'GET' | 'POST', url: string, apiKey: string, body?: unknown): Promise<Response> {
  let response: Response;
  try {
    response =
      body === undefined
        ? await fetch(url, { method, headers: authHeaders(apiKey) })
        : await fetch(url, { method, headers: { ...authHeaders(apiKey), 'content-type': 'application/json' }, body: JSON.stringify(body) });
  } catch {
    throw errorFrom(0, '');
  }
  if (!response.ok) throw errorFrom(response.status, await response.text());
  return response;
}

export async function keyedJson<T>(method: 'GET' | 'POST', url: string, apiKey: string, body?: unknown): Promise<T> {
  const text = await (await keyed(method, url, apiKey, body)).text();
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new ApiError(200, '', 'The server sent an answer that is not JSON');
  }
}

export const backupAll = (apiKey: string) => keyedJson<{ files: WrittenBackup[] }>('POST', 'backup', apiKey);
export const listBackups = (apiKey: string) => keyedJson<{ backups: BackupFile[] }>('GET', 'backups', apiKey);

export const restoreFromBackup = (table: string, name: string, mode: RestoreMode, apiKey: string) =>
  keyedJson<RestoreResult>('POST', `restore/${encodeURIComponent(table)}?${new URLSearchParams({ mode, from: name }).toString()}`, apiKey);

export const restoreFromFile = (
  table: TableName,
  file: File,
  mode: RestoreMode,
  apiKey: string,
  onProgress: (sent: number, total: number) => void,
) => sendFile<RestoreResult>(`restore/${table}?${new URLSearchParams({ mode }).toString()}`, file, apiKey, onProgress);

/** The file name of a Content-Disposition header (`attachment; filename="jobs-….avro"`), if it gives one. */
export function attachmentName(header: string | null): string | undefined {
  const match = header === null ? null : /filename\*?=(?:UTF-8'')?"?([^";]+)"?/i.exec(header);
  if (match === null) return undefined;
  try {
    return decodeURIComponent(match[1]!.trim());
  } catch {
    return match[1]!.trim();
  }
}

/** Downloads a table as an Avro file (see downloadFile). */
export const downloadBackup = (table: TableName, apiKey: string): Promise<{ name: string; bytes: number }> =>
  downloadFile(`backup/${table}`, `${table}.avro`, apiKey);

/**
 * Saves what a GET of `url` answers, sending the key in a header (a plain link cannot: the
 * rejected lines and backups need the key when the server has one). The body is fetched into a
 * Blob, then saved through a temporary object URL. Answers the file's name and size.
 */
export async function downloadFile(path: string, fallbackName: string, apiKey: string): Promise<{ name: string; bytes: number }> {
  const response = await keyed('GET', path, apiKey);
  const name = attachmentName(response.headers.get('content-disposition')) ?? fallbackName;
  let blob: Blob;
  try {
    blob = await response.blob();
  } catch {
    // The server closes the connection when it fails mid-file: what arrived is not a whole backup.
    throw new ApiError(0, '', 'The download was cut short: try again');
  }
  const url = URL.createObjectURL(blob);
  const link = document.createElement('a');
  link.href = url;
  link.download = name;
  link.hidden = true;
  document.body.append(link);
  try {
    link.click();
  } finally {
    link.remove();
    // Revoked later: revoking at once may cancel the save that the click started.
    setTimeout(() => URL.revokeObjectURL(url), 60_000);
  }
  return { name, bytes: blob.size };
}
