import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { getHeapSpaceStatistics, getHeapStatistics, writeHeapSnapshot } from 'node:v8';
import { startApp, type App } from '../src/app.js';
import { loadConfig } from '../src/config/load.js';
import { silentLogger } from '../src/core/logger.js';
import { startFloorIngest } from './floor-ingest.js';
import { startNaiveIngest } from './naive-ingest.js';

/**
 * Child-process entry for the ingest benchmark: runs ONE server (our bot, the
 * naive design, or the floor) alone in its process, so the load generator and the emulators
 * in the parent do not share its event loop, and CPU/RSS are its own.
 * Driven over IPC: `stats`, `idle`, `stop`.
 */
type Command = { cmd: 'stats' | 'idle' | 'stop' | 'heap'; id: number; timeoutMs?: number; snapshotDir?: string };

const mode = process.argv[2];
const send = (msg: unknown) => process.send?.(msg);
const loopDelay = monitorEventLoopDelay({ resolution: 1 });
let serverLatencies: number[] = [];
loopDelay.enable();

let app: App | undefined;
let naive: { url: string; close(): Promise<void> } | undefined;
if (mode === 'real') {
  const config = loadConfig(JSON.parse(process.env['BENCH_APP_ENV'] ?? '{}') as Record<string, string>);
  app = await startApp({ config, logger: silentLogger });
  // Time spent inside this process per request (arrival of the headers to the last byte handed to the
  // kernel): with BENCH_LOOP_DELAY, compared with what the load generator measures (diagnostics).
  app.http.server.prependListener('request', (_req, res) => {
    const t0 = performance.now();
    res.once('finish', () => serverLatencies.push(performance.now() - t0));
  });
  send({ ready: true, url: app.http.url });
} else if (mode === 'naive') {
  naive = await startNaiveIngest({ file: process.env['BENCH_NAIVE_FILE']!, secret: process.env['BENCH_SECRET']! });
  send({ ready: true, url: naive.url });
} else if (mode === 'floor') {
  naive = await startFloorIngest({ file: process.env['BENCH_FLOOR_FILE']!, secret: process.env['BENCH_SECRET']! });
  send({ ready: true, url: naive.url });
} else {
  throw new Error(`usage: ingest-server.ts real|naive|floor (got ${mode})`);
}

process.on('message', (raw: Command) => {
  void (async () => {
    if (raw.cmd === 'stats') {
      const sorted = serverLatencies.sort((a, b) => a - b);
      const at = (q: number) => Math.round((sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0) * 10) / 10;
      const ld = { p99: loopDelay.percentile(99) / 1e6, max: loopDelay.max / 1e6, mean: loopDelay.mean / 1e6, inServer: { p50: at(0.5), p99: at(0.99), max: at(1) } };
      serverLatencies = [];
      loopDelay.reset();
      send({ id: raw.id, loopDelay: ld, cpu: process.cpuUsage(), rss: process.memoryUsage().rss, lastAppliedSeq: app?.engine.lastAppliedSeq() ?? 0 });
    } else if (raw.cmd === 'heap') {
      // Where the memory is: V8's heap next to RSS, and optionally a heap snapshot to open in DevTools.
      const file = raw.snapshotDir ? writeHeapSnapshot(path.join(raw.snapshotDir, `ingest-${mode}-${Date.now()}.heapsnapshot`)) : undefined;
      send({ id: raw.id, rss: process.memoryUsage().rss, heap: getHeapStatistics(), spaces: getHeapSpaceStatistics(), external: process.memoryUsage().external, arrayBuffers: process.memoryUsage().arrayBuffers, file });
    } else if (raw.cmd === 'idle') {
      // Bounded: when correlation is far behind, the benchmark reports the backlog instead of waiting forever.
      let timer: NodeJS.Timeout | undefined;
      const caughtUp = await Promise.race([
        (app?.intake.idle() ?? Promise.resolve()).then(() => true),
        new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), raw.timeoutMs ?? 60_000))),
      ]);
      clearTimeout(timer);
      send({ id: raw.id, caughtUp, lastAppliedSeq: app?.engine.lastAppliedSeq() ?? 0 });
    } else if (raw.cmd === 'stop') {
      await app?.stop(20_000);
      await naive?.close();
      send({ id: raw.id, stopped: true });
      process.exit(0);
    }
  })();
});
