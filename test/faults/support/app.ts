import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../../src/app.js';
import { loadConfig, type Config } from '../../../src/config.js';
import { openStore } from '../../../src/store/open-store.js';
import type { Store } from '../../../src/store/store.js';
import type { Backend, TestDatabase } from '../../helpers/backends.js';
import { wrapStore, type StoreOverrides } from './wrap-store.js';

export interface WrappedApp {
  app: FastifyInstance;
  /** The real store under the wrapper. */
  base: Store;
  config: Config;
  db: TestDatabase;
  close(): Promise<void>;
}

/** The production app on a fresh database of `backend`, its store wrapped by `overrides`. */
export async function startWrappedApp(
  backend: Backend | (() => Promise<TestDatabase>),
  overrides: StoreOverrides = {},
  configOverrides: Partial<Config> = {},
): Promise<WrappedApp> {
  const db = typeof backend === 'function' ? await backend() : await backend.create();
  const config = loadConfig({}, { LOG_LEVEL: 'silent', ...configOverrides, DATABASE_URL: db.url });
  const base = await openStore(config);
  const app = await buildApp(config, { store: wrapStore(base, overrides) });
  let closed = false;
  return {
    app,
    base,
    config,
    db,
    close: async () => {
      if (closed) return;
      closed = true;
      await app.close();
      await base.close();
      await db.drop();
    },
  };
}

/** A SQLite database in a file of its own (WAL, a second process can open it). */
export async function sqliteFile(): Promise<TestDatabase & { path: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'hr-fault-'));
  const path = join(dir, 'db.sqlite');
  return { url: `sqlite:${path}`, path, drop: async () => rmSync(dir, { recursive: true, force: true }) };
}

/** Row counts by table name, through the API. */
export async function counts(app: FastifyInstance): Promise<Record<string, number>> {
  const body = (await app.inject('/tables')).json() as { tables: { name: string; rows: number }[] };
  return Object.fromEntries(body.tables.map((t) => [t.name, t.rows]));
}
