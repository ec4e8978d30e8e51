import type avro from 'avsc';
import { AppError } from '../errors.js';
import { resolveTable, type TableDef } from '../tables.js';
import { avroType, FORMAT_VERSION, NAMESPACE, readerType, TABLE_KEY, VERSION_KEY, type JsonSchema } from './avro-schema.js';

const mismatch = (table: TableDef, field: string | undefined, message: string): AppError =>
  new AppError('SCHEMA_MISMATCH', message, { table: table.name, ...(field === undefined ? {} : { field }) });

const describe = (type: avro.Type): string => JSON.stringify(type.schema());

/** The last part of a (possibly namespaced) Avro name. */
const shortName = (name: string): string => name.slice(name.lastIndexOf('.') + 1);

/**
 * Checks the schema a file was written with against the table's, and returns the writer type to
 * decode it with. The file must hold records of this table (by record name or alias, any
 * namespace, and by its `hr.table` attribute when it has one), of a format version this code
 * knows, and every field must be readable as the table's column of the same name (Avro's
 * resolution rules: `int` → `long`, a non-null type → its nullable union, a column missing from
 * an older file → NULL). A field the table does not have is refused: restoring would drop it.
 * A mismatch is a 400 naming the field.
 */
export function checkWriterSchema(table: TableDef, schema: unknown): avro.Type {
  if (typeof schema !== 'object' || schema === null || (schema as JsonSchema).type !== 'record') {
    throw mismatch(table, undefined, `The file does not hold records of a table (its schema is ${JSON.stringify(schema).slice(0, 200)})`);
  }
  const json = schema as JsonSchema;
  const claimed = typeof json[TABLE_KEY] === 'string' ? (json[TABLE_KEY] as string) : undefined;
  const recordName = typeof json.name === 'string' ? shortName(json.name) : '';
  const fileTable = claimed ?? recordName;
  if (resolveTable(fileTable)?.name !== table.name || (recordName !== '' && resolveTable(recordName)?.name !== table.name)) {
    throw mismatch(table, undefined, `The file is a backup of table "${fileTable || recordName}", not "${table.name}"`);
  }
  const version = Number(json[VERSION_KEY] ?? FORMAT_VERSION);
  if (!Number.isInteger(version) || version > FORMAT_VERSION) {
    throw mismatch(
      table,
      undefined,
      `The file's format version ${String(json[VERSION_KEY])} is newer than this server's (${FORMAT_VERSION})`,
    );
  }

  // Names and namespaces say nothing about the bytes: read the file's record under the table's own name.
  let writer: avro.types.RecordType;
  try {
    writer = avroType({ ...json, name: table.name, namespace: NAMESPACE, aliases: undefined }) as avro.types.RecordType;
  } catch (error) {
    throw mismatch(table, undefined, `The file's schema is not a valid Avro schema: ${(error as Error).message}`);
  }
  const reader = readerType(table);
  const matched = new Set<string>();
  for (const column of reader.fields) {
    const found = writer.fields.find((f) => f.name === column.name || column.aliases.includes(f.name));
    if (found === undefined) {
      if (column.defaultValue() === undefined) throw mismatch(table, column.name, `The file has no field "${column.name}"`);
      continue;
    }
    matched.add(found.name);
    try {
      column.type.createResolver(found.type);
    } catch {
      throw mismatch(
        table,
        column.name,
        `Field "${column.name}" is ${describe(found.type)} in the file; the table's is ${describe(column.type)}`,
      );
    }
  }
  const extra = writer.fields.find((f) => !matched.has(f.name));
  if (extra !== undefined) throw mismatch(table, extra.name, `Field "${extra.name}" of the file is not a column of table "${table.name}"`);
  return writer;
}
