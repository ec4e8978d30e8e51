import { Type, type TSchema } from 'typebox';
import { TABLE_ALIASES, TABLE_NAMES, type ColumnDef, type TableDef } from './tables.js';

/** JSON schemas derived from the data dictionary, for validation and the OpenAPI document. */

const columnSchema = (column: ColumnDef): TSchema => {
  const common = { description: column.description, examples: [column.example] };
  switch (column.type) {
    case 'integer':
      return Type.Integer({ ...common, minimum: 1, maximum: Number.MAX_SAFE_INTEGER });
    case 'datetime':
      return Type.String({ ...common, minLength: 1 });
    case 'text':
      return Type.String({ ...common, minLength: 1 });
  }
};

/** A complete row as POST /batch takes it: every field required. */
export const rowSchema = (table: TableDef): TSchema =>
  Type.Object(Object.fromEntries(table.columns.map((c) => [c.name, columnSchema(c)])), {
    additionalProperties: false,
    description: table.description,
  });

export const TableParamSchema = Type.Object({
  table: Type.String({
    description: `One of ${TABLE_NAMES.join(', ')} (alias: ${Object.keys(TABLE_ALIASES).join(', ')})`,
    examples: ['hired_employees'],
  }),
});

export const ErrorBodySchema = Type.Object(
  {
    error: Type.String({ description: 'Error code from the catalogue' }),
    message: Type.String(),
    details: Type.Optional(Type.Unknown()),
  },
  { description: 'Every 4xx and 5xx answer has this shape' },
);

/** The error answers a route can give, for its OpenAPI entry. */
export const errorResponses = (...statuses: number[]): Record<number, TSchema> =>
  Object.fromEntries(statuses.map((s) => [s, ErrorBodySchema]));

/**
 * Whether `id` could be one the service made (an upload's, an import job's: a UUID). Anything
 * else names nothing, a 404, and never reaches the database: PostgreSQL refuses a NUL in a query
 * parameter with an error of its own.
 */
export const isServiceId = (id: string): boolean => /^[A-Za-z0-9-]{1,64}$/.test(id);

export const IdParamSchema = Type.Object({ id: Type.String({ maxLength: 64 }) });
