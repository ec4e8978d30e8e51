import { createReadStream, statSync } from 'node:fs';
import http from 'node:http';
import { performance } from 'node:perf_hooks';
import type { UploadReport } from '../../upload-record.js';

/** Keep-alive, as a real client polling the service would be. */
const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });

/** Reads a whole response; `ms` is from `started` to its last byte. */
function readResponse(res: http.IncomingMessage, started: number): Promise<{ ms: number; status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    res.on('data', (c: Buffer) => chunks.push(c));
    res.on('end', () =>
      resolve({ ms: performance.now() - started, status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }),
    );
    res.on('error', reject);
  });
}

export interface Timed<T> {
  ms: number;
  status: number;
  body: T;
}

/** One request; resolves with the status, the parsed JSON body and the time to the last byte. */
export function request<T = unknown>(url: string, init: { method?: string; json?: unknown } = {}): Promise<Timed<T>> {
  return new Promise((resolve, reject) => {
    const payload = init.json === undefined ? undefined : Buffer.from(JSON.stringify(init.json));
    const started = performance.now();
    const req = http.request(
      url,
      {
        method: init.method ?? 'GET',
        agent,
        headers: payload === undefined ? {} : { 'content-type': 'application/json', 'content-length': payload.length },
      },
      (res) =>
        readResponse(res, started)
          .then(({ ms, status, text }) => {
            let body: unknown = text;
            try {
              body = JSON.parse(text);
            } catch {
              // Not JSON: keep the text.
            }
            resolve({ ms, status, body: body as T });
          })
          .catch(reject),
    );
    req.on('error', reject);
    req.end(payload);
  });
}

export async function getJson<T = unknown>(url: string): Promise<T> {
  const res = await request<T>(url);
  if (res.status !== 200) throw new Error(`GET ${url}: ${res.status}`);
  return res.body;
}

export interface UploadResult {
  ms: number;
  report: UploadReport;
}

/**
 * POSTs a file as `text/csv`, streamed from disk (http.request piping a read stream), and waits
 * for the report. `onBytes` sees the bytes sent so far.
 */
export function uploadFile(base: string, table: string, file: string, query = ''): Promise<UploadResult> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const req = http.request(
      `${base}/upload/${table}${query}`,
      { method: 'POST', headers: { 'content-type': 'text/csv', 'content-length': statSync(file).size } },
      (res) =>
        readResponse(res, started)
          .then(({ ms, status, text }) => {
            if (status !== 200) return reject(new Error(`upload of ${file} answered ${status}: ${text.slice(0, 300)}`));
            resolve({ ms, report: JSON.parse(text) as UploadResult['report'] });
          })
          .catch(reject),
    );
    req.on('error', reject);
    createReadStream(file, { highWaterMark: 64 * 1024 })
      .on('error', reject)
      .pipe(req);
  });
}
