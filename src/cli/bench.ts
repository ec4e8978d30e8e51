/**
 * `npm run bench`: the built server (dist/server.js) on loopback, a fresh database per run, the
 * generated file uploaded over HTTP, side by side with the database's own bulk loader; prints a
 * table and writes the figures as JSON under bench/results/. See the README's Performance section.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { writeGenerated } from './gen/write.js';
import { postgresUsable, sqliteSchema } from './bench/databases.js';
import { parseOptions, USAGE, type BenchOptions } from './bench/options.js';
import { postgresReference, sqliteReference, type Reference } from './bench/references.js';
import { checkTargets, figuresTable, ratiosTable, targetsTable } from './bench/report.js';
import { benchBackend, type BackendResult, type Files } from './bench/run.js';
import { importTable } from './bench/import.js';
import { restoreTable } from './bench/restore.js';

const log = (message: string): void => console.error(`[bench] ${message}`);

function machine() {
  const cpu = cpus();
  const db = new Database(':memory:');
  const sqlite = db.prepare('SELECT sqlite_version()').pluck().get() as string;
  db.close();
  return {
    cpu: cpu[0]?.model ?? 'unknown',
    cores: cpu.length,
    memory_gb: Number((totalmem() / 1024 ** 3).toFixed(1)),
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
    sqlite_library: sqlite,
    load_average_at_start: loadavg().map((n) => Number(n.toFixed(2))),
  };
}

async function generate(dir: string, rows: number, seed: number): Promise<Files> {
  const started = Date.now();
  const files = {
    hired_employees: join(dir, `hired_employees-${rows}.csv`),
    departments: join(dir, 'departments.csv'),
    jobs: join(dir, 'jobs.csv'),
  };
  const { bytes } = await writeGenerated({ table: 'hired_employees', rows, seed }, files.hired_employees);
  await writeGenerated({ table: 'departments', rows: 12, seed }, files.departments);
  await writeGenerated({ table: 'jobs', rows: 183, seed }, files.jobs);
  log(`generated ${rows} rows (${(bytes / 1e6).toFixed(1)} MB) in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return { ...files, bytes };
}

async function references(options: BenchOptions): Promise<Map<string, Reference | string>> {
  const refs = new Map<string, Reference | string>();
  if (options.backends.includes('sqlite')) refs.set('sqlite', sqliteReference(await sqliteSchema()));
  if (options.backends.includes('postgres')) {
    const problem = await postgresUsable(options.pgUrl);
    refs.set('postgres', problem === undefined ? postgresReference(options.pgUrl) : `PostgreSQL unusable here: ${problem}`);
  }
  return refs;
}

async function main(): Promise<void> {
  let options;
  try {
    options = parseOptions(process.argv.slice(2));
  } catch (error) {
    console.error(`${(error as Error).message}\n\n${USAGE}`);
    process.exit(2);
  }
  if (options === 'help') {
    console.log(USAGE);
    return;
  }
  const started = new Date();
  const info = machine();
  log(`${info.cores} × ${info.cpu}, load average ${info.load_average_at_start.join(' ')}`);
  const refs = await references(options);
  const backends = options.backends.filter((b) => {
    const ref = refs.get(b);
    if (b === 'postgres' && typeof ref === 'string' && ref.startsWith('PostgreSQL unusable')) {
      log(`skipping postgres: ${ref}`);
      return false;
    }
    if (typeof ref === 'string') log(`${b}: no reference: ${ref}`);
    return true;
  });
  const skipped = options.backends.filter((b) => !backends.includes(b)).map((b) => ({ backend: b, reason: refs.get(b) }));

  const dir = mkdtempSync(join(tmpdir(), 'hr-bench-files-'));
  const results: BackendResult[] = [];
  try {
    for (const rows of options.rows) {
      const files = await generate(dir, rows, options.seed);
      for (const backend of backends) results.push(await benchBackend(backend, rows, files, options, refs.get(backend)));
      rmSync(files.hired_employees, { force: true });
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }

  const checks = checkTargets(results);
  const output = {
    started_at: started.toISOString(),
    finished_at: new Date().toISOString(),
    label: options.label ?? null,
    machine: { ...info, load_average_at_end: loadavg().map((n) => Number(n.toFixed(2))) },
    options: { ...options, parts: [...options.parts], pgUrl: undefined, cpuProf: options.cpuProf ?? null },
    skipped,
    results,
    targets: checks,
  };
  mkdirSync(options.outDir, { recursive: true });
  const name = `${started.toISOString().replaceAll(':', '-').slice(0, 19)}-${options.rows.map(String).join('-')}.json`;
  const path = join(options.outDir, name);
  writeFileSync(path, `${JSON.stringify(output, null, 2)}\n`);
  console.log(`\n${figuresTable(results)}\n`);
  const ratios = ratiosTable(results);
  if (ratios !== '') console.log(`${ratios}\n`);
  console.log(`${targetsTable(checks)}\n`);
  const restores = restoreTable(results);
  if (restores !== '') console.log(`${restores}\n`);
  const imports = importTable(results);
  if (imports !== '') console.log(`${imports}\n`);
  for (const s of skipped) console.log(`skipped ${s.backend}: ${String(s.reason)}`);
  console.log(`machine: ${info.cores} × ${info.cpu}, ${info.memory_gb} GB, Node ${info.node}, SQLite ${info.sqlite_library}`);
  console.log(`results: ${path}`);
}

await main();
