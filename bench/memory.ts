import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort } from '../src/sandbox/free-port.js';
import { SANDBOX_SIGHTINGS_SECRET, startWorld } from '../src/sandbox/world.js';
import { XDR_ORG_RATE_LIMIT } from './world-process.js';
import { spawnServer, type ChildServer } from './child.js';
import { rssMb, startProcess } from './footprint.js';
import { procMemory, type ProcMemory } from './proc-memory.js';
import { runLoad } from './load.js';
import { buildIngestServer, buildMain } from './prebuild.js';
import { hostOf, mirroredIncidentBody, writeCorrelationStore, type StoreSize } from './prepopulate.js';
import { table, type BenchResult, type TargetCheck } from './report.js';
import { startEnv, startNodeFlagsFor } from './start-flags.js';
import { fmt, median } from './stats.js';

/**
 * Benchmark: memory of the built process (issue 14).
 *
 * Flood: the built ingest server (esbuild bundle of bench/ingest-server.ts under plain node,
 * `npm start`'s heap cap) at an empty store takes sightings at full speed into 1,000 targets
 * for `floodSeconds`; RSS is read from /proc every second during the flood and for
 * `afterSeconds` after it.
 *
 * Idle with a store: `node <npm start flags> main.js` (tsc build, as `npm start`) started on a
 * prepopulated state file, RSS once it has been ready and idle for a while.
 */
export interface MemoryOptions {
  quick: boolean;
  /** Length of the flood (default 60 s; 3 s in --quick). */
  floodSeconds?: number;
  /** Only the flood, not the idle stores (`--memory-flood-only`: quicker runs when comparing flags). */
  floodOnly?: boolean;
  /** Store sizes (incidents, 10 sightings each) for the idle rows (`--ingest-sizes 10000`); default 10,000 and 100,000. */
  sizes?: number[];
  /** `--heap-snapshot <dir>`: a heap snapshot of the server at the end of the quiet time after the flood (what stays live). */
  heapSnapshotDir?: string;
}

const TARGETS = 1_000;
const CONNECTIONS = 16;

interface FloodFigures {
  seconds: number;
  afterSeconds: number;
  accepted: number;
  throughput: number;
  during: number[];
  after: number[];
  heapUsedMb: number;
  capFlags: string[];
  /** Where the memory is at the end of the flood and at the end of the quiet time after it. */
  breakdown: { atPeak: Breakdown; after: Breakdown };
  /** Environment prefix of `npm start` (e.g. glibc malloc settings) the server ran with. */
  startEnv: Record<string, string>;
}

/** process.memoryUsage / v8 heap statistics of the server next to /proc's view of it (MB). */
interface Breakdown {
  proc: ProcMemory;
  heapTotal: number;
  heapUsed: number;
  external: number;
  arrayBuffers: number;
  /** Committed / used of V8's old and new (young) spaces. */
  oldCommitted: number;
  oldUsed: number;
  youngCommitted: number;
  codeCommitted: number;
  largeCommitted: number;
}

type HeapAnswer = {
  heap: { used_heap_size: number; total_heap_size: number };
  spaces: { space_name: string; space_size: number; space_used_size: number }[];
  external: number;
  arrayBuffers: number;
};

async function breakdownOf(server: ChildServer, snapshotDir?: string): Promise<Breakdown> {
  const h = await server.ask<HeapAnswer>('heap', 300_000, snapshotDir ? { snapshotDir } : {});
  const proc = procMemory(server.pid);
  const mb = (x: number) => x / 1048576;
  const space = (prefix: string, f: 'space_size' | 'space_used_size') => mb(h.spaces.filter((s) => s.space_name.startsWith(prefix)).reduce((a, s) => a + s[f], 0));
  return {
    proc,
    heapTotal: mb(h.heap.total_heap_size),
    heapUsed: mb(h.heap.used_heap_size),
    external: mb(h.external),
    arrayBuffers: mb(h.arrayBuffers),
    oldCommitted: space('old_space', 'space_size'),
    oldUsed: space('old_space', 'space_used_size'),
    youngCommitted: space('new_space', 'space_size'),
    codeCommitted: space('code_space', 'space_size'),
    largeCommitted: space('large_object_space', 'space_size') + space('new_large_object_space', 'space_size') + space('code_large_object_space', 'space_size'),
  };
}

function breakdownTable(b: { atPeak: Breakdown; after: Breakdown }, afterSeconds: number): string {
  const row = (what: string, x: Breakdown) => [
    what,
    `${fmt(x.proc.rss)} MB`,
    `${fmt(x.heapTotal)} / ${fmt(x.heapUsed)} MB`,
    `${fmt(x.oldCommitted)} / ${fmt(x.oldUsed)} MB`,
    `${fmt(x.youngCommitted)} MB`,
    `${fmt(x.codeCommitted + x.largeCommitted)} MB`,
    `${fmt(x.external)} / ${fmt(x.arrayBuffers)} MB`,
    `${fmt(x.proc.file)} MB`,
    `${fmt(x.proc.brk)} MB`,
    `${fmt(x.proc.arenas)} MB (${fmt(x.proc.arenaCount)})`,
    `${fmt(x.proc.otherAnon)} MB`,
  ];
  return table(
    ['when', 'RSS', 'V8 heap committed / used', 'old space committed / used', 'young space', 'code + large objects', 'external / of it ArrayBuffers', 'RSS of files (code)', 'malloc main arena ([heap])', 'malloc thread arenas (count)', 'other anonymous (V8 pages, mmapped blocks)'],
    [row('end of the flood', b.atPeak), row(`${afterSeconds} s after`, b.after)],
  );
}

async function flood(o: { floodSeconds: number; afterSeconds: number; builtFile: string; heapSnapshotDir?: string }): Promise<FloodFigures> {
  const dir = await mkdtemp(path.join(tmpdir(), 'sightline-bench-flood-'));
  const world = await startWorld({ stateDir: dir });
  // XDR as it is: its organisation-wide budget applies (the mirror's calls beyond it get 429s).
  world.xdr.setRateLimit(XDR_ORG_RATE_LIMIT);
  let server: ChildServer | undefined;
  try {
    const port = await freePort();
    const env = world.env({
      STATE_FILE: path.join(dir, 'sightline.json'),
      HTTP_PORT: String(port),
      PUBLIC_URL: `http://127.0.0.1:${port}`,
      HTTP_RATE_LIMIT_PER_MINUTE: '1000000',
      CORRELATION_COALESCE_MS: '5000',
    });
    server = await spawnServer({ mode: 'real', env: { BENCH_APP_ENV: JSON.stringify(env) }, builtFile: o.builtFile, stateBytes: 0 });
    const running = server;
    const during: number[] = [];
    const after: number[] = [];
    let into = during;
    const timer = setInterval(() => into.push(rssMb(running.pid)), 1000);
    const hosts = Array.from({ length: TARGETS }, (_, i) => hostOf(i));
    const res = await runLoad({ url: running.url, secret: SANDBOX_SIGHTINGS_SECRET, hosts, connections: CONNECTIONS, durationMs: o.floodSeconds * 1000, maxRequests: 10_000_000, runId: 'flood' });
    during.push(rssMb(running.pid));
    const atPeak = await breakdownOf(running);
    into = after;
    await new Promise((r) => setTimeout(r, o.afterSeconds * 1000));
    clearInterval(timer);
    after.push(rssMb(running.pid));
    const afterBreakdown = await breakdownOf(running, o.heapSnapshotDir);
    await running.ask('stop');
    server = undefined;
    return {
      seconds: o.floodSeconds,
      afterSeconds: o.afterSeconds,
      accepted: res.accepted,
      throughput: (res.accepted / res.elapsedMs) * 1000,
      during,
      after,
      heapUsedMb: afterBreakdown.heapUsed,
      capFlags: startNodeFlagsFor(0),
      breakdown: { atPeak, after: afterBreakdown },
      startEnv: startEnv(),
    };
  } finally {
    server?.kill();
    await world.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

interface IdleFigures {
  size: StoreSize;
  stateMb: number;
  readyMs: number;
  rssMb: number;
  flags: string[];
}

async function idleWithStore(size: StoreSize, o: { mainFile: string; idleSeconds: number }): Promise<IdleFigures> {
  const world = await startWorld();
  let stateBytes = 0;
  try {
    // The flags are chosen once the file exists: the cap an operator would set for it (the default up to ~15,000 incidents).
    const flags: string[] = [];
    const command: string[] = [];
    const p = await startProcess(world, command, o.idleSeconds * 1000, {
      prepare: async (stateFile) => {
        const written = await writeCorrelationStore(stateFile, size);
        stateBytes = written.bytes;
        // Its open incidents exist in XDR (the status sync reads them), as for a store mirrored long ago.
        world.xdr.seedIncidents(written.openXdrIds.map((id) => id.split('/').pop()!), mirroredIncidentBody());
        flags.push(...startNodeFlagsFor(stateBytes));
        command.push(...flags, o.mainFile);
      },
      readyTimeoutMs: 180_000,
      env: startEnv(),
    });
    try {
      // A few samples a second apart: one RSS reading can land on a collection.
      const samples = [p.sample.idleRssMb];
      for (let i = 0; i < 4; i++) {
        await new Promise((r) => setTimeout(r, 1000));
        samples.push(rssMb(p.child.pid!));
      }
      return { size, stateMb: stateBytes / 1048576, readyMs: p.sample.readyzMs, rssMb: median(samples), flags };
    } finally {
      await p.stop();
    }
  } finally {
    await world.stop();
  }
}

function findings(): string {
  try {
    return readFileSync(path.resolve('bench/memory-findings.md'), 'utf8').trim();
  } catch {
    return '';
  }
}

export async function benchMemory(o: MemoryOptions): Promise<BenchResult> {
  const floodSeconds = o.floodSeconds ?? (o.quick ? 3 : 60);
  const afterSeconds = o.quick ? 3 : 60;
  const sizes: StoreSize[] = o.sizes
    ? o.sizes.map((n) => ({ incidents: n, sightings: n * 10 }))
    : o.quick
      ? [{ incidents: 100, sightings: 1_000 }]
      : [{ incidents: 10_000, sightings: 100_000 }, { incidents: 100_000, sightings: 1_000_000 }];
  const ingest = await buildIngestServer();
  const main = await buildMain();
  const targets: TargetCheck[] = [];
  try {
    const f = await flood({ floodSeconds, afterSeconds, builtFile: ingest.file, ...(o.heapSnapshotDir ? { heapSnapshotDir: o.heapSnapshotDir } : {}) });
    const maxDuring = Math.max(...f.during);
    const atEnd = f.after.at(-1)!;
    const under200 = f.after.findIndex((x) => x < 200);
    targets.push({ what: `RSS during a ${f.seconds} s flood into ${fmt(TARGETS)} targets (built, max of 1 s samples)`, target: '≤ 250 MB', measured: `${fmt(maxDuring)} MB`, met: maxDuring <= 250 });
    targets.push({ what: `RSS ${f.afterSeconds} s after the flood`, target: '< 200 MB', measured: `${fmt(atEnd)} MB`, met: atEnd < 200 });
    const idle: IdleFigures[] = [];
    for (const size of o.floodOnly ? [] : sizes) idle.push(await idleWithStore(size, { mainFile: main.file, idleSeconds: o.quick ? 1 : 10 }));
    const ten = idle.find((x) => x.size.incidents === 10_000);
    if (ten) targets.push({ what: 'idle RSS, built, 10,000 incidents / 100,000 sightings in the store', target: '≤ 200 MB', measured: `${fmt(ten.rssMb)} MB`, met: ten.rssMb <= 200 });
    const markdown = [
      `**Flood.** The built ingest server (esbuild bundle under plain node, \`${f.capFlags.join(' ')}\` as \`npm start\` gives it), empty store, ` +
        `${CONNECTIONS} keep-alive connections at full speed (closed loop, one signed sighting per request) into ${fmt(TARGETS)} targets for ${f.seconds} s, ` +
        `then nothing for ${f.afterSeconds} s; RSS from /proc every second. ${fmt(f.accepted)} sightings accepted (${fmt(f.throughput)} /s).`,
      '',
      table(
        ['max RSS during', 'median RSS during', `RSS ${f.afterSeconds} s after`, 'first second after under 200 MB', 'V8 heap used at the end'],
        [[`${fmt(maxDuring)} MB`, `${fmt(median(f.during))} MB`, `${fmt(atEnd)} MB`, under200 < 0 ? 'never' : `${under200 + 1} s`, `${fmt(f.heapUsedMb)} MB`]],
      ),
      '',
      `RSS samples during (MB): ${f.during.map((x) => fmt(x)).join(', ')}.`,
      '',
      `RSS samples after (MB): ${f.after.map((x) => fmt(x)).join(', ')}.`,
      '',
      `Where the memory is (process.memoryUsage and v8 heap statistics from inside, /proc/<pid>/status and smaps from outside; ` +
        `the server's environment from \`npm start\`: ${Object.keys(f.startEnv).length ? Object.entries(f.startEnv).map(([k, v]) => `\`${k}=${v}\``).join(' ') : 'none'}):`,
      '',
      breakdownTable(f.breakdown, f.afterSeconds),
      '',
      `**Idle with a store.** \`node <flags> main.js\` (tsc build, as \`npm start\`) started on a prepopulated state file (bench/prepopulate.ts, 10 sightings per incident), ` +
        `RSS the median of 5 readings a second apart, from ${o.quick ? 1 : 10} s after /readyz answered 200. The heap cap is \`npm start\`'s default, raised for a store that needs more the way the start-up warning says.`,
      '',
      table(
        ['store', 'state file', 'node flags', 'to /readyz 200', 'idle RSS'],
        idle.map((x) => [`${fmt(x.size.incidents)} incidents / ${fmt(x.size.sightings)} sightings`, `${fmt(x.stateMb)} MB`, `\`${x.flags.join(' ')}\``, `${fmt(x.readyMs / 1000, 1)} s`, `${fmt(x.rssMb)} MB`]),
      ),
      '',
      // The findings are prose from a person, not figures of this run: kept in a file so a regenerated report keeps them.
      findings(),
    ].join('\n');
    return { name: 'memory', title: '9. Memory of the built process (flood, idle with a store)', markdown, targets };
  } finally {
    await ingest.cleanup();
    await main.cleanup();
  }
}
