import { fork } from 'node:child_process';
import { startEnv, startNodeFlags } from './start-flags.js';
import path from 'node:path';
import { SANDBOX_SIGHTINGS_SECRET } from '../src/sandbox/world.js';
import { runLoad } from './load.js';
import { hostOf } from './prepopulate.js';
import { table, type BenchResult } from './report.js';
import { fmt, median } from './stats.js';

/**
 * The request path alone: Sightline's HTTP server with only the sightings route, journal
 * (fdatasync) and intake — correlation, XDR and snapshots replaced by nothing — against the
 * floor, same load, taking turns (floor, ours, floor, ours, …) so both see the same machine.
 * The figure that matters is server CPU µs per request: on a machine shared with other work
 * it moves far less than throughput does. `npm run bench -- --only request-path`.
 */
const CONNECTIONS = 16;
const ROUNDS = 3;

interface Child {
  url: string;
  cpu(): Promise<number>;
  stop(): Promise<void>;
}

async function spawn(mode: 'sightline' | 'floor'): Promise<Child> {
  // Ours with `npm start`'s node flags and environment (heap cap, young generation, malloc settings): what they cost per request shows here.
  const ours = mode === 'sightline';
  const extra = (process.env['BENCH_SERVER_NODE_FLAGS'] ?? '').split(/\s+/).filter(Boolean);
  const child = fork(path.resolve('bench/request-path-server.ts'), [mode], {
    execArgv: ['--import', 'tsx', ...(ours ? [...startNodeFlags(), ...extra] : [])],
    env: { ...process.env, ...(ours ? startEnv() : {}) },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  let nextId = 0;
  const ask = <T>(cmd: 'stats' | 'stop'): Promise<T> =>
    new Promise((resolve, reject) => {
      const id = ++nextId;
      const timer = setTimeout(() => reject(new Error(`${mode} server did not answer ${cmd}`)), 30_000);
      const onMessage = (m: { id?: number } & T) => {
        if (m.id !== id) return;
        clearTimeout(timer);
        child.off('message', onMessage);
        resolve(m);
      };
      child.on('message', onMessage);
      child.send({ cmd, id });
    });
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${mode} server did not start`)), 60_000);
    child.once('message', (m: { url: string }) => (clearTimeout(timer), resolve(m.url)));
    child.once('exit', (code) => reject(new Error(`${mode} server exited with ${code}`)));
  });
  return {
    url,
    cpu: async () => {
      const { cpu } = await ask<{ cpu: NodeJS.CpuUsage }>('stats');
      return cpu.user + cpu.system;
    },
    stop: async () => {
      await ask('stop').catch(() => child.kill('SIGKILL'));
    },
  };
}

interface Run {
  perSecond: number;
  cpuUsPerRequest: number;
  p99: number;
}

async function measure(mode: 'sightline' | 'floor', runId: string, quick: boolean): Promise<Run> {
  const server = await spawn(mode);
  try {
    const hosts = Array.from({ length: 1000 }, (_, i) => hostOf(i));
    const load = (id: string, durationMs: number, maxRequests: number) =>
      runLoad({ url: server.url, secret: SANDBOX_SIGHTINGS_SECRET, hosts, connections: CONNECTIONS, durationMs, maxRequests, runId: `${runId}-${id}` });
    await load('warmup', 1_500, quick ? 100 : 5_000);
    const before = await server.cpu();
    const res = await load('timed', quick ? 1_000 : 5_000, quick ? 200 : 1_000_000);
    const cpuUs = (await server.cpu()) - before;
    const sorted = [...res.latenciesMs].sort((a, b) => a - b);
    return { perSecond: (res.accepted / res.elapsedMs) * 1000, cpuUsPerRequest: res.accepted > 0 ? cpuUs / res.accepted : Number.NaN, p99: sorted[Math.floor(sorted.length * 0.99)] ?? Number.NaN };
  } finally {
    await server.stop();
  }
}

export async function benchRequestPath(o: { quick: boolean }): Promise<BenchResult> {
  const runs: Record<'floor' | 'sightline', Run[]> = { floor: [], sightline: [] };
  for (let r = 0; r < (o.quick ? 1 : ROUNDS); r++) {
    runs.floor.push(await measure('floor', `f${r}`, o.quick));
    runs.sightline.push(await measure('sightline', `s${r}`, o.quick));
  }
  const med = (rs: Run[], f: (r: Run) => number) => median(rs.map(f));
  const floorRate = med(runs.floor, (r) => r.perSecond);
  const floorCpu = med(runs.floor, (r) => r.cpuUsPerRequest);
  const rows = (['floor', 'sightline'] as const).map((m) => [
    m === 'floor' ? 'floor (bench/floor-ingest.ts)' : 'Sightline request path (HTTP server + sightings route + journal + intake; no correlation)',
    `${runs[m].length} × 5 s`,
    fmt(med(runs[m], (r) => r.perSecond)),
    `${fmt((med(runs[m], (r) => r.perSecond) / floorRate) * 100)} %`,
    fmt(med(runs[m], (r) => r.p99), 1),
    fmt(med(runs[m], (r) => r.cpuUsPerRequest)),
    `${fmt(med(runs[m], (r) => r.cpuUsPerRequest) / floorCpu, 2)}×`,
  ]);
  const markdown = [
    `Only the request path: ${CONNECTIONS} keep-alive connections, closed loop, one signed 7-field sighting per request into 1,000 targets, ` +
      'the floor and Sightline taking turns, each in its own process, medians of the rounds. Sightline runs its real HTTP server, sightings route, journal (fdatasync) ' +
      'and intake; the processor behind the intake does nothing, so correlation, XDR mirroring and state snapshots cost nothing here (the ingest benchmark has them).',
    '',
    table(['server', 'runs', 'requests/s', 'of the floor', 'p99 ms', 'server CPU µs / request', 'CPU vs the floor'], rows),
  ].join('\n');
  return { name: 'request-path', title: '1b. Sighting request path alone', markdown, targets: [] };
}
