import type { BackendResult } from './run.js';
import { round } from './stats.js';

export interface TargetCheck {
  backend: string;
  rows: number | string;
  what: string;
  value: number;
  target: string;
  met: boolean;
}

const fmtRows = (n: number): string => (n % 1_000_000 === 0 ? `${n / 1_000_000}M` : n % 1000 === 0 ? `${n / 1000}k` : String(n));

/** The targets, checked against one run's figures. */
export function checkTargets(results: BackendResult[]): TargetCheck[] {
  const checks: TargetCheck[] = [];
  const add = (r: BackendResult, what: string, value: number, target: string, met: boolean): void => {
    checks.push({ backend: r.backend, rows: r.rows, what, value: round(value), target, met });
  };
  for (const r of results) {
    const ref = r.upload?.reference;
    if (ref !== undefined) {
      const limit = r.backend === 'sqlite' ? 1.0 : 1.3;
      add(r, `upload time / ${ref.tool}`, ref.ratio, `≤ ${limit.toFixed(1)}×`, ref.ratio <= limit);
    }
    for (const c of r.upload?.comparisons?.compared ?? []) {
      add(r, `upload time / ${c.tool}`, c.ratio, limitText(c), c.strict ? c.ratio < c.limit : c.ratio <= c.limit);
    }
    if (r.memory !== undefined) add(r, 'server peak RSS during upload (MB)', r.memory.peak_rss_mb, '≤ 150', r.memory.peak_rss_mb <= 150);
    if (r.latency !== undefined) {
      for (const [name, l] of Object.entries(r.latency)) {
        const cold = Math.max(l.after_upload_ms, l.cold.p99_ms);
        add(r, `${name}: first request after a write, worst (ms)`, cold, '≤ 50', cold <= 50);
      }
    }
    if (r.throughput !== undefined) {
      const health = r.throughput.health.requests_per_s;
      for (const name of ['hired_employees', 'departments_above_mean'] as const) {
        const t = r.throughput[name];
        add(r, `${name}: throughput / /health`, t.requests_per_s / health, '≥ 0.5', t.requests_per_s >= health / 2);
        add(r, `${name}: p99 under load (ms)`, t.p99_ms, '≤ 20', t.p99_ms <= 20);
      }
    }
    if (r.restore !== undefined) {
      // Issue 16: restore at the upload's speed, backup at 500,000 rows/s at least (medians of the runs).
      add(r, 'restore rate / upload rate', r.restore.vs_upload, '≥ 1.0×', r.restore.vs_upload >= 1);
      add(r, 'backup rows/s', r.restore.backup_rows_per_s, '≥ 500000', r.restore.backup_rows_per_s >= 500_000);
    }
    if (r.during !== undefined) {
      for (const [name, l] of Object.entries(r.during.latency)) {
        add(r, `${name}: p99 during an upload (ms)`, l.p99_ms, '≤ 100', l.p99_ms <= 100);
      }
    }
  }
  for (const backend of new Set(results.map((r) => r.backend))) {
    const sized = results.filter((r) => r.backend === backend && r.upload !== undefined).sort((a, b) => a.rows - b.rows);
    for (let i = 1; i < sized.length; i++) {
      const small = sized[0]!;
      const big = sized[i]!;
      const work = big.rows / small.rows;
      const cost = big.upload!.median_ms / small.upload!.median_ms;
      // Issue 16: 10M rows in ≤ 10.5× the 1M time, i.e. 5% over linear.
      checks.push({
        backend,
        rows: `${fmtRows(big.rows)}/${fmtRows(small.rows)}`,
        what: 'upload time ratio',
        value: round(cost),
        target: `≤ ${round(work * 1.05, 1)}×`,
        met: cost <= work * 1.05,
      });
    }
  }
  return checks;
}

const limitText = (c: { limit: number; strict: boolean }): string => `${c.strict ? '<' : '≤'} ${c.limit.toFixed(1)}×`;

/**
 * Our HTTP upload against every reference of one run, a line each: the same-schema reference, the
 * bare engine (PK-only table) and the tool a user would pick; medians of the runs, and the ratio
 * (ours ÷ theirs) against issue 16's bound. Missing tools are listed as skipped.
 */
export function ratiosTable(results: BackendResult[]): string {
  const rows: [string, ...string[]][] = [];
  for (const r of results) {
    const upload = r.upload;
    if (upload === undefined) continue;
    const ours = `${ms(upload.median_ms)} (${upload.runs.length})`;
    const at = `${r.backend} ${fmtRows(r.rows)}`;
    if (upload.reference !== undefined) {
      const ref = upload.reference;
      rows.push([at, `${ref.tool}, same schema`, ours, `${ms(ref.median_ms)} (${ref.runs_ms.length})`, `${ref.ratio.toFixed(2)}×`, '']);
    } else if (upload.reference_skipped !== undefined) rows.push([at, `skipped: ${upload.reference_skipped}`, ours, '–', '–', '']);
    for (const c of upload.comparisons?.compared ?? []) {
      const met = c.strict ? c.ratio < c.limit : c.ratio <= c.limit;
      rows.push([
        at,
        c.tool,
        ours,
        `${ms(c.median_ms)} (${c.runs_ms.length})`,
        `**${c.ratio.toFixed(2)}×**`,
        `${limitText(c)} ${met ? 'yes' : 'NO'}`,
      ]);
    }
    for (const s of upload.comparisons?.skipped ?? []) rows.push([at, `skipped: ${s}`, ours, '–', '–', '']);
  }
  if (rows.length === 0) return '';
  return markdown([
    ['backend, rows', 'reference', 'our upload, median (runs)', 'reference, median (runs)', 'ours ÷ reference', 'target'],
    ...rows,
  ]);
}

const ms = (n: number | undefined): string =>
  n === undefined || !Number.isFinite(n) ? '–' : n >= 1000 ? `${(n / 1000).toFixed(2)} s` : `${n.toFixed(1)} ms`;

/** A Markdown table of the figures, one column per backend and size. */
export function figuresTable(results: BackendResult[]): string {
  const rows: [string, ...string[]][] = [];
  const header = ['', ...results.map((r) => `${r.backend} ${fmtRows(r.rows)}`)];
  const line = (label: string, cell: (r: BackendResult) => string): void => {
    const cells = results.map(cell);
    if (cells.some((c) => c !== '–')) rows.push([label, ...cells]);
  };
  line('upload, median', (r) => ms(r.upload?.median_ms));
  line('upload runs', (r) => r.upload?.runs.map((x) => (x.ms / 1000).toFixed(2)).join(' / ') ?? '–');
  line('rows/s', (r) => r.upload?.rows_per_s.toLocaleString('en-US') ?? '–');
  // The references and the ratios to them: ratiosTable.
  line('peak RSS (VmHWM)', (r) => (r.memory === undefined ? '–' : `${r.memory.peak_rss_mb} MB`));
  line('RSS at 25% / end', (r) => (r.memory === undefined ? '–' : `${r.memory.rss_at_25pct_mb} / ${r.memory.rss_at_end_mb} MB`));
  for (const name of ['hired_employees', 'departments_above_mean']) {
    line(`${name}: after the upload`, (r) => ms(r.latency?.[name]?.after_upload_ms));
    line(`${name}: cold p50 / p99`, (r) =>
      r.latency?.[name] === undefined ? '–' : `${ms(r.latency[name].cold.p50_ms)} / ${ms(r.latency[name].cold.p99_ms)}`,
    );
    line(`${name}: warm p50 / p99`, (r) =>
      r.latency?.[name] === undefined ? '–' : `${ms(r.latency[name].warm.p50_ms)} / ${ms(r.latency[name].warm.p99_ms)}`,
    );
  }
  for (const name of ['health', 'hired_employees', 'departments_above_mean'] as const) {
    line(`${name}: req/s (p99), 16 clients`, (r) =>
      r.throughput === undefined ? '–' : `${r.throughput[name].requests_per_s.toLocaleString('en-US')} (${ms(r.throughput[name].p99_ms)})`,
    );
  }
  for (const name of ['health', 'hired_employees', 'departments_above_mean'] as const) {
    line(`${name}: p50 / p99 / max during upload`, (r) =>
      r.during === undefined
        ? '–'
        : `${ms(r.during.latency[name].p50_ms)} / ${ms(r.during.latency[name].p99_ms)} / ${ms(r.during.latency[name].max_ms)}`,
    );
  }
  line('upload with readers polling', (r) => ms(r.during?.upload_ms));
  return markdown([header as [string, ...string[]], ...rows]);
}

export function targetsTable(checks: TargetCheck[]): string {
  return markdown([
    ['backend', 'rows', 'target', 'value', 'limit', 'met'],
    ...checks.map((c): [string, ...string[]] => [
      c.backend,
      typeof c.rows === 'number' ? fmtRows(c.rows) : c.rows,
      c.what,
      String(c.value),
      c.target,
      c.met ? 'yes' : 'NO',
    ]),
  ]);
}

function markdown(table: [string, ...string[]][]): string {
  const widths = table[0]!.map((_, i) => Math.max(3, ...table.map((row) => (row[i] ?? '').length)));
  const format = (row: string[]): string => `| ${row.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  return [format(table[0]!), `| ${widths.map((w) => '-'.repeat(w)).join(' | ')} |`, ...table.slice(1).map(format)].join('\n');
}
