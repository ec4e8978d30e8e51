import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { sqliteBackend } from '../helpers/backends.js';
import { startApp, type TestApp } from '../helpers/app.js';

// Spy on the comparison the auth plugin uses (this file only: vi.mock is hoisted per file).
const compare = vi.hoisted(() => ({ calls: [] as [number, number][] }));
vi.mock('node:crypto', async (importOriginal) => {
  const crypto = await importOriginal<typeof import('node:crypto')>();
  return {
    ...crypto,
    default: crypto,
    timingSafeEqual: (a: NodeJS.ArrayBufferView, b: NodeJS.ArrayBufferView) => {
      compare.calls.push([a.byteLength, b.byteLength]);
      return crypto.timingSafeEqual(a, b);
    },
  };
});

describe('API key comparison', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp(sqliteBackend, { API_KEY: 'short,a-much-longer-second-key-0123456789,third' });
  });
  afterAll(() => t?.close());

  it('compares in constant time against every key, with equal lengths, whatever is offered and whichever key matches', async () => {
    for (const offered of ['x', 'short', 'a-much-longer-second-key-0123456789', 'third', 'y'.repeat(4000), 'shor']) {
      compare.calls.length = 0;
      await t.app.inject({ method: 'POST', url: '/reset-db', headers: { authorization: `Bearer ${offered}` } });
      // One timingSafeEqual per configured key, never an early exit; digests make lengths equal.
      expect(compare.calls, offered).toEqual([
        [32, 32],
        [32, 32],
        [32, 32],
      ]);
    }
  });
});
