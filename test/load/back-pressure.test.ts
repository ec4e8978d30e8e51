import type { Socket } from 'node:net';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startWrappedApp, type WrappedApp } from '../faults/support/app.js';
import { MULTIPART_TYPE, multipartAround, postStream } from '../faults/support/http.js';
import { listen } from '../helpers/app.js';
import { sqliteBackend } from '../helpers/backends.js';
import { employeesStream } from '../helpers/generate.js';

const ROWS = 100_000; // about 5 MB
const DELAY_MS = 10; // per 1,000-row chunk: a database about ten times slower than SQLite here
/** Bytes the server may read beyond what the database has taken (buffers, one chunk); the body is ~5 MB. */
const SLACK = 2 ** 20;

describe('back-pressure: a slow database slows the upload instead of filling memory', () => {
  let t: WrappedApp;
  let url: string;
  let socket: Socket | undefined;
  /** What the socket had read before this request (a kept-alive socket carries earlier ones). */
  let readBefore = 0;
  /** Bytes of the rows the database has taken so far (each row's text and its CRLF). */
  let stored = 0;

  beforeAll(async () => {
    t = await startWrappedApp(sqliteBackend, {
      openLoad: async (base, table, options) => {
        const session = await base.openLoad(table, options);
        return {
          write: async (rows) => {
            await new Promise((resolve) => setTimeout(resolve, DELAY_MS));
            const outcome = await session.write(rows);
            for (const row of rows) stored += row.raw.length + 2;
            return outcome;
          },
          finish: () => session.finish(),
          commit: (record, rejects) => session.commit(record, rejects),
          rollback: () => session.rollback(),
        };
      },
    });
    t.app.addHook('onRequest', async (request) => {
      if (!request.url.startsWith('/upload/')) return;
      socket = request.raw.socket;
      readBefore = socket.bytesRead;
    });
    url = await listen(t.app);
  });
  afterAll(() => t?.close());

  for (const mode of ['text/csv', 'multipart'] as const) {
    it(`reads the body only as fast as the database writes it (${mode})`, async () => {
      await t.app.inject({ method: 'POST', url: '/reset-db' });
      stored = 0;
      socket = undefined;
      let maxAhead = 0;
      const sampler = setInterval(() => {
        if (socket !== undefined) maxAhead = Math.max(maxAhead, socket.bytesRead - readBefore - stored);
      }, 5);
      const started = performance.now();
      const body = mode === 'text/csv' ? employeesStream(ROWS) : Readable.from(multipartAround(employeesStream(ROWS)));
      const answer = await postStream(
        `${url}/upload/hired_employees`,
        { 'content-type': mode === 'text/csv' ? 'text/csv' : MULTIPART_TYPE },
        body,
      );
      clearInterval(sampler);
      const elapsed = performance.now() - started;
      expect(answer.status).toBe(200);
      expect(JSON.parse(answer.body)).toMatchObject({ inserted: ROWS });
      console.log(
        `[${mode}] ${(stored / 2 ** 20).toFixed(1)} MB in ${(elapsed / 1000).toFixed(1)} s; the server read at most ${(maxAhead / 2 ** 10).toFixed(0)} KB ahead of the database`,
      );
      // The whole body went through, but the server never held more than a little of it unwritten.
      expect(stored).toBeGreaterThan(4.5 * 2 ** 20);
      expect(maxAhead).toBeLessThan(SLACK);
      // And the upload took at least as long as the slow database needed.
      expect(elapsed).toBeGreaterThanOrEqual((ROWS / 1000) * DELAY_MS);
    });
  }
});
