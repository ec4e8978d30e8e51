import type { PoolClient } from 'pg';
import { primaryKeyOf, TABLES, type TableDef } from '../../tables.js';
import { quoteIdent, SQL_TYPES } from '../ddl.js';
import type { CopyRows, LoadOptions, LoadOutcome, LoadSession, Rejection, StagedRow, UploadRecord } from '../store.js';
import { copyField, copyIn, copyLineFor, CopyWriter, type CopyValue } from './copy-text.js';
import { mapPgError } from './errors.js';
import { HireCountTally } from './hire-count-tally.js';
import { lockWithin } from './pool-budget.js';
import { throwIfGone } from '../write-turns.js';
import { insertUploadLog } from './postgres-upload-log.js';
import { SeenKeys } from './seen-keys.js';
import { buildIndexes, prepareSwap, swapTables, type TableSwap } from './table-swap.js';

/** Rows staged before they are applied, even if the file is longer: bounds the rejects held in memory. */
export const APPLY_EVERY = 100_000;
/**
 * Raw text staged before it is applied, whatever the rows: an apply reads its rejected rows back
 * at once, and 100,000 records of 64 KiB would be 6 GiB of heap (see README, "The heap").
 */
const APPLY_CHARS = 8 << 20;

const STAGE = 'pg_temp.load_stage';
const REJECTED = 'pg_temp.load_rejected';

const empty = (): LoadOutcome => ({ inserted: 0, updated: 0, incomplete: 0, rejected: [] });

const merge = (a: LoadOutcome, b: LoadOutcome): LoadOutcome => ({
  inserted: a.inserted + b.inserted,
  updated: a.updated + b.updated,
  incomplete: a.incomplete + b.incomplete,
  rejected: [...a.rejected, ...b.rejected],
});

/** Rows copied on the fast path past which hire_counts is analyzed after the commit (see analyzeCounts). */
const ANALYZE_AFTER = 10_000;

/** A row as a line of the staging table (line, raw, incomplete, then its values' COPY line). */
const stageLine = (row: StagedRow, valuesLine: string): string =>
  `${row.line}\t${copyField(row.raw)}\t${copyField(row.incomplete)}\t${valuesLine}`;

/**
 * A chunk's rows as staging COPY text (line, raw, incomplete, values), for a replay of a direct
 * segment or a byte-path chunk on the staging path.
 */
function* stageText(chunks: readonly CopyRows[]): Iterable<string> {
  for (const chunk of chunks) {
    const values = chunk.text.toString().split('\n');
    let text = '';
    for (let i = 0; i < chunk.count; i++) {
      const line = chunk.rows[3 * i]!;
      const raw = chunk.raw.toString('utf8', chunk.rows[3 * i + 1], chunk.rows[3 * i + 2]);
      text += `${Math.floor(line / 2)}\t${copyField(raw)}\t${line % 2 === 1 ? 't' : 'f'}\t${values[i]!}\n`;
    }
    yield text;
  }
}

/** What one arena holds (see Arena): a segment closes when its arena is nearly full. */
const ARENA_TEXT_BYTES = 2 << 20;
const ARENA_RAW_BYTES = 2 << 20;
const ARENA_ROWS = 50_000;
/** Room an arena must keep for the next chunk (a 64 KiB piece of the body, its COPY text). */
const ARENA_SLACK_BYTES = 256 << 10;
const ARENA_SLACK_ROWS = 8192;

/**
 * Where a direct segment keeps its chunks (COPY text, records as sent, lines) for a replay until
 * it is released: two arenas, used in turn by one session (a segment is filled while the one
 * before it closes), so the memory is the same from the first segment to the last. Kept as
 * separate buffers per chunk, the body's pieces and their COPY text outlived two young
 * collections, were promoted, and stayed, dead, until the next full collection: a 1M-row
 * upload peaked at 164 MB RSS.
 */
class Arena {
  private text: Buffer | undefined;
  private raw: Buffer | undefined;
  private rows: Float64Array | undefined;
  private textUsed = 0;
  private rawUsed = 0;
  private rowsUsed = 0;

  reset(): void {
    this.textUsed = this.rawUsed = this.rowsUsed = 0;
  }

  /** Whether the next chunk might not fit: the segment should close. */
  get nearlyFull(): boolean {
    return (
      this.textUsed > ARENA_TEXT_BYTES - ARENA_SLACK_BYTES ||
      this.rawUsed > ARENA_RAW_BYTES - ARENA_SLACK_BYTES ||
      this.rowsUsed > ARENA_ROWS - ARENA_SLACK_ROWS
    );
  }

  /** A copy of `chunk` in the arena; a copy of its own when it does not fit (a body given whole). */
  keep(chunk: CopyRows): CopyRows {
    const fits =
      this.textUsed + chunk.text.length <= ARENA_TEXT_BYTES &&
      this.rawUsed + chunk.raw.length <= ARENA_RAW_BYTES &&
      this.rowsUsed + chunk.count <= ARENA_ROWS;
    const rows = chunk.rows.subarray(0, 3 * chunk.count);
    if (!fits)
      return {
        text: Buffer.from(chunk.text),
        raw: Buffer.from(chunk.raw),
        rows: rows.slice(),
        count: chunk.count,
        incomplete: chunk.incomplete,
      };
    this.text ??= Buffer.allocUnsafeSlow(ARENA_TEXT_BYTES);
    this.raw ??= Buffer.allocUnsafeSlow(ARENA_RAW_BYTES);
    this.rows ??= new Float64Array(3 * ARENA_ROWS);
    const text = this.text.subarray(this.textUsed, (this.textUsed += chunk.text.copy(this.text, this.textUsed)));
    const raw = this.raw.subarray(this.rawUsed, (this.rawUsed += chunk.raw.copy(this.raw, this.rawUsed)));
    this.rows.set(rows, 3 * this.rowsUsed);
    const kept = this.rows.subarray(3 * this.rowsUsed, 3 * (this.rowsUsed += chunk.count));
    return { text, raw, rows: kept, count: chunk.count, incomplete: chunk.incomplete };
  }
}

/** SQLSTATE unique_violation: a direct segment held an id already stored or repeated. */
const UNIQUE_VIOLATION = '23505';

/** How long an upload into a fresh table waits for readers to let go of the old one before copying over instead. */
const SWAP_WAIT_MS = 10_000;

/**
 * An upload into a table empty when it was locked: its rows go into a fresh table without
 * indexes, whose key is built once at the end, and which then takes the old one's place
 * (table-swap.ts), for as long as `seen` proves no id repeats. Measured with psql on 10M rows:
 * COPY FREEZE into a table without a key, then ADD PRIMARY KEY, 9.8–10.3 s and 690 MB of WAL,
 * against 13.6–16.5 s and 1,144 MB for COPY into the table with its key (1M rows: 1.25–1.29 s
 * against 1.45–1.76 s).
 */
interface FreshTable {
  swap: TableSwap;
  seen: SeenKeys;
}

/** Rows copied straight into the table under one savepoint, replayed through staging if that fails. */
interface DirectSegment {
  /** Every chunk of the segment, sent or not, for the replay. */
  chunks: CopyRows[];
  /** hired_employees: the segment's hires, added to the session's once it is released. */
  tally: HireCountTally | undefined;
  rows: number;
  incomplete: number;
  /** The segment's one COPY into the table, open while its chunks come. */
  copy: CopyWriter;
  /** It runs under a savepoint (not in a fresh table: no id can repeat there). */
  savepoint: boolean;
  /** Where its chunks are kept. */
  arena: Arena;
}

/** A pooled client held by a session; `release(error)` destroys it instead of pooling it. */
export interface HeldClient {
  client: PoolClient;
  release(error?: unknown): void;
  /** The connection failed while held (an `error` event between queries). */
  readonly lost: unknown;
}

/**
 * One upload's transaction on one pooled connection.
 *
 * The fast path (on_conflict=reject without reference checks, the common bulk load): chunks are
 * copied straight into the table, one COPY per segment of `applyEvery` rows written as the chunks
 * come (the server inserts while the next are parsed), each segment under a savepoint. When a
 * segment hits a unique violation (an id stored or repeated), it is rolled back to its savepoint
 * and replayed through the staging path below, which finds each rejected line; the rest of the
 * upload then stays on that path. Either way the same rows are inserted and rejected, with the
 * same lines and reasons.
 *
 * The staging path: chunks are copied (`COPY … FROM STDIN`) into
 * a temporary staging table (created when the session first needs it: never on a fast path that
 * meets no duplicate) that also holds each record's line and raw text; applying it is a few
 * set-based statements: reference checks (strict), duplicates (the lowest line wins, or upsert
 * where the last line wins), one `INSERT … SELECT`.
 *
 * The target table is locked (SHARE ROW EXCLUSIVE: readers go on, other writers of that table
 * wait) from the session's start to its end, so uploads of one table serialize in the order they
 * came, as SQLite's single writer makes them, instead of deadlocking or missing each other's ids.
 */
export class PostgresLoadSession implements LoadSession {
  private readonly target: string;
  private readonly names: string[];
  /** The primary key, quoted: what a duplicate is told by. */
  private readonly key: string;
  /** Where the primary key is among the columns. */
  private readonly keyColumn: number;
  /** The staging tables exist (see ensureStaging). */
  private staging = false;
  private readonly copySql: string;
  /** A row's values as a line of COPY text. */
  private readonly copyLine: (values: readonly CopyValue[]) => string;
  /** The COPY still in flight: the next chunk is parsed while the server takes this one. */
  private pending: Promise<void> | undefined;
  private staged = 0;
  /** Raw text staged (bytes or UTF-16 units, as it came): see APPLY_CHARS. */
  private stagedChars = 0;
  private stagedIncomplete = 0;
  private done = false;
  /** Still on the fast path (see above). */
  private direct: boolean;
  private segment: DirectSegment | undefined;
  /**
   * The previous segment's close (its COPY ending, its savepoint released), left running while
   * the next chunk is parsed; the next write or finish collects its outcome. Waiting for it in
   * the write that filled the segment cost a pause per segment: the server finishing the COPY
   * text still buffered while the parser waited (≈ 50 ms each, measured).
   */
  private closing: Promise<LoadOutcome> | undefined;
  private directCopySql: string;
  /** The fresh table the rows go into while no id repeats (see FreshTable). */
  private fresh: FreshTable | undefined;
  /**
   * hired_employees on the fast path: hires counted here and added to hire_counts before the
   * commit, the insert trigger's work being turned off for this transaction (migration 004).
   */
  private readonly tally: HireCountTally | undefined;
  /** The insert trigger's work is off for this transaction (only with a tally). */
  private deferring = true;
  /** Rows the fast path has copied and kept. */
  private copiedDirect = 0;
  /** The two arenas direct segments take in turn, and how many segments have begun. */
  private readonly arenas = [new Arena(), new Arena()] as const;
  private segments = 0;

  private constructor(
    private readonly held: HeldClient,
    private readonly table: TableDef,
    private readonly options: LoadOptions,
    /** Staged rows applied at a time; also the rows of a direct segment. */
    private readonly applyEvery: number,
    /** How long the fresh table's swap waits for readers of the old one. */
    private readonly swapWaitMs: number,
  ) {
    this.target = quoteIdent(table.name);
    this.names = table.columns.map((c) => quoteIdent(c.name));
    this.key = quoteIdent(primaryKeyOf(table).name);
    this.keyColumn = primaryKeyOf(table).index;
    this.copyLine = copyLineFor(table.columns.map((c) => c.type));
    this.copySql = `COPY ${STAGE} (line, raw, incomplete, ${this.names.join(', ')}) FROM STDIN`;
    this.direct = options.onConflict === 'reject' && !options.checkReferences;
    this.directCopySql = `COPY ${this.target} (${this.names.join(', ')}) FROM STDIN`;
    this.tally = this.direct && table.name === 'hired_employees' ? new HireCountTally(table) : undefined;
  }

  /**
   * Begins the transaction, creates its staging tables (dropped at commit or rollback) and takes
   * the table lock, waiting until `lock.deadline` at most (then 503 BUSY). A client gone by then
   * (`lock.signal`): rolled back before anything was written.
   */
  static async open(
    held: HeldClient,
    table: TableDef,
    options: LoadOptions,
    applyEvery = APPLY_EVERY,
    lock: { deadline: number; signal?: AbortSignal | undefined; swapWaitMs?: number | undefined } = { deadline: Number.MAX_SAFE_INTEGER },
  ): Promise<PostgresLoadSession> {
    const session = new PostgresLoadSession(held, table, options, applyEvery, lock.swapWaitMs ?? SWAP_WAIT_MS);
    try {
      await held.client.query('BEGIN' + (session.tally === undefined ? '' : `; SET LOCAL hr.hire_counts_deferred = 'on'`));
      if (!session.direct) await session.ensureStaging();
      await lockWithin(held.client, `LOCK TABLE ${session.target} IN SHARE ROW EXCLUSIVE MODE`, lock.deadline);
      throwIfGone(lock.signal);
      if (session.direct) await session.intoFreshIfEmpty();
    } catch (error) {
      await session.end(error);
      throw mapPgError(error);
    }
    return session;
  }

  /** Sends the rows to a fresh table (see FreshTable) when the table holds none. */
  private async intoFreshIfEmpty(): Promise<void> {
    const stored = await this.held.client.query<{ any: boolean }>(`SELECT EXISTS (SELECT 1 FROM ${this.target}) AS any`);
    if (stored.rows[0]!.any) return;
    const swap = await prepareSwap(this.held.client, this.table.name);
    if (swap === undefined) return;
    this.fresh = { swap, seen: new SeenKeys() };
    this.directCopySql = `COPY ${swap.fresh} (${this.names.join(', ')}) FROM STDIN WITH (FREEZE)`;
  }

  /**
   * A chunk's ids may repeat one met before (or the bitmap is full): the rows so far, all of
   * distinct ids, are moved from the fresh table into the table itself, and the upload goes on
   * as into a table with rows, its key finding the repeats. The hires moved are the tally's
   * already (the count trigger's work is off for the transaction).
   */
  private async leaveFresh(): Promise<LoadOutcome> {
    const closed = await this.closeSegment();
    const { swap } = this.fresh!;
    this.fresh = undefined;
    this.directCopySql = `COPY ${this.target} (${this.names.join(', ')}) FROM STDIN`;
    const names = this.names.join(', ');
    await this.held.client.query(`INSERT INTO ${this.target} (${names}) SELECT ${names} FROM ${swap.fresh}`);
    await this.held.client.query(`DROP TABLE ${swap.fresh}`);
    return closed;
  }

  /**
   * The fresh table's key and indexes built, and the table put in the old one's place; when
   * readers hold the old one past swapWaitMs, its rows are copied over into it instead. Before
   * the tally is flushed: the count trigger's work is still off for the copy over.
   */
  private async swapFresh(): Promise<void> {
    const fresh = this.fresh;
    if (fresh === undefined) return;
    this.fresh = undefined;
    await buildIndexes(this.held.client, fresh.swap);
    if (await swapTables(this.held.client, fresh.swap, this.swapWaitMs)) return;
    const names = this.names.join(', ');
    await this.held.client.query(`INSERT INTO ${this.target} (${names}) SELECT ${names} FROM ${fresh.swap.fresh}`);
    await this.held.client.query(`DROP TABLE ${fresh.swap.fresh}`);
  }

  /** Creates the staging tables (dropped at commit or rollback), once. */
  private async ensureStaging(): Promise<void> {
    if (this.staging) return;
    const columns = this.table.columns.map((c) => `${quoteIdent(c.name)} ${SQL_TYPES.postgres[c.type]}`);
    await this.held.client.query(
      `CREATE TEMP TABLE load_stage (line BIGINT NOT NULL, raw TEXT NOT NULL, incomplete BOOLEAN NOT NULL, ${columns.join(', ')}) ON COMMIT DROP;
       CREATE TEMP TABLE load_rejected (line BIGINT NOT NULL, raw TEXT NOT NULL, reason TEXT NOT NULL, incomplete BOOLEAN NOT NULL) ON COMMIT DROP`,
    );
    this.staging = true;
  }

  async write(rows: readonly StagedRow[]): Promise<LoadOutcome> {
    if (rows.length === 0) return empty();
    if (this.direct) return this.writeDirect(rows);
    let text = '';
    for (const row of rows) text += stageLine(row, this.copyLine(row.values));
    this.staged += rows.length;
    for (const row of rows) this.stagedChars += row.raw.length;
    for (const row of rows) if (row.incomplete) this.stagedIncomplete++;
    const previous = this.pending;
    const copy = copyIn(this.held.client, this.copySql, [text]).then(() => undefined);
    // Observed now so a failure never goes unhandled; it is rethrown by the next wait.
    copy.catch(() => undefined);
    this.pending = copy;
    await this.guard(() => previous);
    return this.applyDue ? this.apply() : empty();
  }

  async finish(): Promise<LoadOutcome> {
    const direct = merge(await this.closed(), await this.closeSegment());
    await this.guard(() => this.swapFresh());
    await this.guard(() => this.stopDeferring());
    return merge(direct, await this.apply());
  }

  /** Adds the tallied hires to hire_counts and gives the counting back to the insert trigger. */
  private async stopDeferring(): Promise<void> {
    if (this.tally === undefined || !this.deferring) return;
    await this.tally.flush(this.held.client);
    await this.held.client.query("SET LOCAL hr.hire_counts_deferred = 'off'");
    this.deferring = false;
  }

  /** The outcome of the segment closed last, once it is closed (nothing when none is closing). */
  private async closed(): Promise<LoadOutcome> {
    const closing = this.closing;
    this.closing = undefined;
    return closing ?? empty();
  }

  private async writeDirect(rows: readonly StagedRow[]): Promise<LoadOutcome> {
    const closed = await this.closed();
    // The segment closed last met a duplicate: this session is on the staging path now.
    if (!this.direct) return merge(closed, await this.write(rows));
    return merge(closed, await this.writeToSegment(this.encode(rows)));
  }

  async writeCopyRows(rows: CopyRows): Promise<LoadOutcome> {
    if (rows.count === 0) return empty();
    const closed = this.direct ? await this.closed() : empty();
    if (this.direct) return merge(closed, await this.writeToSegment(rows));
    this.staged += rows.count;
    this.stagedChars += rows.raw.length;
    this.stagedIncomplete += rows.incomplete;
    const previous = this.pending;
    // Made now: the rows' buffers are the scanner's again once this write resolves.
    const copy = copyIn(this.held.client, this.copySql, [...stageText([rows])]).then(() => undefined);
    copy.catch(() => undefined);
    this.pending = copy;
    await this.guard(() => previous);
    return merge(closed, this.applyDue ? await this.apply() : empty());
  }

  /** Rows of the string path as the byte path writes them: COPY text, records kept raw for a replay. */
  private encode(rows: readonly StagedRow[]): CopyRows {
    // One pass per row: its COPY line, and what a replay would need besides, kept as it is.
    let target = '';
    let raw = '';
    let at = 0;
    let incomplete = 0;
    const kept = new Float64Array(3 * rows.length);
    const hires = this.tally === undefined ? undefined : new Float64Array(3 * rows.length);
    const keys = new Float64Array(rows.length);
    const keyColumn = this.keyColumn;
    const copyLine = this.copyLine;
    for (let i = 0; i < rows.length; i++) {
      const row = rows[i]!;
      target += copyLine(row.values);
      raw += row.raw;
      kept[3 * i] = row.line * 2 + (row.incomplete ? 1 : 0);
      kept[3 * i + 1] = at;
      kept[3 * i + 2] = at += Buffer.byteLength(row.raw);
      if (row.incomplete) incomplete++;
      if (hires !== undefined) this.tally!.key(row.values, hires, i);
      keys[i] = row.values[keyColumn] as number;
    }
    // Bytes, not the strings: they would be built of slices that keep whole pieces of the body alive.
    return { text: Buffer.from(target), raw: Buffer.from(raw), rows: kept, hires, keys, count: rows.length, incomplete };
  }

  private async writeToSegment(rows: CopyRows): Promise<LoadOutcome> {
    return this.guard(async () => {
      const fresh = this.fresh;
      const repeats = fresh !== undefined && (rows.keys === undefined || !fresh.seen.addAll(rows.keys, rows.count));
      const left = repeats ? await this.leaveFresh() : empty();
      return merge(left, await this.copyToSegment(rows));
    });
  }

  private async copyToSegment(rows: CopyRows): Promise<LoadOutcome> {
    return this.guard(async () => {
      if (this.segment === undefined) {
        const savepoint = this.fresh === undefined;
        if (savepoint) await this.held.client.query('SAVEPOINT direct_segment');
        // The other arena may still be read by the segment closing now; this one is free.
        const arena = this.arenas[this.segments++ % 2]!;
        arena.reset();
        this.segment = {
          chunks: [],
          tally: this.tally === undefined ? undefined : new HireCountTally(this.table),
          rows: 0,
          incomplete: 0,
          copy: new CopyWriter(this.held.client, this.directCopySql),
          savepoint,
          arena,
        };
      }
      const segment = this.segment;
      if (segment.tally !== undefined && rows.hires !== undefined) segment.tally.countAll(rows.hires, rows.count);
      const kept = segment.arena.keep(rows);
      segment.incomplete += rows.incomplete;
      segment.chunks.push(kept);
      segment.rows += rows.count;
      await segment.copy.write(kept.text);
      if (segment.copy.failure !== undefined) return this.closeSegment();
      if (segment.rows >= this.applyEvery || segment.arena.nearlyFull) {
        const closing = this.closeSegment();
        // Observed now so a failure never goes unhandled; the next write or finish rethrows it.
        closing.catch(() => undefined);
        this.closing = closing;
      }
      return empty();
    });
  }

  /**
   * Ends the open direct segment: releases its savepoint and counts its rows, or, after a unique
   * violation, rolls it back and applies its rows through the staging table instead.
   */
  private async closeSegment(): Promise<LoadOutcome> {
    const segment = this.segment;
    if (segment === undefined) return empty();
    return this.guard(async () => {
      const failure = await segment.copy.end().then(
        () => undefined,
        (error: unknown) => error,
      );
      this.segment = undefined;
      const q = (sql: string) => this.held.client.query(sql);
      if (failure === undefined) {
        if (segment.savepoint) await q('RELEASE SAVEPOINT direct_segment');
        if (this.tally !== undefined && segment.tally !== undefined) {
          this.tally.absorb(segment.tally);
          if (this.tally.full) await this.tally.flush(this.held.client);
        }
        this.copiedDirect += segment.rows;
        return { inserted: segment.rows, updated: 0, incomplete: segment.incomplete, rejected: [] };
      }
      if ((failure as { code?: unknown }).code !== UNIQUE_VIOLATION || !segment.savepoint) throw failure;
      await q('ROLLBACK TO SAVEPOINT direct_segment');
      await q('RELEASE SAVEPOINT direct_segment');
      this.direct = false;
      await this.stopDeferring();
      await this.ensureStaging();
      await copyIn(this.held.client, this.copySql, stageText(segment.chunks));
      this.staged += segment.rows;
      for (const chunk of segment.chunks) this.stagedChars += chunk.raw.length;
      this.stagedIncomplete += segment.incomplete;
      return this.apply();
    });
  }

  async commit(record: UploadRecord, rejects: AsyncIterable<Rejection>): Promise<void> {
    try {
      await this.guard(async () => {
        // finish() has collected the last close; awaited again so nothing can come after COMMIT.
        await this.closing;
        await this.settle();
        await insertUploadLog(this.held.client, record, rejects);
        await this.held.client.query('COMMIT');
      });
      if (this.tally !== undefined && this.copiedDirect >= ANALYZE_AFTER) await this.analyzeCounts();
      await this.end();
    } catch (error) {
      await this.end(error);
      throw error;
    }
  }

  /**
   * After a bulk load has added thousands of count rows at once: fresh statistics for the reports'
   * plans, and the rows' commit status recorded (hint bits) by this connection rather than by the
   * first report request. Best effort: the load is committed either way.
   */
  private async analyzeCounts(): Promise<void> {
    try {
      await this.held.client.query('ANALYZE hire_counts');
    } catch {
      // Autovacuum will.
    }
  }

  async rollback(): Promise<void> {
    await this.end(new Error('rolled back'));
  }

  /** Applies what is staged: rejects found, then inserts or upserts the rest, in one go. */
  private async apply(): Promise<LoadOutcome> {
    return this.guard(async () => {
      await this.settle();
      if (this.staged === 0) return empty();
      await this.ensureStaging();
      const q = (sql: string) => this.held.client.query(sql);
      const outcome = empty();
      let inserted: number;
      if (this.options.onConflict === 'reject') {
        const found = (await q(this.rejectDuplicatesSql())).rowCount ?? 0;
        const result = await q(
          `INSERT INTO ${this.target} (${this.names.join(', ')})
           SELECT ${this.columnsOf('s')} FROM ${STAGE} AS s` +
            (found === 0 ? '' : ` WHERE NOT EXISTS (SELECT 1 FROM ${REJECTED} AS r WHERE r.line = s.line)`),
        );
        inserted = result.rowCount ?? 0;
      } else {
        if (this.options.checkReferences) await q(this.rejectMissingReferencesSql());
        const result = await this.held.client.query<{ inserted: number }>(this.upsertSql());
        inserted = result.rows[0]!.inserted;
      }
      const rejected = await this.held.client.query<Rejection & { incomplete: boolean }>(
        `SELECT line, raw, reason, incomplete FROM ${REJECTED} ORDER BY line`,
      );
      let rejectedIncomplete = 0;
      for (const { line, raw, reason, incomplete } of rejected.rows) {
        outcome.rejected.push({ line, raw, reason });
        if (incomplete) rejectedIncomplete++;
      }
      const accepted = this.staged - rejected.rows.length;
      outcome.inserted = inserted;
      outcome.updated = accepted - inserted;
      outcome.incomplete = this.stagedIncomplete - rejectedIncomplete;
      await q(`TRUNCATE ${STAGE}, ${REJECTED}`);
      this.staged = 0;
      this.stagedChars = 0;
      this.stagedIncomplete = 0;
      return outcome;
    });
  }

  /** The staged row's table columns, qualified by an alias. */
  private columnsOf(alias: string): string {
    return this.names.map((n) => `${alias}.${n}`).join(', ');
  }

  /** The first missing reference of a staged row `s`, in column order (as SQLite checks them), or NULL. */
  private missingReferenceSql(): string {
    const checks = this.options.checkReferences
      ? this.table.columns.flatMap((c) => {
          if (c.references === undefined) return [];
          const column = `s.${quoteIdent(c.name)}`;
          return [
            `WHEN ${column} IS NOT NULL AND NOT EXISTS (SELECT 1 FROM ${quoteIdent(c.references)} AS x ` +
              `WHERE x.${quoteIdent(primaryKeyOf(TABLES[c.references]).name)} = ${column}) ` +
              `THEN '${c.name.replaceAll("'", "''")} ' || ${column} || ' does not exist'`,
          ];
        })
      : [];
    return checks.length === 0 ? 'NULL::text' : `CASE ${checks.join(' ')} END`;
  }

  /**
   * on_conflict=reject: a row is rejected when a reference is missing; else when an earlier line
   * of the file (one not rejected for its references) has its id; else when its id is stored.
   */
  private rejectDuplicatesSql(): string {
    // A join, not EXISTS under OR: that would hash every stored id for each apply.
    const key = this.key;
    const duplicate = `duplicate ${primaryKeyOf(this.table).name.replaceAll("'", "''")} `;
    return `INSERT INTO ${REJECTED} (line, raw, reason, incomplete)
      SELECT c.line, c.raw, COALESCE(c.missing, '${duplicate}' || c.pk), c.incomplete
      FROM (
        SELECT line, raw, pk, incomplete, missing,
               row_number() OVER (PARTITION BY pk, missing IS NULL ORDER BY line) AS occurrence
        FROM (SELECT s.line, s.raw, s.${key} AS pk, s.incomplete, ${this.missingReferenceSql()} AS missing FROM ${STAGE} AS s) AS checked
      ) AS c
      LEFT JOIN ${this.target} AS t ON t.${key} = c.pk
      WHERE c.missing IS NOT NULL OR c.occurrence > 1 OR t.${key} IS NOT NULL`;
  }

  private rejectMissingReferencesSql(): string {
    return `INSERT INTO ${REJECTED} (line, raw, reason, incomplete)
      SELECT line, raw, missing, incomplete
      FROM (SELECT s.line, s.raw, s.incomplete, ${this.missingReferenceSql()} AS missing FROM ${STAGE} AS s) AS checked
      WHERE missing IS NOT NULL`;
  }

  /**
   * on_conflict=update: the last line of each id is upserted, as if the rows were applied one by
   * one; an id counts as inserted once when it was not stored, every other accepted row as updated.
   * `stored` is read in the statement's snapshot, before its own insert.
   */
  private upsertSql(): string {
    const key = this.key;
    const set = this.names
      .filter((n) => n !== key)
      .map((n) => `${n} = EXCLUDED.${n}`)
      .join(', ');
    return `WITH latest AS MATERIALIZED (
        SELECT DISTINCT ON (s.${key}) ${this.columnsOf('s')}, EXISTS (SELECT 1 FROM ${this.target} AS t WHERE t.${key} = s.${key}) AS stored
        FROM ${STAGE} AS s
        WHERE NOT EXISTS (SELECT 1 FROM ${REJECTED} AS r WHERE r.line = s.line)
        ORDER BY s.${key}, s.line DESC
      ), upserted AS (
        INSERT INTO ${this.target} (${this.names.join(', ')})
        SELECT ${this.names.join(', ')} FROM latest
        ON CONFLICT (${key}) DO ${set === '' ? 'NOTHING' : `UPDATE SET ${set}`}
        RETURNING 1
      )
      -- A data-modifying WITH runs to completion whether or not it is read.
      SELECT count(*)::int AS inserted FROM latest WHERE NOT stored`;
  }

  /** Enough is staged to apply it: rows, or raw text (the rejects an apply reads back are held at once). */
  private get applyDue(): boolean {
    return this.staged >= this.applyEvery || this.stagedChars >= APPLY_CHARS;
  }

  /** Waits for the COPY in flight. */
  private async settle(): Promise<void> {
    const pending = this.pending;
    this.pending = undefined;
    await pending;
  }

  private async guard<T>(fn: () => Promise<T> | T): Promise<T> {
    if (this.done) throw new Error('The load session is over');
    if (this.held.lost !== undefined) throw mapPgError(this.held.lost);
    try {
      return await fn();
    } catch (error) {
      throw mapPgError(this.held.lost ?? error);
    }
  }

  /**
   * Ends the session once: rolls back unless committed, and gives the connection back to the pool,
   * or destroys it when it failed (`failure` given and the rollback did not go through).
   */
  private async end(failure?: unknown): Promise<void> {
    if (this.done) return;
    this.done = true;
    let broken: unknown = this.held.lost;
    if (failure !== undefined && broken === undefined) {
      try {
        await this.pending?.catch(() => undefined);
        await this.closing?.catch(() => undefined);
        // A COPY still open holds the connection: ended (its rows go with the rollback) first.
        await this.segment?.copy.end().catch(() => undefined);
        await this.held.client.query('ROLLBACK');
      } catch (error) {
        broken = error;
      }
    }
    this.held.release(broken);
  }
}
