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
}

export interface Comparisons {
  compared: Comparison[];
  skipped: string[];
}

/** The bare engine and the tool a user would pick instead, for one backend. */
export function comparisonReferences(backend: BackendName, pgUrl: string): (Reference | string)[] {
  return backend === 'sqlite' ? [bareSqliteReference(), sqliteUtilsReference()] : [barePostgresReference(pgUrl), pgloaderReference(pgUrl)];
}

/**
 * Loads the same file `runs` times with each reference (after our runs, not interleaved with
 * them) and relates our median to theirs; a tool that is not installed is named and skipped.
 */
export async function compare(
  backend: BackendName,
  rows: number,
  file: string,
  pgUrl: string,
  runs: number,
  oursMedianMs: number,
  log: (message: string) => void,
): Promise<Comparisons> {
  const result: Comparisons = { compared: [], skipped: [] };
  for (const reference of comparisonReferences(backend, pgUrl)) {
    if (typeof reference === 'string') {
      log(`skipped: ${reference}`);
      result.skipped.push(reference);
      continue;
    }
    const times: number[] = [];
    for (let i = 0; i < runs; i++) {
      const ref = await reference.load(file);
      if (ref.rows !== rows) throw new Error(`${reference.tool} stored ${ref.rows} rows, not ${rows}`);
      times.push(round(ref.ms, 1));
      log(`${reference.tool} run ${i + 1}/${runs}: ${(ref.ms / 1000).toFixed(2)} s`);
    }
    const medianMs = median(times);
    result.compared.push({
      tool: reference.tool,
      version: reference.version,
      runs_ms: times,
      median_ms: medianMs,
      ratio: round(oursMedianMs / medianMs, 2),
    });
  }
  return result;
}
