import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { SERVER_NODE_FLAGS } from '../src/node-flags.js';

const ROOT = new URL('../', import.meta.url);
const read = (file: string): string => readFileSync(new URL(file, ROOT), 'utf8');

describe('the server starts with the same V8 flags everywhere', () => {
  const flags = SERVER_NODE_FLAGS.join(' ');

  it('npm start and npm run dev', () => {
    const scripts = (JSON.parse(read('package.json')) as { scripts: Record<string, string> }).scripts;
    expect(scripts.start).toBe(`node ${flags} dist/server.js`);
    expect(scripts.dev).toBe(`node ${flags} --watch dist/server.js`);
  });

  it('make run (make server runs npm start)', () => {
    const makefile = read('Makefile');
    expect(makefile).toContain(`node ${flags} --watch-path=dist dist/server.js`);
    expect(makefile).toMatch(/^server:.*\n\t(?:[A-Z_]+="[^"]*" )?npm start$/m);
  });

  it('hold a heap ceiling the server can live with', () => {
    const ceiling = Number(/--max-old-space-size=(\d+)/.exec(flags)?.[1]);
    expect(ceiling).toBeGreaterThanOrEqual(128);
  });
});
