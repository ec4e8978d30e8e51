import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { AppError } from '../errors.js';
import { ImportJobSchema, ImportListSchema, toView, type ImportJobView } from '../imports/job-view.js';
import { formatSource, parseSource } from '../imports/sources.js';
import { CompleteUploadSchema, completeUpload, presignUpload, UploadUrlRequestSchema, UploadUrlSchema } from '../imports/upload-url.js';
import { errorResponses, IdParamSchema, isServiceId } from '../schemas.js';
import { FINISHED_STATUSES, type ImportJob } from '../store/import-jobs.js';
import { TABLE_NAMES } from '../tables.js';
import { cutWhenStalled } from './idle-timeout.js';
import { tableOr404, UploadQuerySchema } from './upload.js';

const NewImportSchema = Type.Object(
  {
    table: Type.String({ description: `One of ${TABLE_NAMES.join(', ')} (or an alias, as in /upload)`, examples: ['hired_employees'] }),
    source: Type.String({ maxLength: 1100, description: '`s3://bucket/key` or `file:NAME` (a file of IMPORT_DIR)' }),
    ...UploadQuerySchema.properties,
  },
  { additionalProperties: false },
);

const ListQuerySchema = Type.Object({
  limit: Type.Integer({ minimum: 1, maximum: 100, default: 20 }),
  before: Type.Optional(Type.String({ maxLength: 64, description: 'An import_id: the jobs created before it' })),
});

/** How often the events stream looks at the job (it may run on another instance), and says it is alive. */
const EVENTS_POLL_MS = 500;
const EVENTS_KEEPALIVE_MS = 15_000;

export default async function importRoutes(fastify: FastifyInstance): Promise<void> {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const { importJobs } = app.store;

  const find = async (id: string): Promise<ImportJob> => {
    const job = isServiceId(id) ? await importJobs.get(id) : undefined;
    if (job === undefined) throw new AppError('IMPORT_NOT_FOUND', `No import job ${id}`);
    return job;
  };
  const view = async (job: ImportJob): Promise<ImportJobView> =>
    toView(job, job.upload_id === null ? undefined : await app.store.getUpload(job.upload_id));

  app.post(
    '/imports',
    {
      config: { idempotent: true },
      schema: {
        tags: ['imports'],
        summary: 'Queue an import of a CSV file from S3 or the import folder; it runs in the background, in one transaction',
        body: NewImportSchema,
        response: { 202: ImportJobSchema, ...errorResponses(400, 401, 404, 409, 422, 429) },
      },
    },
    async (request, reply) => {
      const { table: name, source: text, ...options } = request.body;
      const table = tableOr404(name);
      const source = formatSource(parseSource(text, app.config));
      const job = await importJobs.create({ import_id: randomUUID(), table: table.name, source, options });
      app.imports.wake();
      request.log.info({ table: job.table }, 'import queued');
      return reply.code(202).header('location', `/imports/${job.import_id}`).send(toView(job));
    },
  );

  app.get(
    '/imports',
    {
      schema: {
        tags: ['imports'],
        summary: 'Recent import jobs, newest first (paged with `before`)',
        querystring: ListQuerySchema,
        response: { 200: ImportListSchema, ...errorResponses(401) },
      },
    },
    async (request) => {
      const { before } = request.query;
      // A `before` that is no job's id: no job comes before it.
      const jobs = before !== undefined && !isServiceId(before) ? [] : await importJobs.list(request.query.limit + 1, before);
      const page = jobs.slice(0, request.query.limit);
      return {
        imports: await Promise.all(page.map(view)),
        next: jobs.length > page.length ? page[page.length - 1]!.import_id : null,
      };
    },
  );

  app.get(
    '/imports/:id',
    {
      schema: {
        tags: ['imports'],
        summary: "An import job's state and progress; once ended, its upload's report fields",
        params: IdParamSchema,
        response: { 200: ImportJobSchema, ...errorResponses(401, 404) },
      },
    },
    async (request) => view(await find(request.params.id)),
  );

  app.delete(
    '/imports/:id',
    {
      schema: {
        tags: ['imports'],
        summary: 'Cancel an import job: a queued one ends at once, a running one is rolled back',
        params: IdParamSchema,
        response: { 202: ImportJobSchema, ...errorResponses(401, 404, 409) },
      },
    },
    async (request, reply) => {
      const job = isServiceId(request.params.id) ? await importJobs.requestCancel(request.params.id) : undefined;
      if (job === undefined) throw new AppError('IMPORT_NOT_FOUND', `No import job ${request.params.id}`);
      if (FINISHED_STATUSES.includes(job.status) && job.status !== 'cancelled') {
        throw new AppError('IMPORT_FINISHED', `The import job has already ended (${job.status}); there is nothing to cancel`, {
          import_id: job.import_id,
          status: job.status,
        });
      }
      // Its runner sees the flag at its next heartbeat; this instance's own job stops now.
      app.imports.cancelLocal(job.import_id);
      return reply.code(202).send(await view(job));
    },
  );

  app.get(
    '/imports/:id/events',
    {
      schema: {
        tags: ['imports'],
        summary: 'Server-Sent Events of the job: `progress` at each change, then one `end` with the final state',
        produces: ['text/event-stream'],
        params: IdParamSchema,
        response: {
          200: Type.Unknown({ description: 'text/event-stream: `progress` and `end` events, each a job as GET /imports/{id} answers' }),
          ...errorResponses(401, 404),
        },
      },
    },
    async (request, reply) => {
      const first = await find(request.params.id);
      const closed = new AbortController();
      reply.raw.once('close', () => closed.abort());
      cutWhenStalled(request, reply, app.config.DOWNLOAD_IDLE_TIMEOUT_MS);
      return reply
        .type('text/event-stream')
        .header('cache-control', 'no-store')
        .header('x-accel-buffering', 'no')
        .send(Readable.from(events(first, (id) => importJobs.get(id), view, closed.signal)));
    },
  );

  app.post(
    '/imports/upload-url',
    {
      schema: {
        tags: ['imports'],
        summary: 'A presigned URL to PUT a file straight into the import bucket (multipart for big files); then POST /imports',
        body: UploadUrlRequestSchema,
        response: { 200: UploadUrlSchema, ...errorResponses(400, 401, 404, 503) },
      },
    },
    async (request) => {
      const table = tableOr404(request.body.table);
      return presignUpload(app.config, { ...request.body, table: table.name });
    },
  );

  app.post(
    '/imports/upload-url/complete',
    {
      schema: {
        tags: ['imports'],
        summary: 'Completes a presigned multipart upload with its parts’ ETags',
        body: CompleteUploadSchema,
        response: { 200: Type.Object({ source: Type.String() }), ...errorResponses(400, 401, 404, 503) },
      },
    },
    async (request) => completeUpload(app.config, request.body),
  );
}

/**
 * The job's events: its state at once, again at each change (looked up every EVENTS_POLL_MS: the
 * job may run on another instance), and `end` once it has ended. Comments keep proxies from
 * cutting an idle stream.
 */
async function* events(
  first: ImportJob,
  get: (id: string) => Promise<ImportJob | undefined>,
  view: (job: ImportJob) => Promise<ImportJobView>,
  closed: AbortSignal,
): AsyncIterable<string> {
  let job: ImportJob | undefined = first;
  let last = '';
  let quietSince = Date.now();
  while (job !== undefined && !closed.aborted) {
    const ended = FINISHED_STATUSES.includes(job.status);
    const data = JSON.stringify(await view(job));
    if (ended) {
      yield `event: end\ndata: ${data}\n\n`;
      return;
    }
    if (data !== last) {
      last = data;
      quietSince = Date.now();
      yield `event: progress\ndata: ${data}\n\n`;
    } else if (Date.now() - quietSince >= EVENTS_KEEPALIVE_MS) {
      quietSince = Date.now();
      yield ': keep-alive\n\n';
    }
    await sleep(EVENTS_POLL_MS, closed);
    job = await get(job.import_id);
  }
}

const sleep = (ms: number, signal: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        resolve();
      },
      { once: true },
    );
  });
