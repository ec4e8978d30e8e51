import avro from 'avsc';
import { TABLE_ALIASES, type ColumnDef, type ColumnType, type TableDef } from '../tables.js';
import { LOGICAL_TYPES } from './timestamp.js';

/**
 * The backup file format. Bump it when a backup's layout changes in a way the schema's own
 * evolution rules cannot absorb; readers refuse files of a newer version.
 */
export const FORMAT_VERSION = 1;

/** Namespace of the record types; ignored when reading (another tool's namespace is fine). */
export const NAMESPACE = 'hr_migration';

/** Keys of the table name and format version, both in the schema's attributes and in the file header's metadata. */
export const TABLE_KEY = 'hr.table';
export const VERSION_KEY = 'hr.format_version';

/** A plain JSON Avro schema (what the file header holds). */
export type JsonSchema = Record<string, unknown>;

const AVRO_TYPES: Record<ColumnType, string | JsonSchema> = {
  integer: 'long',
  text: 'string',
  datetime: { type: 'long', logicalType: 'timestamp-millis' },
};

const field = (column: ColumnDef): JsonSchema =>
  column.primaryKey
    ? { name: column.name, type: AVRO_TYPES[column.type], doc: column.description }
    : // Every other column may be NULL (an empty CSV field): a nullable union, null by default.
      { name: column.name, type: ['null', AVRO_TYPES[column.type]], default: null, doc: column.description };

/**
 * The Avro schema of a table, derived from the data dictionary: one record named after the
 * table, `long` ids, `["null", …]` unions for the other columns, datetimes as `timestamp-millis`,
 * the table name and format version as attributes (Avro keeps unknown attributes as metadata).
 */
export function avroSchema(table: TableDef): JsonSchema {
  const aliases = Object.entries(TABLE_ALIASES)
    .filter(([, name]) => name === table.name)
    .map(([alias]) => alias);
  return {
    type: 'record',
    name: table.name,
    namespace: NAMESPACE,
    doc: table.description,
    ...(aliases.length > 0 ? { aliases } : {}),
    [TABLE_KEY]: table.name,
    [VERSION_KEY]: FORMAT_VERSION,
    fields: table.columns.map(field),
  };
}

/** The file header's metadata entries (besides avro.schema and avro.codec). */
export const headerMetadata = (table: TableDef): Record<string, Buffer> => ({
  [TABLE_KEY]: Buffer.from(table.name),
  [VERSION_KEY]: Buffer.from(String(FORMAT_VERSION)),
});

/** An avsc type for a schema, with timestamps read as the stored canonical UTC text. */
export const avroType = (schema: JsonSchema): avro.Type =>
  avro.Type.forSchema(schema as avro.schema.AvroSchema, { logicalTypes: LOGICAL_TYPES, wrapUnions: 'auto' });

const readerTypes = new Map<string, avro.types.RecordType>();

/** The type a restore reads into: the table's schema as the dictionary declares it now. */
export function readerType(table: TableDef): avro.types.RecordType {
  let type = readerTypes.get(table.name);
  if (type === undefined) {
    type = avroType(avroSchema(table)) as avro.types.RecordType;
    readerTypes.set(table.name, type);
  }
  return type;
}
