// Big files go straight to S3 when the server has an import bucket: the page asks for a presigned
// URL (POST imports/upload-url), PUTs the file there (in parts for big ones), queues an import job
// and follows its events. No request to the server then lasts longer than a few seconds, so a
// proxy's request deadline (App Runner: 120 s) never cuts the load.
import { ApiError, authHeaders, keyedJson, type TableName, type UploadOptions, type UploadReport } from './api.js';

/** Files from this size take the S3 path; `?direct_upload_from=BYTES` on the page's URL changes it. */
export const DIRECT_UPLOAD_FROM_BYTES = 16 * 1024 * 1024;

export function directUploadFrom(search: string): number {
  const asked = Number(new URLSearchParams(search).get('direct_upload_from'));
  return Number.isSafeInteger(asked) && asked > 0 ? asked : DIRECT_UPLOAD_FROM_BYTES;
}

interface Presigned {
  url?: string;
  headers: Record<string, string>;
  source: string;
  multipart?: { upload_id: string; part_size: number; parts: { part_number: number; url: string }[]; complete: string };
}

interface JobState {
  import_id: string;
  status: string;
  bytes_read: number;
  bytes_total: number | null;
  records: number;
  upload_id: string | null;
  message: string | null;
}

/** What the page shows while it works: the phase and how far it is (0–1). */
export type Progress = (phase: 'sending' | 'importing', done: number, total: number, records?: number) => void;

/** PUTs a body to a presigned URL, reporting bytes sent; resolves with the answer's ETag. */
function put(url: string, body: Blob, headers: Record<string, string>, onSent: (sent: number) => void): Promise<string> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('PUT', url);
    for (const [name, value] of Object.entries(headers)) xhr.setRequestHeader(name, value);
    xhr.upload.addEventListener('progress', (event) => onSent(event.loaded));
    xhr.addEventListener('load', () => {
      if (xhr.status >= 200 && xhr.status < 300) resolve(xhr.getResponseHeader('etag') ?? '');
      else reject(new ApiError(xhr.status, 'S3', `S3 refused the file (HTTP ${xhr.status})`));
    });
    xhr.addEventListener('error', () => reject(new ApiError(0, 'S3', 'S3 could not be reached (or its CORS rule refuses this page)')));
    xhr.send(body);
  });
}

/**
 * Loads `file` through S3 and an import job; resolves with the job's upload report. Undefined when
 * the server has no import bucket (the caller then uses POST /upload).
 */
export async function importThroughS3(
  table: TableName,
  file: File,
  options: UploadOptions,
  onProgress: Progress,
): Promise<UploadReport | undefined> {
  let presigned: Presigned;
  try {
    presigned = await keyedJson<Presigned>('POST', 'imports/upload-url', options.apiKey, { table, filename: file.name, size: file.size });
  } catch (error) {
    if (error instanceof ApiError && error.code === 'DIRECT_UPLOAD_UNAVAILABLE') return undefined;
    throw error;
  }
  if (presigned.multipart === undefined) {
    await put(presigned.url!, file, presigned.headers, (sent) => onProgress('sending', sent, file.size));
  } else {
    const { part_size: size, parts, upload_id, complete } = presigned.multipart;
    const etags: { part_number: number; etag: string }[] = [];
    for (const part of parts) {
      const start = (part.part_number - 1) * size;
      const etag = await put(part.url, file.slice(start, start + size), {}, (sent) => onProgress('sending', start + sent, file.size));
      etags.push({ part_number: part.part_number, etag });
    }
    await keyedJson('POST', complete.replace(/^\//, ''), options.apiKey, { source: presigned.source, upload_id, parts: etags });
  }
  onProgress('sending', file.size, file.size);
  const job = await keyedJson<JobState>('POST', 'imports', options.apiKey, {
    table,
    source: presigned.source,
    strict: options.strict,
    dry_run: options.dryRun,
    on_conflict: options.update ? 'update' : 'reject',
  });
  const onState = (state: JobState): void => onProgress('importing', state.bytes_read, state.bytes_total ?? file.size, state.records);
  // The job runs on whether or not the page listens: a cut stream is opened again.
  let end: JobState | undefined;
  for (let attempt = 0; end === undefined; attempt++) {
    try {
      end = await follow(job, options.apiKey, onState);
    } catch (error) {
      if (attempt >= 5 || !(error instanceof ApiError) || error.status !== 0) throw error;
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  }
  if (end.upload_id === null || (end.status !== 'committed' && end.status !== 'dry_run')) {
    throw new ApiError(200, 'IMPORT_FAILED', end.message ?? `The import ended ${end.status}`);
  }
  return keyedJson<UploadReport>('GET', `uploads/${encodeURIComponent(end.upload_id)}`, options.apiKey);
}

/**
 * Follows the job's Server-Sent Events until its `end` event. fetch, not EventSource: only fetch
 * can send the API key in a header.
 */
async function follow(job: JobState, apiKey: string, onState: (state: JobState) => void): Promise<JobState> {
  const headers = authHeaders(apiKey, 'text/event-stream');
  const response = await fetch(`imports/${encodeURIComponent(job.import_id)}/events`, { headers }).catch(() => {
    throw new ApiError(0, '', 'The server could not be reached');
  });
  if (!response.ok || response.body === null) throw new ApiError(response.status, '', `The job's events answered ${response.status}`);
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffered = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffered += value;
    let cut: number;
    while ((cut = buffered.indexOf('\n\n')) >= 0) {
      const block = buffered.slice(0, cut);
      buffered = buffered.slice(cut + 2);
      const event = /^event: (\w+)/m.exec(block)?.[1];
      const data = /^data: (.*)$/m.exec(block)?.[1];
      if (data === undefined) continue;
      const state = JSON.parse(data) as JobState;
      if (event === 'end') {
        await reader.cancel();
        return state;
      }
      onState(state);
    }
  }
  throw new ApiError(0, '', 'The connection to the server was lost while the import ran; see GET /imports');
}
