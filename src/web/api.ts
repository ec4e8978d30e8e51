// The API as the dashboard sees it. Relative URLs, so the page also works behind a path prefix.

export type TableName = 'departments' | 'jobs' | 'hired_employees';

export interface UploadReport {
  upload_id: string;
  table: string;
  status: string;
  received: number;
  inserted: number;
  updated: number;
  rejected: number;
  incomplete: number;
  elapsed_ms: number;
  dry_run: boolean;
  errors: { line: number; reason: string }[];
}

export interface QuarterRow {
  department: string;
  job: string;
  Q1: number;
  Q2: number;
  Q3: number;
  Q4: number;
}

export interface DepartmentHires {
  id: number;
  department: string;
  hired: number;
}

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
  const body = new FormData();
  body.append('file', file, file.name);
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', `upload/${table}?${query.toString()}`);
    xhr.setRequestHeader('accept', 'application/json');
    if (options.apiKey !== '') xhr.setRequestHeader('authorization', `Bearer ${options.apiKey}`);
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
          resolve(JSON.parse(xhr.responseText) as UploadReport);
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
