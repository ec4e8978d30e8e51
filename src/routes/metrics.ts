import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { Type, type Static } from 'typebox';
import { toCsv } from '../reports/csv-output.js';
import { REPORTS, YEAR_REPORTS, reportColumns, runReport, type YearReportDef } from '../reports/registry.js';
import { ReportCache } from '../reports/report-cache.js';
import { errorResponses } from '../schemas.js';

const MetricsQuerySchema = Type.Object({
  year: Type.Integer({ minimum: 1900, maximum: 2100, default: 2021, description: 'Year (UTC)' }),
  format: Type.Optional(Type.Union([Type.Literal('json'), Type.Literal('csv')], { description: 'csv: same as Accept: text/csv' })),
  spreadsheet_safe: Type.Boolean({ default: false, description: "CSV only: prefix cells starting with = + - @ with '" }),
});

type MetricsQuery = Static<typeof MetricsQuerySchema>;

const wantsCsv = (accept: string | undefined, query: MetricsQuery): boolean =>
  query.format === 'csv' || (query.format === undefined && (accept ?? '').toLowerCase().includes('text/csv'));

const bytesOf = (body: string | ArrayBuffer | Buffer): Buffer =>
  typeof body === 'string' ? Buffer.from(body) : Buffer.isBuffer(body) ? body : Buffer.from(body);

export default async function metricsRoutes(fastify: FastifyInstance): Promise<void> {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const cache = new ReportCache();

  async function answer(report: YearReportDef, query: MetricsQuery, accept: string | undefined, reply: FastifyReply) {
    const csv = wantsCsv(accept, query);
    // The JSON body goes through the route's response schema, as `return rows` would.
    const render = async (): Promise<Buffer> => {
      const rows = await runReport(app.store, report, [query.year]);
      return csv
        ? Buffer.from(toCsv(reportColumns(report), rows, { spreadsheetSafe: query.spreadsheet_safe }))
        : bytesOf(reply.serialize(rows));
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

  for (const report of YEAR_REPORTS) {
    app.get(
      `/metrics/${report.name}`,
      {
        schema: {
          tags: ['reports'],
          summary: report.summary,
          querystring: MetricsQuerySchema,
          produces: ['application/json', 'text/csv'],
          response: { 200: Type.Array(report.row), ...errorResponses(400, 503) },
        },
      },
      (request, reply) => answer(report, request.query, request.headers.accept, reply),
    );
  }

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
