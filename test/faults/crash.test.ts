import { statSync } from 'node:fs';
import { request } from 'node:http';
import { Transform } from 'node:stream';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { BACKENDS, type Backend, type TestDatabase } from '../helpers/backends.js';
import { employeesStream } from '../helpers/generate.js';
import { adminQuery } from '../helpers/postgres.js';
import { startServerProcess, type ServerProcess } from '../helpers/server-process.js';
import { sqliteFile } from './support/app.js';
import { waitFor } from './support/http.js';

const ROWS = 500_000;
/** Kill once this many rows have left the client: well into the upload, far from its end. */
const KILL_AFTER_ROWS = 150_000;
const ROW_BYTES = 52; // about, for employeesStream's rows

interface CrashDatabase extends TestDatabase {
  /** Something of the upload's transaction is in the database, uncommitted. */
  midTransaction(): Promise<boolean>;
  /** Resolves once the killed server's connections are gone. */
  settled(): Promise<void>;
  /** The database's own integrity check. */
  integrity(): Promise<void>;
}

async function crashDatabase(backend: Backend, tag: string): Promise<CrashDatabase> {
  if (backend.name === 'sqlite') {
    const db = await sqliteFile();
    return {
      ...db,
      // The WAL holds the uncommitted chunks (SQLite spills them there as the transaction grows).
      midTransaction: async () => (statSync(`${db.path}-wal`, { throwIfNoEntry: false })?.size ?? 0) > 4 * 2 ** 20,
      settled: async () => undefined,
      integrity: async () => {
        const check = new Database(db.path, { readonly: true });
        try {
          expect(check.pragma('integrity_check', { simple: true })).toBe('ok');
          expect(check.pragma('foreign_key_check')).toEqual([]);
        } finally {
          check.close();
        }
      },
    };
  }
  const db = await backend.create();
  const url = new URL(db.url);
  url.searchParams.set('application_name', tag);
  const schema = /search_path=(\w+)/.exec(decodeURIComponent(db.url))![1]!;
  return {
    url: url.toString(),
    drop: db.drop,
    midTransaction: async () =>
      Number(
        (
          await adminQuery(
            "SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = $1 AND xact_start IS NOT NULL AND state <> 'idle'",
            [tag],
          )
        ).rows[0].n,
      ) > 0,
    // The killed server's connections end as PostgreSQL notices their closed sockets.
    settled: async () => {
      await waitFor(
        async () =>
          Number((await adminQuery('SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = $1', [tag])).rows[0].n) === 0,
        15_000,
        100,
      );
    },
    integrity: async () => {
      // Constraints hold: no duplicate ids, and the maintained report counts match the rows.
      const duplicates = await adminQuery(`SELECT id FROM ${schema}.hired_employees GROUP BY id HAVING count(*) > 1`);
      expect(duplicates.rowCount).toBe(0);
      const constraints = await adminQuery(
        "SELECT conname FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace WHERE n.nspname = $1 AND contype = 'p' AND convalidated",
        [schema],
      );
      expect(constraints.rowCount).toBeGreaterThanOrEqual(3);
    },
  };
}

const post = async (base: string, path: string, body: string) => {
  const res = await fetch(`${base}${path}`, { method: 'POST', headers: { 'content-type': 'text/csv' }, body });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
};

const snapshot = async (base: string) => ({
  tables: await (await fetch(`${base}/tables`)).json(),
  quarters: await (await fetch(`${base}/metrics/hired-employees?year=2021`)).json(),
  aboveMean: await (await fetch(`${base}/metrics/departments-above-mean?year=2021`)).json(),
});

for (const backend of BACKENDS) {
  describe.skipIf(!backend.available)(`kill -9 during a ${ROWS.toLocaleString('en')}-row upload [${backend.name}]`, () => {
    let server: ServerProcess | undefined;
    let db: CrashDatabase | undefined;
    afterAll(async () => {
      await server?.stop('SIGKILL');
      await db?.drop();
    });

    it('restarts with none of its rows, everything committed before intact, the database consistent, and serves', async () => {
      db = await crashDatabase(backend, `hr-crash-${process.pid}-${Date.now()}`);
      const env = { DATABASE_URL: db.url };
      server = await startServerProcess(env);

      // Committed before the crash: departments, jobs, and 2,000 hires with ids far from the upload's.
      expect((await post(server.url, '/upload/departments', '1,Engineering\n2,Sales\n3,Support\n4,Legal\n')).status).toBe(200);
      expect((await post(server.url, '/upload/jobs', '1,Engineer\n2,Seller\n3,Agent\n')).status).toBe(200);
      let earlier = '';
      for (let i = 1; i <= 2000; i++)
        earlier += `${10_000_000 + i},Kept ${i},2021-0${1 + (i % 9)}-10T10:00:00Z,${1 + (i % 4)},${1 + (i % 3)}\n`;
      expect((await post(server.url, '/upload/hired_employees', earlier)).body).toMatchObject({ status: 'committed', inserted: 2000 });
      const before = await snapshot(server.url);

      // The large upload, killed mid-stream.
      let sent = 0;
      const counter = new Transform({
        transform(chunk: Buffer, _encoding, done) {
          sent += chunk.length;
          done(null, chunk);
        },
      });
      const req = request(`${server.url}/upload/hired_employees`, { method: 'POST', headers: { 'content-type': 'text/csv' } });
      const outcome = new Promise<string>((resolve) => {
        req.on('response', (res) => resolve(`answered ${res.statusCode}`));
        req.on('error', (error) => resolve(`connection lost: ${error.message}`));
      });
      employeesStream(ROWS).pipe(counter).pipe(req);
      await waitFor(() => sent >= KILL_AFTER_ROWS * ROW_BYTES, 120_000, 20);
      await waitFor(() => db!.midTransaction(), 30_000, 50);
      const rss = server.rss();
      expect(await server.stop('SIGKILL')).toBe(null);
      expect(await outcome).toMatch(/connection lost/);
      console.log(
        `[${backend.name}] killed after ${(sent / 2 ** 20).toFixed(1)} MB (~${Math.round(sent / ROW_BYTES).toLocaleString('en')} rows) sent; server RSS ${(rss / 2 ** 20).toFixed(0)} MB`,
      );

      await db.settled();
      await db.integrity();

      server = await startServerProcess(env);
      expect((await fetch(`${server.url}/health`)).status).toBe(200);
      expect(await snapshot(server.url)).toEqual(before);
      // None of the killed upload's rows exist: the same ids load again, none a duplicate.
      const again = await post(
        server.url,
        '/upload/hired_employees',
        [...Array(1000).keys()].map((i) => `${i + 1},Again,2022-01-01T00:00:00Z,1,1`).join('\n'),
      );
      expect(again.body).toMatchObject({ status: 'committed', inserted: 1000, rejected: 0 });
      await db.integrity();
    });
  });
}
