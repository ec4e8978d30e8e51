import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { toCsv } from '../reports/csv-output.js';
import { REPORTS, runReport, type ReportDef } from '../reports/registry.js';
import { ReportCache } from '../reports/report-cache.js';
import { errorResponses } from '../schemas.js';

const MetricsQuerySchema = Type.Object({
  year: Type.Integer({ minimum: 1900, maximum: 2100, default: 2021, description: 'Year (UTC)' }),
  format: Type.Optional(Type.Union([Type.Literal('json'), Type.Literal('csv')], { description: 'csv: same as Accept: text/csv' })),
  spreadsheet_safe: Type.Boolean({ default: false, description: "CSV only: prefix cells starting with = + - @ with '" }),
});

// A department or job uploaded with an empty name is stored as NULL and answered as null, not "".
const NameSchema = (what: string) =>
  Type.Union([Type.String(), Type.Null()], { description: `Name of the ${what}; null when stored without one` });

const DepartmentHiresSchema = Type.Object({ id: Type.Integer(), department: NameSchema('department'), hired: Type.Integer() });

type MetricsQuery = { year: number; format?: 'json' | 'csv'; spreadsheet_safe: boolean };

const wantsCsv = (request: FastifyRequest, query: MetricsQuery): boolean =>
  query.format === 'csv' || (query.format === undefined && (request.headers.accept ?? '').toLowerCase().includes('text/csv'));

async function answer(app: FastifyInstance, cache: ReportCache, report: ReportDef, request: FastifyRequest, reply: FastifyReply) {
  const query = request.query as MetricsQuery;
  const csv = wantsCsv(request, query);
  // The JSON body goes through the route's response schema, as `return rows` would.
  const render = async (): Promise<Buffer> => {
    const rows = await runReport(app.store, report, [query.year]);
    return Buffer.from(csv ? toCsv(report.columns, rows, { spreadsheetSafe: query.spreadsheet_safe }) : (reply.serialize(rows) as string));
  };
  const key = `${report.name}\u0000${query.year}\u0000${csv ? `csv${query.spreadsheet_safe ? '-safe' : ''}` : 'json'}`;
  const body = await cache.get(app.store, key, render);
  if (csv) {
    reply.type('text/csv; charset=utf-8').header('content-disposition', `attachment; filename="${report.name}-${query.year}.csv"`);
  } else {
    reply.type('application/json; charset=utf-8');
  }
  return reply.send(body);
}

export default async function metricsRoutes(app: FastifyInstance): Promise<void> {
  const cache = new ReportCache();
  const quarter = Type.Integer({ minimum: 0 });
  app.get(
    '/metrics/hired-employees',
    {
      schema: {
        tags: ['reports'],
        summary: 'Hires per department and job in a year, by quarter (UTC); ordered by department, then job',
        querystring: MetricsQuerySchema,
        produces: ['application/json', 'text/csv'],
        response: {
          200: Type.Array(
            Type.Object({
              department: NameSchema('department'),
              job: NameSchema('job'),
              Q1: quarter,
              Q2: quarter,
              Q3: quarter,
              Q4: quarter,
            }),
          ),
          ...errorResponses(400, 503),
        },
      },
    },
    (request, reply) => answer(app, cache, REPORTS.hiredEmployees, request, reply),
  );
  app.get(
    '/metrics/departments-above-mean',
    {
      schema: {
        tags: ['reports'],
        summary: 'Departments that hired more than the mean of all departments in a year; by hires, descending',
        querystring: MetricsQuerySchema,
        produces: ['application/json', 'text/csv'],
        response: {
          200: Type.Array(DepartmentHiresSchema),
          ...errorResponses(400, 503),
        },
      },
    },
    (request, reply) => answer(app, cache, REPORTS.departmentsAboveMean, request, reply),
  );
  app.get(
    '/metrics/department-hires',
    {
      schema: {
        tags: ['reports'],
        summary: "Every department's hires in a year, 0 included (what departments-above-mean compares with the mean)",
        querystring: MetricsQuerySchema,
        produces: ['application/json', 'text/csv'],
        response: {
          200: Type.Array(DepartmentHiresSchema),
          ...errorResponses(400, 503),
        },
      },
    },
    (request, reply) => answer(app, cache, REPORTS.departmentHires, request, reply),
  );
  app.get(
    '/metrics/years',
    {
      schema: {
        tags: ['reports'],
        summary: 'Years with at least one hire, most recent first',
        response: { 200: Type.Object({ years: Type.Array(Type.Integer()) }), ...errorResponses(503) },
      },
    },
    async () => ({ years: (await runReport(app.store, REPORTS.years, [])).map((r) => Number(r.year)) }),
  );
}
