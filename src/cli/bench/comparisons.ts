import { barePostgresReference, bareSqliteReference } from './bare-references.js';
import type { BackendName } from './databases.js';
import type { Reference } from './references.js';
import { median, round } from './stats.js';
import { pgloaderReference, sqliteUtilsReference } from './tool-references.js';

/** One reference beside the upload: its runs, median and our upload's median ÷ its median. */
export interface Comparison {
  tool: string;
  version: string;
  runs_ms: number[];
  median_ms: number;
  /** Our HTTP upload's median ÷ this reference's median (below 1: we are faster). */
  ratio: number;
  /** Issue 16's bound on that ratio: ≤ 1.5× bare sqlite3, ≤ 2.0× bare psql, below 1 against the tools. */
  limit: number;
  /** Whether the ratio must stay strictly below `limit` (we must be faster than the tools). */
  strict: boolean;
}

export interface Comparisons {
  compared: Comparison[];
  skipped: string[];
}

interface Candidate {
  reference: Reference | string;
  limit: number;
  strict: boolean;
}

/** The bare engine and the tool a user would pick instead, for one backend, with issue 16's bounds. */
export function comparisonReferences(backend: BackendName, pgUrl: string): Candidate[] {
  return backend === 'sqlite'
    ? [
        { reference: bareSqliteReference(), limit: 1.5, strict: false },
        { reference: sqliteUtilsReference(), limit: 1, strict: true },
      ]
    : [
        { reference: barePostgresReference(pgUrl), limit: 2, strict: false },
        { reference: pgloaderReference(pgUrl), limit: 1, strict: true },
      ];
}

/**
 * The comparisons of one backend and file: each installed reference loads the file once per run
 * of ours, right after it (the machine is shared: a ratio of runs made minutes apart would
 * measure the neighbours), and the medians are related at the end; a tool that is not installed
 * is named and skipped.
 */
export class ComparisonRuns {
  private readonly candidates: Candidate[];
  private readonly times = new Map<Candidate, number[]>();

  constructor(
    backend: BackendName,
    pgUrl: string,
    private readonly log: (message: string) => void,
  ) {
    this.candidates = comparisonReferences(backend, pgUrl);
    for (const c of this.candidates) if (typeof c.reference === 'string') log(`skipped: ${c.reference}`);
  }

  /** Loads `file` once with every installed reference; each must store `rows` rows. */
  async runOnce(file: string, rows: number, run: number, runs: number): Promise<void> {
    for (const candidate of this.candidates) {
      const reference = candidate.reference;
      if (typeof reference === 'string') continue;
      const ref = await reference.load(file);
      if (ref.rows !== rows) throw new Error(`${reference.tool} stored ${ref.rows} rows, not ${rows}`);
      const times = this.times.get(candidate) ?? [];
      times.push(round(ref.ms, 1));
      this.times.set(candidate, times);
      this.log(`${reference.tool} run ${run}/${runs}: ${(ref.ms / 1000).toFixed(2)} s`);
    }
  }

  /** Every reference's median beside ours. */
  result(oursMedianMs: number): Comparisons {
    const result: Comparisons = { compared: [], skipped: [] };
    for (const candidate of this.candidates) {
      const { reference, limit, strict } = candidate;
      if (typeof reference === 'string') {
        result.skipped.push(reference);
        continue;
      }
      const times = this.times.get(candidate) ?? [];
      if (times.length === 0) continue;
      const medianMs = median(times);
      result.compared.push({
        tool: reference.tool,
        version: reference.version,
        runs_ms: times,
        median_ms: medianMs,
        ratio: round(oursMedianMs / medianMs, 2),
        limit,
        strict,
      });
    }
    return result;
  }
}
