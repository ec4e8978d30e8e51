import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify from 'fastify';
import { afterAll, describe, expect, it } from 'vitest';
import errorHandler from '../../src/plugins/error-handler.js';
import dashboardRoutes from '../../src/routes/dashboard.js';

describe('GET / (the dashboard route)', () => {
  const root = mkdtempSync(join(tmpdir(), 'dashboard-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  const app = async () => {
    const instance = Fastify();
    await instance.register(errorHandler);
    await instance.register(dashboardRoutes, { root });
    return instance;
  };

  it('says how to build the dashboard when it is not built, in the error shape', async () => {
    const res = await (await app()).inject('/');
    expect(res.statusCode).toBe(404);
    expect(res.json()).toEqual({ error: 'NOT_FOUND', message: 'The dashboard is not built: run `npm run build`' });
  });

  it('serves index.html without caching once built (checked per request), and the assets under /web/', async () => {
    const instance = await app();
    writeFileSync(join(root, 'index.html'), '<!doctype html><title>t</title>');
    writeFileSync(join(root, 'app.js'), 'void 0;');
    const page = await instance.inject('/');
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toMatch(/^text\/html/);
    expect(page.headers['cache-control']).toBe('no-cache');
    const script = await instance.inject('/web/app.js');
    expect(script.statusCode).toBe(200);
    expect(script.body).toBe('void 0;');
    expect((await instance.inject('/web/missing.js')).statusCode).toBe(404);
  });
});
