import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApp, type TestApp } from '../helpers/app.js';
import { BACKENDS } from '../helpers/backends.js';
import { multipart } from '../helpers/http.js';
import { counts } from '../faults/support/app.js';

/** Bounded runs (the whole file takes about 20 s); FUZZ_RUNS scales them, FUZZ_SEED replays a failure. */
const scale = Number(process.env.FUZZ_RUNS ?? 1);
const seed = process.env.FUZZ_SEED === undefined ? undefined : Number(process.env.FUZZ_SEED);
const RUNS = { sqlite: { upload: 400, batch: 600 }, postgres: { upload: 120, batch: 160 } };

// --- Valid material to mutate ---------------------------------------------------------------

const instant = fc
  .record({
    y: fc.integer({ min: 1990, max: 2030 }),
    m: fc.integer({ min: 1, max: 12 }),
    d: fc.integer({ min: 1, max: 28 }),
    h: fc.integer({ min: 0, max: 23 }),
    offset: fc.constantFrom('Z', '+00:00', '-03:00', '+0530'),
  })
  .map(
    ({ y, m, d, h, offset }) =>
      `${y}-${String(m).padStart(2, '0')}-${String(d).padStart(2, '0')}T${String(h).padStart(2, '0')}:00:00${offset}`,
  );

const field = (text: string): string => (/[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text);

const validLine = fc
  .tuple(
    fc.integer({ min: 1, max: 5000 }),
    fc.string({ maxLength: 20 }),
    instant,
    fc.integer({ min: 1, max: 12 }),
    fc.integer({ min: 1, max: 200 }),
  )
  .map(([id, name, at, department, job]) => [id, field(name), at, department, job].join(','));

const TOKENS = [
  ',',
  '"',
  '\r',
  '\n',
  '\r\n',
  '\u0000',
  '\uFEFF',
  "'",
  '""',
  '-',
  '0',
  '99999999999999999999',
  'é',
  '😀',
  ' ',
  '\t',
  ';DROP TABLE x;--',
].map((t) => Buffer.from(t));
const BYTES = [[0xff], [0xc0, 0xaf], [0xed, 0xa0, 0x80], [0xe2, 0x82], [0x80]].map((b) => Buffer.from(b));

type Mutation =
  | { kind: 'insert'; at: number; bytes: Buffer }
  | { kind: 'delete'; at: number; length: number }
  | { kind: 'duplicate'; at: number; length: number }
  | { kind: 'truncate'; at: number }
  | { kind: 'flip'; at: number; value: number };

const position = fc.double({ min: 0, max: 1, noNaN: true });
const mutation: fc.Arbitrary<Mutation & { where: number }> = fc.oneof(
  fc.record({
    kind: fc.constant('insert' as const),
    where: position,
    at: fc.constant(0),
    bytes: fc.oneof(
      fc.constantFrom(...TOKENS),
      fc.constantFrom(...BYTES),
      fc.uint8Array({ minLength: 1, maxLength: 4 }).map((a) => Buffer.from(a)),
    ),
  }),
  fc.record({ kind: fc.constant('delete' as const), where: position, at: fc.constant(0), length: fc.integer({ min: 1, max: 30 }) }),
  fc.record({ kind: fc.constant('duplicate' as const), where: position, at: fc.constant(0), length: fc.integer({ min: 1, max: 80 }) }),
  fc.record({ kind: fc.constant('truncate' as const), where: position, at: fc.constant(0) }),
  fc.record({ kind: fc.constant('flip' as const), where: position, at: fc.constant(0), value: fc.integer({ min: 0, max: 255 }) }),
);

function mutate(input: Buffer, mutations: (Mutation & { where: number })[]): Buffer {
  let b = input;
  for (const m of mutations) {
    const at = Math.floor(m.where * b.length);
    switch (m.kind) {
      case 'insert':
        b = Buffer.concat([b.subarray(0, at), m.bytes, b.subarray(at)]);
        break;
      case 'delete':
        b = Buffer.concat([b.subarray(0, at), b.subarray(at + m.length)]);
        break;
      case 'duplicate':
        b = Buffer.concat([b.subarray(0, at + m.length), b.subarray(at)]);
        break;
      case 'truncate':
        b = b.subarray(0, at);
        break;
      case 'flip':
        if (at < b.length) (b = Buffer.from(b))[at] = m.value;
        break;
    }
  }
  return b;
}

const uploadCase = fc.record({
  lines: fc.array(validLine, { minLength: 1, maxLength: 30 }),
  lineEnd: fc.constantFrom('\n', '\r\n', '\r'),
  mutations: fc.array(mutation, { maxLength: 6 }),
  asMultipart: fc.boolean(),
  strict: fc.boolean(),
  dryRun: fc.boolean(),
  onConflict: fc.constantFrom('reject', 'update'),
  batchSize: fc.integer({ min: 1, max: 10 }),
});

// --- Random JSON for /batch ---------------------------------------------------------------------

const value = fc.oneof(
  fc.integer({ min: -3, max: 5000 }),
  fc.constantFrom(0, -0, 1.5, 2 ** 53, 2 ** 53 + 2, 1e308, Number.MAX_SAFE_INTEGER),
  fc.string({ maxLength: 12 }),
  instant,
  fc.constantFrom('2021-02-30T00:00:00Z', '0000-01-01T00:00:00Z', '10000-01-01T00:00:00Z', '2021-01-01T00:00:00', '\ud800', 'a\u0000b', ''),
  fc.constantFrom(null, true, false),
  fc.jsonValue({ maxDepth: 2 }),
);
const rowObject = fc.record(
  { id: value, name: value, datetime: value, department_id: value, job_id: value, extra: value },
  { requiredKeys: [] },
);
const validRow = fc.record({
  id: fc.integer({ min: 1, max: 5000 }),
  name: fc.string({ minLength: 1, maxLength: 10 }),
  datetime: instant,
  department_id: fc.integer({ min: 1, max: 12 }),
  job_id: fc.integer({ min: 1, max: 200 }),
});
const batchBody = fc.oneof(
  { weight: 3, arbitrary: fc.array(fc.oneof(validRow, rowObject), { minLength: 1, maxLength: 12 }).map((rows) => JSON.stringify(rows)) },
  { weight: 2, arbitrary: fc.array(validRow, { minLength: 1, maxLength: 12 }).map((rows) => JSON.stringify(rows)) },
  { weight: 1, arbitrary: fc.jsonValue().map((v) => JSON.stringify(v)) },
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.array(validRow, { minLength: 1, maxLength: 5 }), fc.array(mutation, { minLength: 1, maxLength: 3 }))
      .map(([rows, ms]) => mutate(Buffer.from(JSON.stringify(rows)), ms).toString('latin1')),
  },
);

for (const backend of BACKENDS) {
  describe.skipIf(!backend.available)(`fuzz: random mutations at /upload and random JSON at /batch [${backend.name}]`, () => {
    let t: TestApp;
    const runs = RUNS[backend.name];
    beforeAll(async () => {
      t = await startApp(backend, { RATE_LIMIT_WRITES_PER_MINUTE: 1_000_000 });
    });
    afterAll(() => t?.close());

    it(`POST /upload/hired_employees: never a 5xx; the table grows by exactly the rows reported inserted (${runs.upload} runs)`, async () => {
      await fc.assert(
        fc.asyncProperty(uploadCase, async (c) => {
          const body = mutate(Buffer.from(c.lines.join(c.lineEnd)), c.mutations);
          const before = (await counts(t.app)).hired_employees!;
          const res = await t.app.inject({
            method: 'POST',
            url: `/upload/hired_employees?strict=${c.strict}&dry_run=${c.dryRun}&on_conflict=${c.onConflict}&batch_size=${c.batchSize}`,
            ...(c.asMultipart ? multipart(body) : { payload: body, headers: { 'content-type': 'text/csv' } }),
          });
          expect(res.statusCode).toBeLessThan(500);
          const after = (await counts(t.app)).hired_employees!;
          const report = res.json();
          if (res.statusCode === 200) {
            expect(report.received).toBe(report.inserted + report.updated + report.rejected);
            if (c.onConflict === 'reject') expect(report.updated).toBe(0);
            expect(after - before).toBe(c.dryRun ? 0 : report.inserted);
            const logged = (await t.app.inject(`/uploads/${report.upload_id}`)).json();
            expect(logged).toMatchObject({
              status: c.dryRun ? 'dry_run' : 'committed',
              inserted: report.inserted,
              rejected: report.rejected,
            });
          } else {
            expect(res.statusCode).toBeGreaterThanOrEqual(400);
            expect(typeof report.error).toBe('string');
            expect(after).toBe(before);
          }
        }),
        { numRuns: Math.ceil(runs.upload * scale), seed },
      );
      expect((await t.app.inject('/health')).statusCode).toBe(200);
    });

    it(`POST /batch/hired_employees: never a 5xx; all or nothing (${runs.batch} runs)`, async () => {
      await fc.assert(
        fc.asyncProperty(batchBody, async (payload) => {
          const before = (await counts(t.app)).hired_employees!;
          const res = await t.app.inject({
            method: 'POST',
            url: '/batch/hired_employees',
            payload,
            headers: { 'content-type': 'application/json' },
          });
          expect(res.statusCode).toBeLessThan(500);
          const after = (await counts(t.app)).hired_employees!;
          if (res.statusCode === 201) {
            expect(after - before).toBe(res.json().inserted);
            expect(res.json().inserted).toBe((JSON.parse(payload) as unknown[]).length);
          } else {
            expect([400, 409, 413, 415]).toContain(res.statusCode);
            expect(after).toBe(before);
          }
        }),
        { numRuns: Math.ceil(runs.batch * scale), seed },
      );
      expect((await t.app.inject('/health')).statusCode).toBe(200);
    });
  });
}
