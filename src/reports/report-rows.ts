import { Type, type Static } from 'typebox';

/**
 * What each report's rows hold, declared once: the routes' response schemas (and so the OpenAPI
 * document and the JSON serializer), the CSV header (the properties, in order) and, through
 * `Static<>`, the dashboard's types. Only typebox here: the dashboard imports these types.
 */

// A department or job uploaded with an empty name is stored as NULL and answered as null, not "".
const name = (what: string) =>
  Type.Union([Type.String(), Type.Null()], { description: `Name of the ${what}; null when stored without one` });
const quarter = Type.Integer({ minimum: 0 });

export const QuarterRowSchema = Type.Object({
  department: name('department'),
  job: name('job'),
  Q1: quarter,
  Q2: quarter,
  Q3: quarter,
  Q4: quarter,
});

export const DepartmentHiresSchema = Type.Object({ id: Type.Integer(), department: name('department'), hired: Type.Integer() });

export const YearRowSchema = Type.Object({ year: Type.Integer() });

export type QuarterRow = Static<typeof QuarterRowSchema>;
export type DepartmentHires = Static<typeof DepartmentHiresSchema>;
