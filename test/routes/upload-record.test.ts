import { Value } from 'typebox/value';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApp, type TestApp } from '../helpers/app.js';
import { BACKENDS } from '../helpers/backends.js';
import { UploadRecordSchema, UploadReportSchema } from '../../src/upload-record.js';

type JsonSchema = Record<string, unknown>;

/**
 * The OpenAPI 3.0 document writes `anyOf: [X, {type: 'null'}]` as X with `nullable: true`; this
 * undoes that, so the document's schema can be compared with the declared one as JSON.
 */
function fromOpenApi(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(fromOpenApi);
  if (schema === null || typeof schema !== 'object') return schema;
  const { nullable, ...rest } = schema as JsonSchema;
  const walked = Object.fromEntries(Object.entries(rest).map(([k, v]) => [k, fromOpenApi(v)]));
  if (nullable !== true) return walked;
  const { description, type, ...inner } = walked;
  return { ...(description === undefined ? {} : { description }), anyOf: [{ type, ...inner }, { type: 'null' }] };
}

const asJson = (schema: unknown): unknown => JSON.parse(JSON.stringify(schema));

const answerSchema = (
  doc: { paths: Record<string, Record<string, { responses: Record<string, unknown> }>> },
  path: string,
  method: string,
) =>
  fromOpenApi(
    (doc.paths[path]![method]!.responses['200'] as { content: Record<string, { schema: unknown }> }).content['application/json']!.schema,
  );

for (const backend of BACKENDS) {
  describe.skipIf(!backend.available)(`the upload record, declared once [${backend.name}]`, () => {
    let t: TestApp;
    beforeAll(async () => {
      t = await startApp(backend);
    });
    afterAll(() => t.close());

    it("is the OpenAPI schema of POST /upload/{table}'s and GET /uploads/{id}'s answers, plus `errors`", async () => {
      const doc = (await t.app.inject('/openapi.json')).json();
      for (const [path, method] of [
        ['/upload/{table}', 'post'],
        ['/uploads/{id}', 'get'],
      ] as const) {
        const schema = answerSchema(doc, path, method) as { properties: JsonSchema; required: string[] };
        expect(schema, path).toEqual(asJson(UploadReportSchema));
        const { errors: _errors, ...record } = schema.properties;
        expect(record, path).toEqual(asJson(UploadRecordSchema.properties));
        expect(schema.required.filter((k) => k !== 'errors')).toEqual(UploadRecordSchema.required);
      }
    });

    it('is what POST /upload answers and GET /uploads/{id} gives back, field for field', async () => {
      const res = await t.app.inject({
        method: 'POST',
        url: '/upload/jobs?dry_run=true',
        payload: '1,Recruiter\nx,Bad id\n',
        headers: { 'content-type': 'text/csv' },
      });
      expect(res.statusCode).toBe(200);
      const answer = res.json();
      expect(Value.Check(UploadRecordSchema, answer), JSON.stringify([...Value.Errors(UploadRecordSchema, answer)])).toBe(true);
      expect(Value.Check(UploadReportSchema, answer)).toBe(true);
      expect(Object.keys(answer).sort()).toEqual([...Object.keys(UploadRecordSchema.properties), 'errors'].sort());
      expect(answer).toMatchObject({ table: 'jobs', source: 'csv', status: 'dry_run', received: 2, rejected: 1, message: null });

      const logged = (await t.app.inject(`/uploads/${answer.upload_id}`)).json();
      expect(Value.Check(UploadReportSchema, logged)).toBe(true);
      expect(logged).toEqual(answer);
    });

    it('holds the message of a failed upload, in the log and the schema', async () => {
      const failed = await t.app.inject({
        method: 'POST',
        url: '/upload/jobs',
        payload: '1,"unterminated\n',
        headers: { 'content-type': 'text/csv' },
      });
      expect(failed.statusCode).toBe(400);
      const logged = (await t.app.inject(`/uploads/${failed.json().details.upload_id}`)).json();
      expect(Value.Check(UploadReportSchema, logged)).toBe(true);
      expect(logged.status).toBe('failed');
      expect(typeof logged.message).toBe('string');
    });
  });
}
