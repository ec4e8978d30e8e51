import { request, type IncomingHttpHeaders } from 'node:http';
import type { Readable } from 'node:stream';

export interface RawAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/** POSTs a streamed body over a real socket; resolves with the answer, or rejects when the connection fails. */
export function postStream(url: string, headers: Record<string, string>, body: Readable): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
      res.on('error', reject);
    });
    req.on('error', reject);
    body.on('error', (error) => req.destroy(error));
    body.pipe(req);
  });
}

const BOUNDARY = '----hr-fault-boundary-Zq81';

/** A multipart/form-data body (field `file`) streamed around a CSV stream. */
export async function* multipartAround(csv: AsyncIterable<Buffer | string>): AsyncIterable<Buffer | string> {
  yield `--${BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="data.csv"\r\nContent-Type: text/csv\r\n\r\n`;
  yield* csv;
  yield `\r\n--${BOUNDARY}--\r\n`;
}

export const MULTIPART_TYPE = `multipart/form-data; boundary=${BOUNDARY}`;

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `check` every `everyMs` until it returns true or `timeoutMs` passes; returns the elapsed ms or throws. */
export async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs: number, everyMs = 10): Promise<number> {
  const start = performance.now();
  for (;;) {
    if (await check()) return performance.now() - start;
    if (performance.now() - start > timeoutMs) throw new Error(`condition not met within ${timeoutMs} ms`);
    await sleep(everyMs);
  }
}
