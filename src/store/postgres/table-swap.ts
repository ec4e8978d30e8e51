import type pg from 'pg';
import { quoteIdent } from '../ddl.js';
import { HIRE_COUNT_TRIGGERS } from './hire-count-tally.js';
import { exclusiveInTries } from './pool-budget.js';

/** A table being replaced by a fresh one: what the fresh one takes over at the swap. */
export interface TableSwap {
  /** The old table's schema, quoted. */
  schema: string;
  /** The old table, schema-qualified. */
  target: string;
  /** The fresh table the rows go into, schema-qualified. */
  fresh: string;
  /** The old table's bare name, which the fresh one takes. */
  name: string;
  /** The old table's indexes, by the fresh one's index that matches each: fresh name → old name. */
  indexes: [string, string][];
  /** `CREATE TRIGGER …` of each of the old table's triggers, as pg_get_triggerdef gives it. */
  triggers: string[];
  /** The statements that give the fresh table back the indexes LIKE made (see buildIndexes). */
  indexBuilds: string[];
}

interface Shape {
  owned: boolean;
  plain: boolean;
  depended: boolean;
  schema: string;
}

/**
 * Why a replace restore can load a fresh table rather than the emptied one: COPY into a table whose
 * rows were just deleted checks every key against the dead index entries and appends past the
 * dead pages (measured on 1M rows: 3.1 s against 2.0 s into a fresh table, plus 0.4 s of DELETE,
 * and a table of twice the size until VACUUM). The fresh table is created in this transaction,
 * so COPY … FREEZE writes its rows already frozen (no hint-bit writes on the first backup).
 *
 * Only a table as our migrations make it is swapped: owned by this role, no grants (none left
 * after a REVOKE counts as none), row security,
 * storage options or publication, no table of its name + `_restore` beside it, nothing depending on it (a view, a foreign key) and no trigger
 * but ours. Anything else — a DBA's view or grant — keeps the DELETE path, which leaves the table
 * itself in place. Resolves with undefined then; otherwise the fresh table exists (in the old
 * one's schema) with the old one's columns, defaults and constraints (LIKE … INCLUDING ALL), its
 * indexes (and the constraints they back, the primary key) dropped until buildIndexes: an index
 * built once from the loaded rows costs less than one kept up row by row (measured with psql on
 * 1M rows: COPY then ADD PRIMARY KEY 0.92 s, COPY into the table with its key 1.25–1.45 s).
 */
export async function prepareSwap(client: pg.PoolClient, table: string): Promise<TableSwap | undefined> {
  const name = quoteIdent(table);
  const shape = await client.query<Shape>(
    `SELECT c.relowner = (SELECT oid FROM pg_roles WHERE rolname = current_user) AS owned,
            (c.relacl IS NULL OR c.relacl = acldefault('r', c.relowner)) AND NOT c.relrowsecurity AND c.reloptions IS NULL
              AND NOT EXISTS (SELECT 1 FROM pg_publication_rel p WHERE p.prrelid = c.oid)
              AND to_regclass(quote_ident(n.nspname) || '.' || quote_ident(c.relname || '_restore')) IS NULL AS plain,
            EXISTS (SELECT 1 FROM pg_depend d WHERE d.refclassid = 'pg_class'::regclass AND d.refobjid = c.oid AND d.deptype = 'n') AS depended,
            n.nspname AS schema
     FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = $1::regclass`,
    [name],
  );
  const s = shape.rows[0];
  if (s === undefined || !s.owned || !s.plain || s.depended) return undefined;
  const triggers = await client.query<{ name: string; def: string; enabled: string }>(
    `SELECT tgname AS name, pg_get_triggerdef(oid) AS def, tgenabled AS enabled FROM pg_trigger
     WHERE tgrelid = $1::regclass AND NOT tgisinternal ORDER BY tgname`,
    [name],
  );
  if (triggers.rows.some((t) => !HIRE_COUNT_TRIGGERS.includes(t.name) || t.enabled !== 'O')) return undefined;
  const schema = quoteIdent(s.schema);
  const target = `${schema}.${name}`;
  const freshName = `${table}_restore`;
  const fresh = `${schema}.${quoteIdent(freshName)}`;
  await client.query(`CREATE TABLE ${fresh} (LIKE ${target} INCLUDING ALL)`);
  const made = await indexesOf(client, fresh);
  const indexes = pairIndexes(await indexesOf(client, target), made);
  if (indexes === undefined) {
    await client.query(`DROP TABLE ${fresh}`);
    return undefined;
  }
  const indexBuilds: string[] = [];
  for (const index of made) {
    if (index.constraint === null) {
      await client.query(`DROP INDEX ${schema}.${quoteIdent(index.name)}`);
      indexBuilds.push(index.def);
    } else {
      await client.query(`ALTER TABLE ${fresh} DROP CONSTRAINT ${quoteIdent(index.constraint)}`);
      indexBuilds.push(`ALTER TABLE ${fresh} ADD CONSTRAINT ${quoteIdent(index.constraint)} ${index.constraintDef!}`);
    }
  }
  return { schema, target, fresh, name: table, indexes, triggers: triggers.rows.map((t) => t.def), indexBuilds };
}

/**
 * Builds the fresh table's indexes (and their constraints) from the rows copied into it, as LIKE
 * made them. A repeated key fails here, as a unique violation naming it.
 */
export async function buildIndexes(client: pg.PoolClient, swap: TableSwap): Promise<void> {
  for (const build of swap.indexBuilds) await client.query(build);
}

/**
 * Puts the fresh table in the old one's place: DROP, RENAME, the old index (and so constraint)
 * names, the old triggers. The DROP's exclusive lock is tried a short while at a time
 * (exclusiveInTries), so a reader never queues behind it for long, until `waitMs`; resolves false when readers held the
 * table all that time (nothing changed: the caller copies the rows over instead). Readers and
 * writers waiting for the old table when this commits find the new one by its name (PostgreSQL
 * looks a name up again after a lock wait in which the relation was dropped).
 */
export async function swapTables(client: pg.PoolClient, swap: TableSwap, waitMs: number): Promise<boolean> {
  if ((await exclusiveInTries(client, `DROP TABLE ${swap.target}`, Date.now() + waitMs)) !== undefined) return false;
  await client.query(`ALTER TABLE ${swap.fresh} RENAME TO ${quoteIdent(swap.name)}`);
  for (const [fresh, old] of swap.indexes) {
    // Renaming a constraint's index renames the constraint too.
    if (fresh !== old) await client.query(`ALTER INDEX ${swap.schema}.${quoteIdent(fresh)} RENAME TO ${quoteIdent(old)}`);
  }
  for (const def of swap.triggers) await client.query(def);
  return true;
}

interface IndexDef {
  name: string;
  def: string;
  /** The constraint the index backs (a primary key, a unique constraint), if any, and its definition. */
  constraint: string | null;
  constraintDef: string | null;
}

async function indexesOf(client: pg.PoolClient, table: string): Promise<IndexDef[]> {
  const result = await client.query<IndexDef>(
    `SELECT i.relname AS name, pg_get_indexdef(i.oid) AS def, c.conname AS constraint, pg_get_constraintdef(c.oid) AS "constraintDef"
     FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
     LEFT JOIN pg_constraint c ON c.conindid = x.indexrelid AND c.conrelid = x.indrelid
     WHERE x.indrelid = $1::regclass ORDER BY i.relname`,
    [table],
  );
  return result.rows;
}

/**
 * Each fresh index paired with the old index of the same definition (unique or not, method and
 * columns: what follows the table's name); undefined unless that pairs them all one to one.
 */
function pairIndexes(old: { name: string; def: string }[], fresh: { name: string; def: string }[]): [string, string][] | undefined {
  const shape = (def: string): string => `${def.startsWith('CREATE UNIQUE') ? 'unique ' : ''}${def.slice(def.indexOf(' USING '))}`;
  if (old.length !== fresh.length) return undefined;
  const pairs: [string, string][] = [];
  const left = [...old];
  for (const f of fresh) {
    const at = left.findIndex((o) => shape(o.def) === shape(f.def));
    if (at === -1) return undefined;
    pairs.push([f.name, left[at]!.name]);
    left.splice(at, 1);
  }
  return pairs;
}
