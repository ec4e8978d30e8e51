import type { FastifyError, FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { AppError, ERRORS, type ErrorCode } from '../errors.js';

// Fastify's and its plugins' own error codes that are the client's fault, with our code for each.
const FASTIFY_CODES: Record<string, ErrorCode> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'BAD_REQUEST',
  FST_ERR_CTP_BODY_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'VALIDATION_FAILED',
  FST_ERR_CTP_INVALID_JSON_BODY: 'VALIDATION_FAILED',
  FST_REQ_FILE_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  FST_FILES_LIMIT: 'BAD_REQUEST',
  FST_PARTS_LIMIT: 'BAD_REQUEST',
  FST_FIELDS_LIMIT: 'BAD_REQUEST',
  FST_INVALID_MULTIPART_CONTENT_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  FST_PROTO_VIOLATION: 'BAD_REQUEST',
};

/**
 * The multipart parser's (busboy's) own errors, which carry no code: a body the client did send
 * whole but wrong. The upload routes catch these first; this is for any other multipart route.
 */
const MULTIPART_MESSAGES = [
  'Multipart: Boundary not found',
  'Unexpected end of multipart data',
  'Part terminated early due to unexpected end of multipart data',
  // A boundary parameter of more than 256 characters (RFC 2046 allows 70).
  'The needle cannot have a length bigger than 256.',
];

const BY_STATUS: Record<number, ErrorCode> = {
  400: 'BAD_REQUEST',
  401: 'UNAUTHORIZED',
  403: 'FORBIDDEN',
  404: 'NOT_FOUND',
  408: 'REQUEST_TIMEOUT',
  413: 'PAYLOAD_TOO_LARGE',
  415: 'UNSUPPORTED_MEDIA_TYPE',
  429: 'TOO_MANY_REQUESTS',
  503: 'DATABASE_UNAVAILABLE',
};

/** Turns any error into the one error shape; a 5xx never carries internals. */
export function toAppError(error: FastifyError | Error): AppError {
  if (error instanceof AppError) return error;
  const fastifyError = error as FastifyError;
  if (fastifyError.validation) {
    const details = fastifyError.validation.map((v) => ({
      field: `${fastifyError.validationContext ?? ''}${v.instancePath}`.replace(/\//g, '.').replace(/^\./, ''),
      reason: v.message ?? 'is invalid',
    }));
    return new AppError('VALIDATION_FAILED', `Invalid ${fastifyError.validationContext ?? 'request'}: ${fastifyError.message}`, details);
  }
  if (fastifyError.code === undefined && MULTIPART_MESSAGES.includes(fastifyError.message)) {
    return new AppError('MULTIPART_MALFORMED', `The multipart body is malformed: ${fastifyError.message}`);
  }
  const mapped = fastifyError.code === undefined ? undefined : FASTIFY_CODES[fastifyError.code];
  if (mapped !== undefined) return new AppError(mapped, fastifyError.message);
  const status = fastifyError.statusCode;
  if (status !== undefined && status >= 400 && status < 500) {
    return new AppError(BY_STATUS[status] ?? 'BAD_REQUEST', fastifyError.message);
  }
  return new AppError('INTERNAL');
}

export default fp(
  async function errorHandler(app: FastifyInstance) {
    app.setErrorHandler((error: FastifyError, request, reply) => {
      const appError = toAppError(error);
      if (appError.statusCode >= 500 && appError.code === 'INTERNAL') request.log.error({ err: error }, 'request failed');
      else if (appError.statusCode >= 500) request.log.warn({ code: appError.code, cause: error.message }, 'service unavailable');
      if (appError.retryAfter !== undefined) void reply.header('retry-after', String(appError.retryAfter));
      // RFC 6750: a 401 names the scheme it wants.
      if (appError.statusCode === 401) void reply.header('www-authenticate', 'Bearer realm="hr-migration"');
      // The body was not read to its end (too large, too slow, refused early): close the connection
      // rather than let Node read and discard the rest of it.
      if (request.raw.complete === false) void reply.header('connection', 'close');
      const status = appError.statusCode === ERRORS.CLIENT_CLOSED.status ? 499 : appError.statusCode;
      return reply.code(status).type('application/json; charset=utf-8').send(appError.toBody());
    });
    app.setNotFoundHandler((request, reply) =>
      reply.code(404).send(new AppError('NOT_FOUND', `No route ${request.method} ${request.url.split('?')[0]}`).toBody()),
    );
  },
  { name: 'error-handler' },
);
