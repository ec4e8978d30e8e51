/**
 * The Dockerfile's runtime stage, performed without Docker: a fresh folder gets exactly what the
 * stage's COPY lines put in /app (the build output, package*.json, and node_modules from a
 * production-only `npm ci`), then the stage's CMD starts there with the stage's ENV. A runtime
 * dependency declared as a devDependency, or a file the image leaves out, fails here.
 *
 * The production install compiles better-sqlite3 (minutes on two cores) for the Node.js running
 * the tests (24, as the image), so its node_modules is cached under the OS temp folder, keyed by
 * package*.json and the Node version: one compile per change of either. dist/ is always copied afresh.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join, posix } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copies, env, execForm, ofKind, readDockerfile, ROOT, stages, workdir, type Stage } from './dockerfile.js';

const all = stages(readDockerfile());
const runtime = all.at(-1)!;
const INSTALL_TIMEOUT_MS = 9 * 60_000;

/**
 * The Node.js these tests run on (24 under `make test`, maybe a project-local copy in .cache/):
 * its bin/ first on a child's PATH, so `npm` is its npm, and its headers as npm_config_nodedir, so
 * node-gyp compiles better-sqlite3 for this Node offline instead of fetching headers.
 */
const NODE_PREFIX = dirname(dirname(process.execPath));
const NODE_DIR = process.env.npm_config_nodedir ?? (existsSync(join(NODE_PREFIX, 'include/node/node.h')) ? NODE_PREFIX : undefined);

/** How this machine reaches the registry (a proxy, a TLS-inspecting CA), passed on as they are. */
const NETWORK = [
  'HTTPS_PROXY',
  'https_proxy',
  'HTTP_PROXY',
  'http_proxy',
  'NO_PROXY',
  'no_proxy',
  'NODE_EXTRA_CA_CERTS',
  'SSL_CERT_FILE',
  'SSL_CERT_DIR',
];

/**
 * The environment of a child process: PATH (this Node first), HOME, the Node headers and the
 * machine's network settings; no other npm_*, no test settings.
 */
const cleanEnv = (extra: Record<string, string>): Record<string, string> => ({
  PATH: [join(NODE_PREFIX, 'bin'), process.env.PATH ?? '/usr/bin:/bin'].join(delimiter),
  HOME: process.env.HOME ?? tmpdir(),
  ...Object.fromEntries(NETWORK.flatMap((name) => (process.env[name] === undefined ? [] : [[name, process.env[name]!]]))),
  ...(NODE_DIR === undefined ? {} : { npm_config_nodedir: NODE_DIR }),
  ...extra,
});

function run(command: string, args: string[], cwd: string, timeout: number): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(command, args, { cwd, timeout, env: cleanEnv({}), maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) =>
      error ? reject(new Error(`${command} ${args.join(' ')} failed in ${cwd}: ${error.message}\n${stdout}\n${stderr}`)) : resolve(),
    );
  });
}

/** Paths of the context (the repository) that a COPY source names; `*` matches within one segment. */
function contextPaths(source: string): string[] {
  const relative = posix.normalize(source).replace(/^\.?\/?/, '');
  if (!relative.includes('*')) return [relative];
  const dir = posix.dirname(relative);
  const pattern = new RegExp(
    `^${posix
      .basename(relative)
      .replace(/[.+^${}()|[\]\\]/g, '\\$&')
      .replace(/\*/g, '.*')}$`,
  );
  return readdirSync(join(ROOT, dir))
    .filter((name) => pattern.test(name))
    .map((name) => posix.join(dir, name));
}

/**
 * What a stage's /app holds, on this machine: the `build` stage is the repository after
 * `npm run build`; a stage whose RUN is `npm ci --omit=dev` is a production install of package*.json.
 */
async function stageRoot(stage: Stage): Promise<string> {
  const script = ofKind(stage, 'RUN')
    .map((i) => i.args)
    .join('\n');
  if (/\bnpm run build\b/.test(script)) {
    if (!existsSync(join(ROOT, 'dist/server.js'))) await run('npm', ['run', 'build'], ROOT, 5 * 60_000);
    return ROOT;
  }
  if (/\bnpm ci --omit=dev\b/.test(script)) return productionInstall(stage);
  throw new Error(`the test does not know how to rehearse stage ${stage.name}`);
}

/** `npm ci --omit=dev` of the stage's package*.json in a folder of its own, cached by content. */
async function productionInstall(stage: Stage): Promise<string> {
  const files = copies(stage).flatMap((c) => (c.from === undefined ? c.sources.flatMap(contextPaths) : []));
  expect(files.sort()).toEqual(['package-lock.json', 'package.json']);
  const hash = createHash('sha256');
  for (const file of files) hash.update(file).update(readFileSync(join(ROOT, file)));
  hash.update(process.version).update(process.platform).update(process.arch);
  const cached = join(tmpdir(), `globant-api-prod-deps-${hash.digest('hex').slice(0, 16)}`);
  if (existsSync(join(cached, '.complete'))) return cached;

  // Installed beside, then renamed: a run interrupted half-way, or a concurrent run, leaves no half cache.
  const staging = mkdtempSync(join(tmpdir(), 'globant-api-prod-deps-staging-'));
  try {
    for (const file of files) cpSync(join(ROOT, file), join(staging, file));
    await run(
      'npm',
      ['ci', '--omit=dev', '--ignore-scripts=false', '--no-audit', '--no-fund', '--prefer-offline'],
      staging,
      INSTALL_TIMEOUT_MS,
    );
    writeFileSync(join(staging, '.complete'), new Date().toISOString());
    try {
      renameSync(staging, cached);
    } catch {
      if (!existsSync(join(cached, '.complete'))) throw new Error(`could not move ${staging} to ${cached}`);
    }
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
  return cached;
}

/** Lays out the runtime stage's /app in `app`, following its COPY lines. */
async function layOut(app: string): Promise<string[]> {
  const base = workdir(all, runtime);
  const laid: string[] = [];
  for (const copy of copies(runtime)) {
    const from = copy.from === undefined ? undefined : all.find((s) => s.name === copy.from);
    if (copy.from !== undefined && from === undefined) throw new Error(`COPY --from=${copy.from}: no such stage`);
    const root = from === undefined ? ROOT : await stageRoot(from);
    const sources =
      from === undefined
        ? copy.sources.flatMap(contextPaths)
        : copy.sources.map((s) => posix.relative(workdir(all, from), posix.resolve(workdir(all, from), s)));
    for (const source of sources) {
      if (source.startsWith('..')) throw new Error(`COPY source ${source} is outside the stage's WORKDIR`);
      const destination = posix.resolve(base, copy.destination);
      const target = copy.destination.endsWith('/') || sources.length > 1 ? posix.join(destination, posix.basename(source)) : destination;
      const inApp = join(app, posix.relative(base, target));
      if (!existsSync(join(root, source))) throw new Error(`COPY ${source}: missing from ${root}`);
      mkdirSync(join(inApp, '..'), { recursive: true });
      cpSync(join(root, source), inApp, { recursive: true, verbatimSymlinks: true });
      laid.push(posix.relative(base, target));
    }
  }
  return laid;
}

const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address !== null ? resolve(address.port) : reject(new Error('no port'))));
    });
  });

interface Started {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

/** Starts a command of the Dockerfile (exec form) in `app` with the stage's ENV plus `extra`. */
function start(command: string[], app: string, extra: Record<string, string>): Started {
  expect(command[0]).toBe('node');
  const child = spawn(process.execPath, command.slice(1), {
    cwd: app,
    env: cleanEnv({ ...env(runtime), ...extra }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, output: () => output, exited };
}

async function waitForHealth(url: string, server: Started, withinMs: number): Promise<Response> {
  const deadline = Date.now() + withinMs;
  for (;;) {
    if (server.child.exitCode !== null) throw new Error(`the server exited with ${server.child.exitCode}:\n${server.output()}`);
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(2000) });
      if (response.status === 200) return response;
    } catch {
      // Not listening yet.
    }
    if (Date.now() > deadline) throw new Error(`${url} did not answer 200 within ${withinMs} ms:\n${server.output()}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

describe('the Dockerfile runtime stage, rehearsed without Docker', () => {
  let app: string;
  let laid: string[];
  const command = execForm(ofKind(runtime, 'CMD')[0]?.args ?? '') ?? [];
  const healthcheck = execForm(ofKind(runtime, 'HEALTHCHECK')[0]?.args ?? '') ?? [];

  beforeAll(async () => {
    app = mkdtempSync(join(tmpdir(), 'globant-api-runtime-'));
    laid = await layOut(app);
  }, INSTALL_TIMEOUT_MS + 60_000);

  afterAll(() => {
    if (app !== undefined) rmSync(app, { recursive: true, force: true });
  });

  it('runs on the Node.js major of the image (node:24-slim)', () => {
    expect(/^node:(\d+)-/.exec(runtime.from)?.[1]).toBe(process.versions.node.split('.')[0]);
  });

  it('holds only the build output, package*.json and production dependencies', () => {
    expect(laid.sort()).toEqual(['dist', 'node_modules', 'package-lock.json', 'package.json']);
    const modules = readdirSync(join(app, 'node_modules'));
    for (const dev of ['vitest', 'typescript', 'eslint', 'prettier', '@cdktf']) expect(modules, dev).not.toContain(dev);
    expect(modules).toEqual(expect.arrayContaining(['fastify', 'better-sqlite3', 'pg']));
  });

  it("starts with the stage's CMD and ENV (HOST=0.0.0.0) and answers /health, /openapi.json and a report; SIGTERM exits 0", async () => {
    const port = await freePort();
    const server = start(command, app, { PORT: String(port), API_KEY: 'test-key', LOG_LEVEL: 'warn' });
    try {
      const base = `http://127.0.0.1:${port}`;
      const health = await waitForHealth(`${base}/health`, server, 20_000);
      expect(await health.json()).toEqual({ status: 'ok', database: 'sqlite' });
      // DATABASE_URL's relative path lands in the stage's WORKDIR, in var/ (the one writable folder).
      expect(existsSync(join(app, 'var/hr.db'))).toBe(true);
      const headers = { authorization: 'Bearer test-key' };
      expect((await fetch(`${base}/openapi.json`, { headers })).status).toBe(200);
      // Reports read their .sql files from dist/ on first use: they must be in the image.
      expect((await fetch(`${base}/metrics/years`, { headers })).status).toBe(200);
      expect((await fetch(`${base}/docs/static/swagger-ui-bundle.js`, { headers })).status).toBe(200);
      // The dashboard is served from dist/web (scripts/build-web.mjs).
      const page = await fetch(`${base}/`);
      expect(page.status, 'GET / (is dist/web built? `npm run build`)').toBe(200);
      expect(page.headers.get('content-type')).toMatch(/^text\/html/);
      expect((await fetch(`${base}/web/app.js`)).status).toBe(200);

      // The HEALTHCHECK command itself, with the container's environment.
      const probe = start(healthcheck, app, { PORT: String(port) });
      expect(await within(probe.exited, 10_000, 'HEALTHCHECK')).toBe(0);
    } finally {
      server.child.kill('SIGTERM');
      expect(await within(server.exited, 20_000, 'SIGTERM')).toBe(0);
    }
  });

  it('refuses to start on 0.0.0.0 without API_KEY, saying why', async () => {
    const server = start(command, app, { PORT: String(await freePort()) });
    try {
      const code = await within(server.exited, 20_000, 'start without API_KEY');
      expect(code).not.toBe(0);
      expect(server.output()).toMatch(/Refusing to listen on 0\.0\.0\.0 without API_KEY/);
    } finally {
      if (server.child.exitCode === null) server.child.kill('SIGKILL');
    }
  });
});
