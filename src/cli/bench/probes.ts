import { performance } from 'node:perf_hooks';
import { request } from './http.js';
import { summarize, type LatencySummary } from './stats.js';

export const YEAR = 2021;
export const ENDPOINTS = {
  health: '/health',
  hired_employees: `/metrics/hired-employees?year=${YEAR}`,
  departments_above_mean: `/metrics/departments-above-mean?year=${YEAR}`,
} as const;
export type EndpointName = keyof typeof ENDPOINTS;
export const REPORT_NAMES = ['hired_employees', 'departments_above_mean'] as const;

async function timedGet(base: string, path: string): Promise<number> {
  const res = await request(`${base}${path}`);
  if (res.status !== 200) throw new Error(`GET ${path}: ${res.status} ${JSON.stringify(res.body).slice(0, 200)}`);
  return res.ms;
}

export interface ReportLatency {
  /** First request after the upload's commit. */
  after_upload_ms: number;
  /** Each request right after a one-row POST /batch (a write), so never served from a warm cache. */
  cold: LatencySummary;
  warm: LatencySummary;
}

/**
 * Cold and warm latency of both reports. Cold: every measured request follows a write (a
 * one-row batch with a new id), which is what invalidates caches. Warm: back-to-back requests.
 */
export async function reportLatency(
  base: string,
  firstNewId: number,
  samples = { cold: 15, warm: 200 },
): Promise<Record<string, ReportLatency>> {
  const out: Record<string, ReportLatency> = {};
  let id = firstNewId;
  const afterUpload: Record<string, number> = {};
  for (const name of REPORT_NAMES) afterUpload[name] = await timedGet(base, ENDPOINTS[name]);
  for (const name of REPORT_NAMES) {
    const cold: number[] = [];
    for (let i = 0; i < samples.cold; i++) {
      const write = await request(`${base}/batch/hired_employees`, {
        method: 'POST',
        json: [{ id: id++, name: 'Bench Probe', datetime: `${YEAR}-06-01T12:00:00Z`, department_id: 1, job_id: 1 }],
      });
      if (write.status !== 201) throw new Error(`POST /batch: ${write.status} ${JSON.stringify(write.body).slice(0, 200)}`);
      cold.push(await timedGet(base, ENDPOINTS[name]));
    }
    const warm: number[] = [];
    for (let i = 0; i < 10; i++) await timedGet(base, ENDPOINTS[name]);
    for (let i = 0; i < samples.warm; i++) warm.push(await timedGet(base, ENDPOINTS[name]));
    out[name] = { after_upload_ms: Number(afterUpload[name]!.toFixed(2)), cold: summarize(cold), warm: summarize(warm) };
  }
  return out;
}

export interface Throughput {
  requests_per_s: number;
  p50_ms: number;
  p99_ms: number;
  errors: number;
  non_2xx: number;
}

/** autocannon against each endpoint in turn: loopback, `connections` clients, `seconds` each. */
export async function throughput(base: string, connections: number, seconds: number): Promise<Record<EndpointName, Throughput>> {
  const { default: autocannon } = await import('autocannon');
  const out = {} as Record<EndpointName, Throughput>;
  for (const name of Object.keys(ENDPOINTS) as EndpointName[]) {
    const result = await autocannon({ url: `${base}${ENDPOINTS[name]}`, connections, duration: seconds });
    out[name] = {
      requests_per_s: Math.round(result.requests.average),
      p50_ms: result.latency.p50,
      p99_ms: result.latency.p99,
      errors: result.errors + result.timeouts,
      non_2xx: result.non2xx,
    };
  }
  return out;
}

/**
 * Polls every endpoint while `work` runs, one request at a time per endpoint with `pauseMs`
 * between them (a dashboard refreshing, a load balancer's health check), and summarizes.
 */
export async function latencyDuring<T>(
  base: string,
  work: Promise<T>,
  pauseMs = 20,
): Promise<{ result: T; latency: Record<EndpointName, LatencySummary> }> {
  let done = false;
  const finished = work.finally(() => (done = true));
  const poll = async (path: string): Promise<number[]> => {
    const times: number[] = [];
    while (!done) {
      const started = performance.now();
      const res = await request(`${base}${path}`);
      times.push(performance.now() - started);
      if (res.status !== 200) throw new Error(`GET ${path} during the upload: ${res.status}`);
      if (!done) await new Promise((resolve) => setTimeout(resolve, pauseMs));
    }
    return times;
  };
  const names = Object.keys(ENDPOINTS) as EndpointName[];
  const [result, ...times] = await Promise.all([finished, ...names.map((n) => poll(ENDPOINTS[n]))]);
  const latency = {} as Record<EndpointName, LatencySummary>;
  names.forEach((n, i) => (latency[n] = summarize(times[i]!)));
  return { result, latency };
}
