/**
 * The data dictionary: every table the service migrates, declared once.
 * DDL, CSV column order, row validators, JSON schemas (batch body, OpenAPI) and the
 * Avro schema are all derived from these declarations.
 */
export type ColumnType = 'integer' | 'text' | 'datetime';

export interface ColumnDef {
  readonly name: string;
  readonly type: ColumnType;
  readonly primaryKey?: boolean;
  /** Table whose primary key this column points at; checked only in strict mode. */
  readonly references?: TableName;
  readonly description: string;
  readonly example: string | number;
}

export interface TableDef {
  readonly name: TableName;
  readonly description: string;
  readonly columns: readonly ColumnDef[];
}

export type TableName = 'departments' | 'jobs' | 'hired_employees';

const id = (what: string): ColumnDef => ({
  name: 'id',
  type: 'integer',
  primaryKey: true,
  description: `Identifier of the ${what} (positive integer)`,
  example: 1,
});

export const TABLES: Readonly<Record<TableName, TableDef>> = {
  departments: {
    name: 'departments',
    description: 'Departments of the company',
    columns: [id('department'), { name: 'department', type: 'text', description: 'Name of the department', example: 'Supply Chain' }],
  },
  jobs: {
    name: 'jobs',
    description: 'Job titles',
    columns: [id('job'), { name: 'job', type: 'text', description: 'Name of the job', example: 'Recruiter' }],
  },
  hired_employees: {
    name: 'hired_employees',
    description: 'Employees hired, one row per hire',
    columns: [
      id('employee'),
      { name: 'name', type: 'text', description: 'Name and surname of the employee', example: 'Harold Vogt' },
      {
        name: 'datetime',
        type: 'datetime',
        description: 'Hire instant, ISO 8601 with a UTC offset; stored normalized to UTC',
        example: '2021-11-07T02:48:42Z',
      },
      {
        name: 'department_id',
        type: 'integer',
        references: 'departments',
        description: 'Id of the department that hired the employee',
        example: 2,
      },
      { name: 'job_id', type: 'integer', references: 'jobs', description: 'Id of the job the employee was hired for', example: 96 },
    ],
  },
};

/** Whether a name is a table's canonical name (a key of TABLES, not one of Object's). */
export const isTableName = (name: string): name is TableName => Object.hasOwn(TABLES, name);

export const TABLE_NAMES: readonly TableName[] = Object.keys(TABLES).filter(isTableName);

/** The table names in dictionary order, in words: `departments, jobs or hired_employees` (each name + `suffix`). */
export function tableList(conjunction: 'and' | 'or', suffix = ''): string {
  const names = TABLE_NAMES.map((name) => `${name}${suffix}`);
  return names.length < 2 ? names.join('') : `${names.slice(0, -1).join(', ')} ${conjunction} ${names.at(-1)!}`;
}

/** Names accepted in URLs besides the canonical ones (the original service used `employees`). */
export const TABLE_ALIASES: Readonly<Record<string, TableName>> = { employees: 'hired_employees' };

export function resolveTable(name: string): TableDef | undefined {
  const canonical = isTableName(name) ? name : Object.hasOwn(TABLE_ALIASES, name) ? TABLE_ALIASES[name] : undefined;
  return canonical ? TABLES[canonical] : undefined;
}

/** A table's primary key: its one column declared `primaryKey`, and its place in a row. */
export interface PrimaryKey {
  readonly name: string;
  readonly index: number;
}

const primaryKeys = new WeakMap<TableDef, PrimaryKey>();

/**
 * The primary key of a table. The store relies on it being one integer column (keyset pages go
 * `key > last`, duplicates are told by it): a table declared otherwise fails here, at first use.
 */
export function primaryKeyOf(table: TableDef): PrimaryKey {
  let key = primaryKeys.get(table);
  if (key === undefined) {
    const indexes = table.columns.flatMap((c, i) => (c.primaryKey ? [i] : []));
    const column = indexes.length === 1 ? table.columns[indexes[0]!]! : undefined;
    if (column === undefined || column.type !== 'integer') {
      throw new Error(`${table.name}: the dictionary must declare exactly one integer primaryKey column`);
    }
    key = { name: column.name, index: indexes[0]! };
    primaryKeys.set(table, key);
  }
  return key;
}

/** One row as stored: values in the dictionary's column order; NULL for empty optional fields. */
export type Value = string | number | null;
export type Row = Value[];
