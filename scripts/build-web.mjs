// Builds the dashboard (src/web) into dist/web, which src/routes/dashboard.ts serves:
// type-checks src/web with its own tsconfig (the DOM lib), bundles the TypeScript and Chart.js
// with esbuild (no CDN: the page needs nothing beyond this server), copies index.html.
//
//   node scripts/build-web.mjs              type-check, then build (minified, with source maps)
//   node scripts/build-web.mjs --no-check   build only
//   node scripts/build-web.mjs --watch      rebuild on change (no type-check)
//   --outdir DIR                            build elsewhere than dist/web (the tests)
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { brotliCompressSync, gzipSync } from 'node:zlib';
import * as esbuild from 'esbuild';

const root = fileURLToPath(new URL('..', import.meta.url));
const src = join(root, 'src/web');
const argv = process.argv.slice(2);
const args = new Set(argv);
const outdirAt = argv.indexOf('--outdir');
const outdir = outdirAt >= 0 && argv[outdirAt + 1] ? argv[outdirAt + 1] : join(root, 'dist/web');
const watch = args.has('--watch');

if (!watch && !args.has('--no-check')) {
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  try {
    execFileSync(process.execPath, [tsc, '-p', join(src, 'tsconfig.json')], { stdio: 'inherit', cwd: root });
  } catch {
    console.error('build-web: src/web does not type-check (errors above)');
    process.exit(1);
  }
}

rmSync(outdir, { recursive: true, force: true });
mkdirSync(outdir, { recursive: true });
const copyHtml = { name: 'copy-html', setup: (b) => b.onEnd(() => cpSync(join(src, 'index.html'), join(outdir, 'index.html'))) };

const options = {
  entryPoints: [
    { in: join(src, 'main.ts'), out: 'app' },
    { in: join(src, 'styles.css'), out: 'app' },
  ],
  outdir,
  bundle: true,
  format: 'iife',
  target: ['es2022', 'chrome100', 'firefox100', 'safari15'],
  minify: !watch,
  sourcemap: true,
  legalComments: 'linked',
  logLevel: watch ? 'info' : 'warning',
  plugins: [copyHtml],
};

if (watch) {
  const context = await esbuild.context(options);
  await context.watch();
} else {
  await esbuild.build(options);
  // Served as is by @fastify/static (preCompressed) to browsers that accept them.
  for (const name of ['app.js', 'app.css']) {
    const body = readFileSync(join(outdir, name));
    writeFileSync(join(outdir, `${name}.br`), brotliCompressSync(body));
    writeFileSync(join(outdir, `${name}.gz`), gzipSync(body, { level: 9 }));
  }
  // On stderr: commands built before they run (`npm run load`) keep stdout for their own answer.
  for (const name of ['index.html', 'app.js', 'app.js.br', 'app.css']) {
    const path = join(outdir, name);
    console.error(`${relative(root, path).padEnd(22)} ${(statSync(path).size / 1024).toFixed(1).padStart(7)} KB`);
  }
}
