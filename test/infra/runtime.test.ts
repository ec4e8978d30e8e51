/**
 * The Node.js the project runs on: 24 LTS, 22 at the least (engines.node). The tests themselves
 * run on it (the Makefile and .ci/run put scripts/node-prefix.sh's Node first on PATH), and the
 * script prints a prefix whose bin/node is new enough, fetching one when the system's is older.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from './dockerfile.js';

const major = (version: string): number => Number(/^v?(\d+)\./.exec(version)?.[1]);

describe('the Node.js runtime', () => {
  it('runs these tests on Node.js 22 or newer', () => {
    expect(major(process.version)).toBeGreaterThanOrEqual(22);
  });

  it('declares engines.node >=22 in package.json', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { engines?: { node?: string } };
    expect(pkg.engines?.node).toBe('>=22');
  });

  it('scripts/node-prefix.sh prints a prefix whose bin/node is 22 or newer', () => {
    // Its own environment, as make gives it: the PATH of this test run (no network needed when
    // the system Node is new enough or the project-local copy is already in .cache/).
    const prefix = execFileSync(join(ROOT, 'scripts/node-prefix.sh'), { cwd: ROOT, encoding: 'utf8', timeout: 120_000 }).trim();
    expect(prefix.split('\n')).toHaveLength(1);
    const node = join(prefix, 'bin/node');
    expect(existsSync(node), node).toBe(true);
    const version = execFileSync(node, ['--version'], { encoding: 'utf8' }).trim();
    expect(major(version)).toBeGreaterThanOrEqual(22);
  });

  // PROJECT_NODE_LOCAL makes it act as on a machine whose Node is older than 22: the project-local
  // Node 24 in .cache/. Run where that copy is already fetched (the test must not download it).
  const pinned = /^NODE_VERSION=(\S+)$/m.exec(readFileSync(join(ROOT, 'scripts/node-prefix.sh'), 'utf8'))?.[1];
  const local = join(ROOT, `.cache/node-v${pinned}`);
  it.skipIf(!existsSync(join(local, 'bin/node')))(
    'without a new enough system Node, prints the project-local Node 24 with its headers',
    () => {
      const prefix = execFileSync(join(ROOT, 'scripts/node-prefix.sh'), {
        cwd: ROOT,
        encoding: 'utf8',
        env: { ...process.env, PROJECT_NODE_LOCAL: '1' },
      }).trim();
      expect(prefix).toBe(local);
      expect(major(pinned!)).toBe(24);
      expect(execFileSync(join(prefix, 'bin/node'), ['--version'], { encoding: 'utf8' }).trim()).toBe(`v${pinned}`);
      // node-gyp compiles native addons against these (npm_config_nodedir), offline.
      expect(existsSync(join(prefix, 'include/node/node.h'))).toBe(true);
    },
  );
});
