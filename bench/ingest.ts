import { createReadStream, readFileSync } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { freePort } from '../src/sandbox/free-port.js';
import { SANDBOX_SIGHTINGS_SECRET } from '../src/sandbox/world.js';
import { startWorldProcess, XDR_ORG_RATE_LIMIT } from './world-process.js';
import { ServerDied, spawnServer, type ChildServer } from './child.js';
import { runLoad, type LoadResult } from './load.js';
import { writeNaiveStore } from './naive-ingest.js';
import { buildIngestServer } from './prebuild.js';
import { hostOf, mirroredIncidentBody, writeCorrelationStore, type StoreSize } from './prepopulate.js';
import { table, type BenchResult, type TargetCheck } from './report.js';
import { fmt, mb, median, percentile } from './stats.js';

/**
 * Benchmark 1: sightings posted over loopback HTTP to the real bot (its own
 * process) at two store sizes, next to the naive read-modify-write-the-whole-file
 * design at the same sizes.
 */
export interface IngestOptions {
  quick: boolean;
  /** Directory for CPU profiles of our server (node --cpu-prof); none when undefined. */
  cpuProfDir?: string;
  /** Store sizes by incident count (10 sightings each; 0 = empty store) instead of the default set. */
  sizes?: number[];
  /** Skip the pre-built (plain node) rows: tsx only. */
  tsxOnly?: boolean;
  /** Directory for a heap snapshot of our server taken right after the timed runs (in the flood's aftermath). */
  heapSnapshotDir?: string;
}

/** Every ingest run spreads its sightings over this many targets (issue 14: "1,000 targets"). */
const TARGETS = 1_000;
const EMPTY: StoreSize = { incidents: 0, sightings: 0 };

interface Row {
  design: string;
  /** Peak RSS of the server process sampled every 250 ms during the timed runs. */
  peakRssBytes?: number;
  /** V8 heap in use right after the timed runs (what RSS holds that is JavaScript objects). */
  heapUsedBytes?: number;
  size: StoreSize;
  storeBytes: number;
  startMs: number;
  runs: RunFigures[];
  note?: string;
  /** Set when the server could not run at this size: what it died of. */
  failed?: string;
}

interface RunFigures {
  throughput: number;
  p50: number;
  p99: number;
  accepted: number;
  sent: number;
  failures: Record<string, number>;
  cpuUsPerSighting: number;
  /** Our design only: how long the background correlation took to catch up after the run. */
  drainMs?: number;
  /** Sightings accepted but not yet correlated when the wait for catch-up gave up. */
  backlog?: number;
}

export async function benchIngest(opts: IngestOptions): Promise<BenchResult> {
  const full: StoreSize[] = [EMPTY, { incidents: 10_000, sightings: 100_000 }, { incidents: 100_000, sightings: 1_000_000 }];
  const chosen = opts.sizes?.map((n) => (n === 0 ? EMPTY : { incidents: n, sightings: n * 10 }));
  // A profiling run (--cpu-prof) looks at the 10,000-incident size only.
  const sizes: StoreSize[] = chosen ?? (opts.quick ? [{ incidents: 100, sightings: 1_000 }] : opts.cpuProfDir ? full.slice(1, 2) : full);
  const connections = opts.quick ? 8 : 16;
  const built = opts.quick || opts.cpuProfDir || opts.tsxOnly ? undefined : await buildIngestServer();
  const rows: Row[] = [];
  try {
    for (const [i, size] of sizes.entries()) {
      // The floor runs right before Sightline at every size, so each ratio compares neighbours in time on a shared machine.
      if (!opts.cpuProfDir) rows.push(await measureFloor(size, { quick: opts.quick, connections }));
      const ours = await measureOurs(size, { quick: opts.quick, connections, cpuProfDir: opts.cpuProfDir, heapSnapshotDir: opts.heapSnapshotDir });
      rows.push(ours);
      if (built) rows.push(await measureOurs(size, { quick: opts.quick, connections, builtFile: built.file }));
      const big = size.incidents > 10_000;
      if (ours.failed && big) {
        // Still show how the cost per sighting moves with size, at the largest size that runs.
        rows.push(await measureOurs(FALLBACK_SIZE, { quick: opts.quick, connections, cpuProfDir: opts.cpuProfDir }));
      }
      if (!opts.cpuProfDir && size.incidents > 0 && !chosen) rows.push(await measureNaive(size, { quick: opts.quick, connections: i > 1 ? 4 : connections, big: i > 1 }));
    }
  } finally {
    await built?.cleanup();
  }
  return summarise(rows, connections, opts.quick);
}

/** The targets a run spreads its sightings over: the first 1,000 open ones, or 1,000 new hosts on an empty store. */
function loadTargets(openHosts: readonly string[]): string[] {
  return openHosts.length > 0 ? openHosts.slice(0, TARGETS) : Array.from({ length: TARGETS }, (_, i) => hostOf(i));
}

/** Samples a child's RSS every 250 ms until stopped; returns the peak. */
export function rssSampler(pid: number): { stop(): number } {
  let peak = 0;
  const sample = () => {
    try {
      const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
      if (m) peak = Math.max(peak, Number(m[1]) * 1024);
    } catch {
      // the process is gone; keep the peak so far
    }
  };
  sample();
  const timer = setInterval(sample, 250);
  return { stop: () => (clearInterval(timer), sample(), peak) };
}

async function measureFloor(size: StoreSize, o: { quick: boolean; connections: number }): Promise<Row> {
  const dir = await mkdtemp(path.join(tmpdir(), 'sightline-bench-floor-'));
  let server: ChildServer | undefined;
  try {
    server = await spawnServer({ mode: 'floor', env: { BENCH_FLOOR_FILE: path.join(dir, 'floor.journal'), BENCH_SECRET: SANDBOX_SIGHTINGS_SECRET } });
    const running = server;
    const hosts = loadTargets([]);
    await runLoad({ url: running.url, secret: SANDBOX_SIGHTINGS_SECRET, hosts, connections: o.connections, durationMs: o.quick ? 500 : 2_000, maxRequests: o.quick ? 50 : 4_000, runId: 'floor-warmup' });
    const runs: RunFigures[] = [];
    const rss = rssSampler(running.pid);
    for (let r = 0; r < (o.quick ? 1 : 3); r++) {
      const before = await running.ask<{ cpu: NodeJS.CpuUsage }>('stats');
      const res = await runLoad({ url: running.url, secret: SANDBOX_SIGHTINGS_SECRET, hosts, connections: o.connections, durationMs: o.quick ? 10_000 : 6_000, maxRequests: o.quick ? 200 : 1_000_000, runId: `floor${r}` });
      const after = await running.ask<{ cpu: NodeJS.CpuUsage }>('stats');
      runs.push(figures(res, before.cpu, after.cpu));
    }
    const peakRssBytes = rss.stop();
    await running.ask('stop');
    server = undefined;
    return { design: DESIGN_FLOOR, size, storeBytes: 0, startMs: running.startMs, runs, peakRssBytes, note: `measured right before Sightline at ${fmt(size.incidents)} incidents (the floor keeps no store)` };
  } finally {
    server?.kill();
    await rm(dir, { recursive: true, force: true });
  }
}

const FALLBACK_SIZE: StoreSize = { incidents: 30_000, sightings: 300_000 };

async function measureOurs(size: StoreSize, o: { quick: boolean; connections: number; cpuProfDir?: string; builtFile?: string; heapSnapshotDir?: string }): Promise<Row> {
  const design = o.builtFile ? DESIGN_OURS_BUILT : DESIGN_OURS;
  const dir = await mkdtemp(path.join(tmpdir(), 'sightline-bench-ingest-'));
  const stateFile = path.join(dir, 'sightline.json');
  // XDR as it is: its organisation-wide budget applies (the mirror's calls beyond it get 429s).
  const world = await startWorldProcess({ stateDir: dir, xdrRateLimit: XDR_ORG_RATE_LIMIT });
  let server: ChildServer | undefined;
  try {
    const { openHosts, openXdrIds, bytes } = size.incidents > 0 ? await writeCorrelationStore(stateFile, size) : { openHosts: [], openXdrIds: [], bytes: 0 };
    // The open incidents exist in XDR, as for a store mirrored long ago: its patches, links and status
    // reads then succeed (without this every one was refused with a 404 and retried).
    await world.seedIncidents(openXdrIds.map((id) => id.split('/').pop()!), mirroredIncidentBody());
    const port = await freePort();
    const env = world.env({
      STATE_FILE: stateFile,
      HTTP_PORT: String(port),
      PUBLIC_URL: `http://127.0.0.1:${port}`,
      // The default (6000/min per address) is for the open internet; one loopback sender at 2,000/s needs more.
      HTTP_RATE_LIMIT_PER_MINUTE: '1000000',
      CORRELATION_COALESCE_MS: '5000',
      // `SIGHTINGS_JOURNAL_FSYNC=false npm run bench …` measures what the fdatasync per group commit costs.
      ...(process.env['SIGHTINGS_JOURNAL_FSYNC'] ? { SIGHTINGS_JOURNAL_FSYNC: process.env['SIGHTINGS_JOURNAL_FSYNC'] } : {}),
    });
    const spawned = await spawnOrExplain({
      mode: 'real',
      env: { BENCH_APP_ENV: JSON.stringify(env) },
      stateBytes: bytes,
      nodeFlags: o.cpuProfDir ? ['--cpu-prof', `--cpu-prof-dir=${o.cpuProfDir}`] : [],
      ...(o.builtFile ? { builtFile: o.builtFile } : {}),
    });
    if (typeof spawned === 'string') return { design, size, storeBytes: bytes, startMs: 0, runs: [], failed: spawned };
    server = spawned;
    const running = spawned;
    const load = (runId: string, durationMs: number, maxRequests: number) =>
      runLoad({ url: running.url, secret: SANDBOX_SIGHTINGS_SECRET, hosts: loadTargets(openHosts), connections: o.connections, durationMs, maxRequests, runId });
    const floor = seqFloor(size);
    const idleWaitMs = o.quick ? 10_000 : 6_000;
    let acceptedSoFar = (await load('warmup', o.quick ? 500 : 2_000, o.quick ? 50 : 4_000)).accepted;
    await running.ask('idle', idleWaitMs + 5_000, { timeoutMs: idleWaitMs });
    const runs: RunFigures[] = [];
    const rss = rssSampler(running.pid);
    for (let r = 0; r < (o.quick ? 1 : 3); r++) {
      const before = await running.ask<{ cpu: NodeJS.CpuUsage }>('stats');
      const res = await load(`run${r}`, o.quick ? 10_000 : 6_000, o.quick ? 200 : 1_000_000);
      const after = await running.ask<{ cpu: NodeJS.CpuUsage; loopDelay?: unknown }>('stats');
      if (process.env['BENCH_LOOP_DELAY']) process.stderr.write(`server loop delay: ${JSON.stringify(after.loopDelay)}\n`);
      acceptedSoFar += res.accepted;
      const t0 = performance.now();
      const idle = await running.ask<{ caughtUp: boolean; lastAppliedSeq: number }>('idle', idleWaitMs + 5_000, { timeoutMs: idleWaitMs });
      const drainMs = performance.now() - t0;
      const backlog = acceptedSoFar - (idle.lastAppliedSeq - floor);
      runs.push({ ...figures(res, before.cpu, after.cpu), drainMs, ...(idle.caughtUp ? {} : { backlog }) });
    }
    const peakRssBytes = rss.stop();
    if (process.env['BENCH_CALLS']) {
      const count = (xs: { method: string; path: string }[]) => {
        const m = new Map<string, number>();
        for (const c of xs) { const k = `${c.method} ${c.path.replace(/[0-9a-f-]{20,}|\d{3,}/g, ':id').replace(/(incident|sighting|relationship)[-:][^/]+/g, '$1-:id')}`; m.set(k, (m.get(k) ?? 0) + 1); }
        return [...m].sort((a, b) => b[1] - a[1]).slice(0, 15);
      };
      const calls = await world.calls();
      process.stderr.write(`XDR calls: ${JSON.stringify(count(calls.xdr))}\nWebex calls: ${JSON.stringify(count(calls.webex))}\n`);
    }
    const heap = await running.ask<{ heap: { used_heap_size: number } }>('heap', 300_000, o.heapSnapshotDir ? { snapshotDir: o.heapSnapshotDir } : {});
    await running.ask('stop');
    server = undefined;
    const durable = await durableAfterFloor(`${stateFile}.journal`, size);
    const accepted = runs.reduce((a, r) => a + r.accepted, 0);
    const note = durable >= accepted ? undefined : `only ${durable} of ${accepted} accepted sightings were found in the journal`;
    return { design, size, storeBytes: bytes, startMs: running.startMs, runs, peakRssBytes, heapUsedBytes: heap.heap.used_heap_size, note: note ?? `all ${fmt(accepted)} accepted sightings (plus warm-up) found in the journal after the run` };
  } finally {
    server?.kill();
    await world.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

async function measureNaive(size: StoreSize, o: { quick: boolean; connections: number; big: boolean }): Promise<Row> {
  const dir = await mkdtemp(path.join(tmpdir(), 'sightline-bench-naive-'));
  const file = path.join(dir, 'db.json');
  let server: ChildServer | undefined;
  try {
    const { openHosts } = await writeNaiveStore(file, size);
    const bytes = (await stat(file)).size;
    const spawned = await spawnOrExplain({ mode: 'naive', env: { BENCH_NAIVE_FILE: file, BENCH_SECRET: SANDBOX_SIGHTINGS_SECRET } });
    if (typeof spawned === 'string') return { design: DESIGN_NAIVE, size, storeBytes: bytes, startMs: 0, runs: [], failed: spawned };
    server = spawned;
    const startMs = spawned.startMs;
    const maxRequests = o.quick ? 50 : o.big ? 16 : 2_000;
    const durationMs = o.quick ? 10_000 : o.big ? 40_000 : 6_000;
    const runs: RunFigures[] = [];
    for (let r = 0; r < (o.quick || o.big ? 1 : 3); r++) {
      const before = await server.ask<{ cpu: NodeJS.CpuUsage }>('stats');
      const res = await runLoad({ url: server.url, secret: SANDBOX_SIGHTINGS_SECRET, hosts: openHosts, connections: o.connections, durationMs, maxRequests, runId: `naive${r}` });
      const after = await server.ask<{ cpu: NodeJS.CpuUsage }>('stats');
      runs.push(figures(res, before.cpu, after.cpu));
    }
    await server.ask('stop');
    server = undefined;
    const bounded = o.big || o.quick ? `bounded run: at most ${maxRequests} requests or ${durationMs / 1000} s, ${o.connections} connections, one run` : undefined;
    return { design: DESIGN_NAIVE, size, storeBytes: bytes, startMs, runs, ...(bounded ? { note: bounded } : {}) };
  } finally {
    server?.kill();
    await rm(dir, { recursive: true, force: true });
  }
}

const DESIGN_OURS = 'Sightline (journal + in-memory correlation)';
const DESIGN_OURS_BUILT = 'Sightline, built (plain node, esbuild bundle)';
const DESIGN_FLOOR = 'floor (node:http, HMAC, JSON.parse, group-committed fdatasync)';
const DESIGN_NAIVE = 'naive (express + lowdb read-modify-write per request)';

/** The server, or the reason it died (a server that cannot run at a size is a result, not a crash). */
async function spawnOrExplain(opts: Parameters<typeof spawnServer>[0]): Promise<ChildServer | string> {
  try {
    return await spawnServer(opts);
  } catch (err) {
    if (err instanceof ServerDied) return `did not start: ${err.cause_}`;
    throw err;
  }
}

function figures(res: LoadResult, cpu0: NodeJS.CpuUsage, cpu1: NodeJS.CpuUsage): RunFigures {
  const cpuUs = cpu1.user - cpu0.user + (cpu1.system - cpu0.system);
  if (res.firstFailure) process.stderr.write(`ingest: unexpected answer: ${res.firstFailure}\n`);
  return {
    throughput: (res.accepted / res.elapsedMs) * 1000,
    p50: percentile(res.latenciesMs, 50),
    p99: percentile(res.latenciesMs, 99),
    accepted: res.accepted,
    sent: res.sent,
    failures: res.failures,
    cpuUsPerSighting: res.accepted > 0 ? cpuUs / res.accepted : Number.NaN,
  };
}

/** Highest seq written to the journal (entry or compaction floor), minus the prepared floor. */
function seqFloor(size: StoreSize): number {
  return size.incidents === 0 ? 0 : Math.max(1, Math.floor(size.sightings / size.incidents)) * size.incidents;
}

async function durableAfterFloor(journal: string, size: StoreSize): Promise<number> {
  const floor = seqFloor(size);
  let max = floor;
  const lines = createInterface({ input: createReadStream(journal), crlfDelay: Infinity });
  for await (const line of lines) {
    const m = /^\{"(?:seq|floor)":(\d+)/.exec(line);
    if (m) max = Math.max(max, Number(m[1]));
  }
  return max - floor;
}

function summarise(rows: Row[], connections: number, quick: boolean): BenchResult {
  const med = (r: Row, f: (x: RunFigures) => number) => median(r.runs.map(f));
  // Each row's floor: the floor measured most recently before it (same size, right before it in time).
  const floorOf = (r: Row): Row | undefined => rows.slice(0, rows.indexOf(r)).filter((x) => x.design === DESIGN_FLOOR && !x.failed).at(-1);
  const ratio = (r: Row): number => {
    const f = floorOf(r);
    return f && r.design !== DESIGN_FLOOR ? med(r, (x) => x.throughput) / med(f, (x) => x.throughput) : Number.NaN;
  };
  const body = table(
    ['design', 'store', 'state file', 'server start', 'runs', 'sightings/s', 'of the floor', 'p50 ms', 'p99 ms', 'server CPU µs / sighting', 'peak RSS in runs', 'V8 heap used after', 'correlation catch-up after run', 'errors'],
    rows.map((r) => r.failed ? [r.design, `${fmt(r.size.incidents)} incidents / ${fmt(r.size.sightings)} sightings`, mb(r.storeBytes), '–', '0', `**${r.failed}**`, '', '', '', '', '', '', '', ''] : [
      r.design,
      `${fmt(r.size.incidents)} incidents / ${fmt(r.size.sightings)} sightings`,
      mb(r.storeBytes),
      `${fmt(r.startMs / 1000, 1)} s`,
      `${r.runs.length} × ${fmt(median(r.runs.map((x) => x.sent)))} req`,
      fmt(med(r, (x) => x.throughput)),
      r.design === DESIGN_FLOOR ? '100 %' : Number.isNaN(ratio(r)) ? '–' : `${fmt(ratio(r) * 100)} %`,
      fmt(med(r, (x) => x.p50), 1),
      fmt(med(r, (x) => x.p99), 1),
      fmt(med(r, (x) => x.cpuUsPerSighting)),
      r.peakRssBytes ? mb(r.peakRssBytes) : '–',
      r.heapUsedBytes ? mb(r.heapUsedBytes) : '–',
      catchUp(r),
      errorsOf(r),
    ]),
  );
  const ours = rows.filter((r) => r.design === DESIGN_OURS && !r.failed);
  // The growth check compares stored sizes; an empty store has no size to compare.
  const first = ours.find((r) => r.size.incidents > 0);
  const last = ours.at(-1);
  const targets: TargetCheck[] = [];
  for (const r of rows.filter((x) => (x.design === DESIGN_OURS || x.design === DESIGN_OURS_BUILT) && !x.failed && x.size.incidents <= 10_000)) {
    const share = ratio(r);
    const p99 = med(r, (x) => x.p99);
    if (Number.isNaN(share)) continue;
    targets.push({
      what: `${r.design === DESIGN_OURS_BUILT ? 'built' : 'tsx'} at ${fmt(r.size.incidents)} incidents: share of the floor, p99`,
      target: '≥ 50 %, ≤ 15 ms',
      measured: `${fmt(share * 100)} %, ${fmt(p99, 1)} ms`,
      met: share >= 0.5 && p99 <= 15,
    });
  }
  if (first && !quick) {
    const tput = med(first, (x) => x.throughput);
    const p99 = med(first, (x) => x.p99);
    targets.push({ what: `throughput at ${fmt(first.size.incidents)} incidents`, target: '≥ 2,000 sightings/s', measured: `${fmt(tput)} /s`, met: tput >= 2000 });
    targets.push({ what: `p99 at ${fmt(first.size.incidents)} incidents`, target: '≤ 50 ms', measured: `${fmt(p99, 1)} ms`, met: p99 <= 50 });
  }
  if (first && last && last !== first) {
    const a = med(first, (x) => x.cpuUsPerSighting);
    const b = med(last, (x) => x.cpuUsPerSighting);
    // Wall cost per sighting at saturation (1 / throughput) catches work the CPU window misses: a correlation backlog.
    const wa = 1000 / med(first, (x) => x.throughput);
    const wb = 1000 / med(last, (x) => x.throughput);
    const k = last.size.incidents / first.size.incidents;
    targets.push({
      what: `cost per sighting vs store size (${fmt(k)}× the incidents)`,
      target: 'does not grow (≤ 1.25×)',
      measured: `CPU ${fmt(a)} → ${fmt(b)} µs (${fmt(b / a, 2)}×); wall ${fmt(wa, 2)} → ${fmt(wb, 2)} ms (${fmt(wb / wa, 2)}×)`,
      met: b / a <= 1.25 && wb / wa <= 1.25,
    });
  }
  for (const r of rows.filter((x) => x.design === DESIGN_OURS && x.failed)) {
    targets.push({ what: `runs at ${fmt(r.size.incidents)} incidents / ${fmt(r.size.sightings)} sightings`, target: 'starts and takes sightings', measured: r.failed!, met: false });
  }
  const notes = rows.filter((r) => r.note).map((r) => `- ${r.design}, ${fmt(r.size.incidents)} incidents: ${r.note}.`);
  const markdown = [
    `Loopback HTTP, undici keep-alive pool of ${connections} connections (closed loop: each sends its next sighting when the previous answer arrives), ` +
      "one sighting per request in the seed's 7-field module payload (`sighting_json` a string), HMAC-signed per request, " +
      `spread over ${fmt(TARGETS)} targets (open ones of the prepared store). ` +
      'The floor (bench/floor-ingest.ts: node:http, the same HMAC check, JSON.parse, a two-field check, a group-committed write + fdatasync, 202) is measured under the same load right before Sightline at each size; "of the floor" is Sightline\'s throughput as a share of it. ' +
      '"built" rows run an esbuild bundle of the same server under plain node (no tsx loader). ' +
      'Each server runs alone in its own Node process; the load generator runs in the bench process, the XDR/Webex/SMTP/Talos emulators in one more (bench/world-process.ts), XDR with its documented organisation budget (8,000 requests an hour, 429 beyond). ' +
      'A 202 counts only when the body says `"accepted":1`; after the runs the journal is read back to check every accepted sighting is in it. ' +
      `Sightline runs with HTTP_RATE_LIMIT_PER_MINUTE=1000000 (the default 6,000/min per address would refuse a single sender at this rate) and its real background work (correlation, XDR mirroring, outbox). ` +
      'Stores are prepared by writing the state file and a compacted journal directly (bench/prepopulate.ts), not through HTTP.',
    '',
    body,
    '',
    '"server CPU µs / sighting" is the server process\'s user+system CPU during the timed window divided by the sightings accepted in it: the cost per sighting. ' +
      '"correlation catch-up" is how long the background correlation still needed, once the load stopped, to apply everything accepted (the wait is bounded; a backlog left means correlation is slower than intake). ' +
      'To see where the server spends its time: `npm run bench -- --only ingest --cpu-prof <dir>` (10,000 incidents only, node --cpu-prof on the server process); `--ingest-sizes 0,10000` picks sizes, `--tsx-only` skips the built rows.',
    '',
    ...notes,
    '',
    // The profiling findings are prose from a person, not figures of this run: kept in a file so a regenerated report keeps them.
    findings(),
  ].join('\n');
  return { name: 'ingest', title: '1. Sighting ingest', markdown, targets };
}

function findings(): string {
  try {
    return readFileSync(path.resolve('bench/ingest-findings.md'), 'utf8').trim();
  } catch {
    return '';
  }
}

function catchUp(r: Row): string {
  if (r.runs[0]?.drainMs === undefined) return '–';
  const behind = r.runs.filter((x) => x.backlog !== undefined);
  if (behind.length === 0) return `${fmt(median(r.runs.map((x) => x.drainMs ?? 0)))} ms`;
  return `not caught up in ${behind.length}/${r.runs.length} runs: ${behind.map((x) => fmt(x.backlog ?? 0)).join(', ')} still queued after ${fmt((behind[0]!.drainMs ?? 0) / 1000)} s`;
}

function errorsOf(r: Row): string {
  const all: Record<string, number> = {};
  for (const run of r.runs) for (const [k, v] of Object.entries(run.failures)) all[k] = (all[k] ?? 0) + v;
  const parts = Object.entries(all).map(([k, v]) => `${k}: ${v}`);
  return parts.length ? parts.join(', ') : 'none';
}
