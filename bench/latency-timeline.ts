import { writeFileSync } from 'node:fs';
import { PerformanceObserver, performance } from 'node:perf_hooks';
import { percentile } from './stats.js';

/**
 * `BENCH_LATENCY_TIMELINE=1` (or a folder): where a run's p99 comes from. Prints, per run, the latency
 * in 1 s steps, the moments this process's own event loop was held up (a 5 ms timer 30 ms late or
 * more) and its GC pauses of 10 ms or more; with a folder, also writes `<runId>.json`: the run's
 * start on the monotonic clock (µs, comparable with a V8 CPU profile's timestamps) and each answer's
 * [ms into the run, latency ms]. Off, it costs nothing. The PostgreSQL bench's two-instance stalls
 * were traced with it (docs/POSTGRES.md, "Counting without the waiting XDR ops").
 */
export interface LatencyTimeline {
  answered(latencyMs: number): void;
  finish(runId: string): void;
}

export function latencyTimeline(): LatencyTimeline | undefined {
  const setting = process.env['BENCH_LATENCY_TIMELINE'];
  if (!setting) return undefined;
  const started = performance.now();
  const monoStartUs = Number(process.hrtime.bigint() / 1000n);
  const points: Array<[number, number]> = [];
  const gcs: Array<[number, number]> = [];
  const observer = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) if (e.duration >= 10) gcs.push([Math.round(e.startTime - started), Math.round(e.duration)]);
  });
  observer.observe({ entryTypes: ['gc'] });
  const held: Array<[number, number]> = [];
  let tickAt = performance.now();
  const ticker = setInterval(() => {
    const now = performance.now();
    if (now - tickAt - 5 >= 30) held.push([Math.round(tickAt - started), Math.round(now - tickAt - 5)]);
    tickAt = now;
  }, 5);
  return {
    answered(latencyMs) {
      points.push([performance.now() - started, latencyMs]);
    },
    finish(runId) {
      observer.disconnect();
      clearInterval(ticker);
      const steps: number[][] = [];
      for (const [at, l] of points) (steps[Math.floor(at / 1000)] ??= []).push(l);
      const line = steps.map((ls, sec) => `${sec}s n${ls.length} p50 ${percentile(ls, 50).toFixed(0)} p99 ${percentile(ls, 99).toFixed(0)} max ${Math.max(...ls).toFixed(0)}`);
      process.stderr.write(`[${runId}] latency by second (ms): ${line.join(' | ')}\n`);
      process.stderr.write(`[${runId}] load generator held up ≥ 30 ms: ${held.length}× ${held.map(([at, ms]) => `${at}:${ms}`).join(' ')}\n`);
      process.stderr.write(`[${runId}] load generator GC pauses ≥ 10 ms: ${gcs.length}× ${gcs.map(([at, ms]) => `${at}:${ms}`).join(' ')}\n`);
      if (setting !== '1') writeFileSync(`${setting}/${runId}.json`, JSON.stringify({ monoStartUs, points: points.map(([at, l]) => [Math.round(at), Math.round(l * 10) / 10]) }));
    },
  };
}
