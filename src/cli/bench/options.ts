import { parseArgs } from 'node:util';
import type { BackendName } from './databases.js';

export const PARTS = ['upload', 'memory', 'latency', 'throughput', 'during', 'restore', 'import'] as const;
export type Part = (typeof PARTS)[number];

export interface BenchOptions {
  rows: number[];
  runs: number;
  backends: BackendName[];
  parts: Set<Part>;
  seed: number;
  /** Seconds of autocannon per endpoint. */
  duration: number;
  connections: number;
  batchSize: number | undefined;
  pgUrl: string;
  outDir: string;
  /** Directory for the server's --cpu-prof profiles, when profiling. */
  cpuProf: string | undefined;
  label: string | undefined;
}

export const USAGE = `Usage: npm run bench -- [options]
  --rows N[,N…]        rows of the generated hired_employees file (default 1000000); several sizes
                       also give the cost ratio, e.g. --rows 1000000,10000000
  --runs N             timed uploads per backend and size; medians are reported (default 3)
  --backends LIST      sqlite,postgres (default both; PostgreSQL is skipped when unreachable)
  --parts LIST         ${PARTS.join(',')} (default all)
  --seed S             generator seed (default 1)
  --duration S         autocannon seconds per endpoint (default 5)
  --connections N      autocannon connections (default 16)
  --batch-size N       the upload's batch_size (default: the server's)
  --pg-url URL         PostgreSQL to create fresh schemas in (default $BENCH_PG_URL or
                       postgres://postgres@127.0.0.1:5432/test)
  --out DIR            where the JSON results go (default bench/results)
  --cpu-prof DIR       run the server with node --cpu-prof, profiles written to DIR
  --label TEXT         a note stored with the results`;

const list = (text: string): string[] =>
  text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');

function integer(text: string, name: string, min: number): number {
  const n = Number(text.replaceAll('_', ''));
  if (!Number.isSafeInteger(n) || n < min) throw new Error(`--${name} must be an integer ≥ ${min}, not "${text}"`);
  return n;
}

/** Parses the command line; throws with a message on anything unknown. */
export function parseOptions(argv: string[]): BenchOptions | 'help' {
  const { values } = parseArgs({
    args: argv,
    options: {
      rows: { type: 'string', default: '1000000' },
      runs: { type: 'string', default: '3' },
      backends: { type: 'string', default: 'sqlite,postgres' },
      parts: { type: 'string', default: PARTS.join(',') },
      seed: { type: 'string', default: '1' },
      duration: { type: 'string', default: '5' },
      connections: { type: 'string', default: '16' },
      'batch-size': { type: 'string' },
      'pg-url': { type: 'string', default: process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test' },
      out: { type: 'string', default: 'bench/results' },
      'cpu-prof': { type: 'string' },
      label: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return 'help';
  const backends = list(values.backends);
  for (const b of backends) if (b !== 'sqlite' && b !== 'postgres') throw new Error(`unknown backend "${b}": use sqlite,postgres`);
  const parts = list(values.parts);
  for (const p of parts) if (!(PARTS as readonly string[]).includes(p)) throw new Error(`unknown part "${p}": use ${PARTS.join(',')}`);
  return {
    rows: list(values.rows).map((r) => integer(r, 'rows', 1)),
    runs: integer(values.runs, 'runs', 1),
    backends: backends as BackendName[],
    parts: new Set(parts as Part[]),
    seed: integer(values.seed, 'seed', 0),
    duration: integer(values.duration, 'duration', 1),
    connections: integer(values.connections, 'connections', 1),
    batchSize: values['batch-size'] === undefined ? undefined : integer(values['batch-size'], 'batch-size', 1),
    pgUrl: values['pg-url'],
    outDir: values.out,
    cpuProf: values['cpu-prof'],
    label: values.label,
  };
}
