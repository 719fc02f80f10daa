import { monitorEventLoopDelay } from 'node:perf_hooks';
import { performance } from 'node:perf_hooks';
import { Pool } from 'undici';
import { latencyTimeline } from './latency-timeline.js';
import { signedSightingsHeaders } from '../src/transport/http/sightings/auth.js';
import { SIGHTINGS_PATH } from '../src/transport/http/sightings/route.js';
import { iocOf, SOURCE } from './prepopulate.js';

/**
 * Closed-loop load: `connections` keep-alive connections, each sending the next
 * sighting as soon as the previous answer arrived, until `count` requests were
 * sent or `durationMs` passed. One sighting per request, the seed's 7-field
 * payload, HMAC-signed per request like a real sender.
 */
export interface LoadOptions {
  url: string;
  secret: string;
  hosts: readonly string[];
  connections: number;
  durationMs: number;
  maxRequests: number;
  /** Distinguishes runs so sender ids never repeat across them. */
  runId: string;
}

export interface LoadResult {
  sent: number;
  accepted: number;
  failures: Record<string, number>;
  /** The first unexpected answer, to say why. */
  firstFailure?: string;
  latenciesMs: number[];
  elapsedMs: number;
  /** This process's event-loop delay during the run (its own scheduling and GC, counted in every latency it measured). */
  loopDelayP99Ms: number;
  loopDelayMaxMs: number;
}

export function payloadFor(runId: string, n: number, host: string): string {
  const ioc = iocOf(n);
  const observed = new Date(Date.parse('2026-02-01T00:00:00.000Z') + n * 1000).toISOString();
  const ctim = {
    type: 'sighting',
    source: `${SOURCE} - sxo-sighting`,
    observed_time: { start_time: observed },
    count: 1,
    confidence: 'High',
    targets: [{ type: 'endpoint', observables: [{ type: 'hostname', value: host }], observed_time: { start_time: observed } }],
    observables: [ioc],
    external_ids: [`${runId}-${n}`],
  };
  return JSON.stringify({
    target_type: 'hostname',
    target_value: host,
    ioc_type: ioc.type,
    ioc_value: ioc.value,
    event_source: SOURCE,
    target_observed_time: observed,
    sighting_json: JSON.stringify(ctim),
  });
}

export async function runLoad(opts: LoadOptions): Promise<LoadResult> {
  if (opts.hosts.length === 0) throw new Error('runLoad needs at least one target host');
  const pool = new Pool(opts.url, { connections: opts.connections, pipelining: 1, keepAliveTimeout: 30_000 });
  const latencies: number[] = [];
  const timeline = latencyTimeline();
  const failures: Record<string, number> = {};
  let next = 0;
  let accepted = 0;
  let firstFailure: string | undefined;
  const loopDelay = monitorEventLoopDelay({ resolution: 1 });
  loopDelay.enable();
  const started = performance.now();
  const deadline = started + opts.durationMs;
  const worker = async () => {
    while (next < opts.maxRequests && performance.now() < deadline) {
      const n = next++;
      const host = opts.hosts[(n * 7919) % opts.hosts.length]!;
      const body = payloadFor(opts.runId, n, host);
      const t0 = performance.now();
      try {
        const res = await pool.request({
          method: 'POST',
          path: SIGHTINGS_PATH,
          headers: { 'content-type': 'application/json', ...signedSightingsHeaders(opts.secret, body) },
          body,
        });
        const text = await res.body.text();
        latencies.push(performance.now() - t0);
        timeline?.answered(latencies.at(-1)!);
        if (res.statusCode === 202 && /"accepted":1/.test(text)) accepted++;
        else {
          failures[`HTTP ${res.statusCode}`] = (failures[`HTTP ${res.statusCode}`] ?? 0) + 1;
          firstFailure ??= `HTTP ${res.statusCode} ${text.slice(0, 300)}`;
        }
      } catch (err) {
        const key = (err as Error).name;
        failures[key] = (failures[key] ?? 0) + 1;
        // Named in the report: a bare "Error: 15" says nothing about what to fix.
        const code = (err as { code?: string }).code;
        firstFailure ??= `${key}${code ? ` (${code})` : ''}: ${(err as Error).message}`.slice(0, 300);
      }
    }
  };
  await Promise.all(Array.from({ length: opts.connections }, worker));
  const elapsedMs = performance.now() - started;
  loopDelay.disable();
  timeline?.finish(opts.runId);
  if (process.env['BENCH_LOOP_DELAY']) process.stderr.write(`load generator loop delay: p99 ${(loopDelay.percentile(99) / 1e6).toFixed(1)} ms, max ${(loopDelay.max / 1e6).toFixed(1)} ms; latency p99 ${percentileOf(latencies, 99).toFixed(1)} ms\n`);
  await pool.close();
  return { sent: next, accepted, failures, ...(firstFailure ? { firstFailure } : {}), latenciesMs: latencies, elapsedMs, loopDelayP99Ms: loopDelay.percentile(99) / 1e6, loopDelayMaxMs: loopDelay.max / 1e6 };
}

function percentileOf(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? 0;
}
