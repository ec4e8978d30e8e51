/**
 * JSON bodies and streamed downloads take one of a few turns before anything of them is read
 * (src/plugins/memory-gates.ts): what they hold in the heap is bounded whatever the number of
 * clients. Past the turns a request waits, then answers 503 BUSY having done nothing; a turn
 * comes back when its request ends, however it ends.
 */
import net from 'node:net';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { DOWNLOADS_AT_ONCE, JSON_BODIES_AT_ONCE } from '../../src/plugins/memory-gates.js';
import { listen } from '../helpers/app.js';

const WAIT_MS = 1500;

/**
 * Sends a request's head (and `start` of its body) and then nothing more; with `answered`, waits
 * for the first bytes of its answer first (it holds its turn then). Then it reads no more.
 */
function hold(url: string, head: string, start = '', answered = false): Promise<net.Socket> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: hostname, port: Number(port) }, () => {
      socket.write(`${head}\r\nHost: ${hostname}\r\n\r\n${start}`);
      if (!answered) {
        socket.pause();
        resolve(socket);
      }
    });
    if (answered) {
      socket.once('data', () => {
        socket.pause();
        resolve(socket);
      });
    }
    socket.on('error', reject);
  });
}

const employee = (id: number) => ({ id, name: `E${id}`, datetime: '2021-01-01T00:00:00Z', department_id: 1, job_id: 1 });

describe('memory gates [sqlite]', () => {
  let app: FastifyInstance;
  let url: string;

  beforeAll(async () => {
    app = await buildApp(
      loadConfig(
        {},
        { LOG_LEVEL: 'silent', DATABASE_URL: 'sqlite::memory:', WRITE_QUEUE_TIMEOUT_MS: WAIT_MS, UPLOAD_IDLE_TIMEOUT_MS: 60_000 },
      ),
    );
    url = await listen(app);
  });
  afterAll(async () => app?.close());

  it(`${JSON_BODIES_AT_ONCE} JSON bodies at once: the next waits, then 503 BUSY having written nothing; a freed turn lets it in`, async () => {
    const body = JSON.stringify([employee(1)]);
    const held = await Promise.all(
      Array.from({ length: JSON_BODIES_AT_ONCE }, () =>
        hold(
          url,
          `POST /batch/hired_employees HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: ${body.length + 10}`,
          body.slice(0, 5),
        ),
      ),
    );
    try {
      const started = performance.now();
      const refused = await fetch(`${url}/batch/hired_employees`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
      });
      expect(refused.status).toBe(503);
      expect(await refused.json()).toMatchObject({ error: 'BUSY' });
      expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(performance.now() - started).toBeGreaterThanOrEqual(WAIT_MS - 50);
      // Reads take no turn.
      expect((await fetch(`${url}/health`)).status).toBe(200);
      expect((await (await fetch(`${url}/tables`)).json()).tables.find((t: { name: string }) => t.name === 'hired_employees').rows).toBe(0);

      // A turn comes back when its client goes away: the next request is let in.
      held.pop()!.destroy();
      const admitted = await fetch(`${url}/batch/hired_employees`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
      });
      expect(admitted.status).toBe(201);
    } finally {
      for (const socket of held) socket.destroy();
    }
  });

  it(`${DOWNLOADS_AT_ONCE} downloads at once: the next waits, then 503 BUSY; a finished one frees its turn`, async () => {
    // 15 MB of rejected records: more than the sockets' buffers, so an unread download stays open.
    const rejected = Array.from({ length: 250 }, (_, i) => `x${i},Worse ${'w'.repeat(60_000)}`).join('\n');
    const upload = await fetch(`${url}/upload/departments`, { method: 'POST', headers: { 'content-type': 'text/csv' }, body: rejected });
    const { upload_id: id } = (await upload.json()) as { upload_id: string };
    const held = await Promise.all(
      Array.from({ length: DOWNLOADS_AT_ONCE }, () => hold(url, `GET /uploads/${id}/rejects.csv HTTP/1.1`, '', true)),
    );
    try {
      const refused = await fetch(`${url}/uploads/${id}/rejects.csv`);
      expect(refused.status).toBe(503);
      expect(await refused.json()).toMatchObject({ error: 'BUSY' });
      // Cut by their clients, they give their turns back.
      for (const socket of held) socket.destroy();
      held.length = 0;
      let answer: Response | undefined;
      for (let i = 0; i < 50 && answer?.status !== 200; i++) {
        answer = await fetch(`${url}/uploads/${id}/rejects.csv`);
        if (answer.status !== 200) await new Promise((r) => setTimeout(r, 50));
      }
      expect(answer!.status).toBe(200);
      expect(await answer!.text()).toContain('Worse');
    } finally {
      for (const socket of held) socket.destroy();
    }
  });
});
