import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { request } from 'undici';
import { buildDemoScenario } from '../src/emulators/xdr/index.js';
import { freePort } from '../src/sandbox/free-port.js';
import { SANDBOX_ADMINS, startWorld, type EmulatedWorld } from '../src/sandbox/world.js';
import { roundupUrl } from './bot.js';
import { buildMain } from './prebuild.js';
import { startEnv, startNodeFlags } from './start-flags.js';
import { table, type BenchResult, type TargetCheck } from './report.js';
import { fixturesDir, LARGEST, loadRoundup } from './roundups.js';
import { fmt, median } from './stats.js';

/**
 * Benchmark 4: the real process as `npm start` runs it (`node dist/main.js`, built
 * with tsc by `npm run build`), and under tsx (`npm run dev`) for comparison, against the emulated world: time from spawn to the
 * "Sightline is ready" log line and to /readyz 200, RSS when idle, and RSS
 * while it hunts the largest roundup (started from chat).
 */
interface StartSample {
  logReadyMs: number;
  readyzMs: number;
  idleRssMb: number;
}

export interface Running {
  child: ChildProcess;
  url: string;
  sample: StartSample;
  stop(): Promise<void>;
}

export function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : Number.NaN;
}

/** `prepare` writes the state file before the start (a prepopulated store); `readyTimeoutMs` grows with it. */
export async function startProcess(
  world: EmulatedWorld,
  command: string[],
  idleWaitMs: number,
  opts: { prepare?: (stateFile: string) => Promise<unknown>; readyTimeoutMs?: number; /** Extra environment, e.g. `npm start`'s prefix (startEnv()). */ env?: Record<string, string> } = {},
): Promise<Running> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const stateDir = await mkdtemp(path.join(tmpdir(), 'sightline-bench-start-'));
  const stateFile = path.join(stateDir, 'sightline.json');
  await opts.prepare?.(stateFile);
  const env = world.env({ HTTP_PORT: String(port), PUBLIC_URL: url, LOG_LEVEL: 'info', STATE_FILE: stateFile });
  const t0 = performance.now();
  const child = spawn(process.execPath, command, { env: { ...process.env, ...env, ...opts.env }, stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise<never>((_, reject) => child.once('exit', (code) => reject(new Error(`Sightline exited with code ${code} before it was ready`))));
  exited.catch(() => undefined);
  const logReady = new Promise<number>((resolve) => {
    const lines = createInterface({ input: child.stdout! });
    lines.on('line', (line) => {
      if (line.includes('Sightline is ready')) resolve(performance.now() - t0);
    });
  });
  const readyz = (async () => {
    for (;;) {
      try {
        const res = await request(`${url}/readyz`);
        await res.body.dump();
        if (res.statusCode === 200) return performance.now() - t0;
      } catch {
        // not listening yet
      }
      await new Promise((r) => setTimeout(r, 5));
    }
  })();
  const [logReadyMs, readyzMs] = await Promise.race([Promise.all([logReady, readyz]), exited, timeout(opts.readyTimeoutMs ?? 30_000, `Sightline did not become ready in ${(opts.readyTimeoutMs ?? 30_000) / 1000} s`)]);
  await new Promise((r) => setTimeout(r, idleWaitMs));
  const sample = { logReadyMs, readyzMs, idleRssMb: rssMb(child.pid!) };
  return {
    child,
    url,
    sample,
    stop: async () => {
      const gone = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await Promise.race([gone, new Promise((r) => setTimeout(r, 12_000))]);
      if (child.exitCode === null) child.kill('SIGKILL');
      await rm(stateDir, { recursive: true, force: true });
    },
  };
}

function timeout(ms: number, message: string): Promise<never> {
  return new Promise((_, reject) => setTimeout(() => reject(new Error(message)), ms).unref());
}

async function coldStarts(world: EmulatedWorld, command: string[], runs: number, idleWaitMs: number, env: Record<string, string> = {}): Promise<StartSample[]> {
  const out: StartSample[] = [];
  for (let i = 0; i < runs; i++) {
    const p = await startProcess(world, command, idleWaitMs, { env });
    out.push(p.sample);
    await p.stop();
  }
  return out;
}

/** Starts a hunt of `file` from chat (`hunt blog <url>`) and samples RSS every 100 ms until the summary is posted. */
async function huntRss(world: EmulatedWorld, command: string[], file: string): Promise<{ peakMb: number; medianMb: number; wallMs: number }> {
  const r = await loadRoundup(file);
  world.xdr.setScenario(buildDemoScenario(r.roundup.threats));
  const p = await startProcess(world, command, 500, { env: startEnv() });
  try {
    const room = world.webex.createRoomAsPerson('Footprint bench', [SANDBOX_ADMINS[0]!]);
    const samples: number[] = [];
    const t0 = performance.now();
    const before = world.webex.rooms().flatMap((x) => world.webex.messages(x.id)).length;
    world.webex.postAsPerson(SANDBOX_ADMINS[0]!, room.id, `hunt blog ${roundupUrl(world, file)}`, { mentionBot: true });
    const timer = setInterval(() => samples.push(rssMb(p.child.pid!)), 100);
    const finished = world.webex.waitForMessage((m) => m.personId === world.webex.bot.id && /investigation finished/i.test(m.markdown ?? m.text ?? ''), 180_000);
    // The sampler must stop even when the hunt fails: /proc/<pid> is gone once the process is stopped.
    await finished.finally(() => clearInterval(timer));
    samples.push(rssMb(p.child.pid!));
    const after = world.webex.rooms().flatMap((x) => world.webex.messages(x.id)).length;
    if (after <= before) throw new Error('the hunt posted nothing');
    return { peakMb: Math.max(...samples), medianMb: median(samples), wallMs: performance.now() - t0 };
  } finally {
    await p.stop();
  }
}

export async function benchFootprint(o: { quick: boolean }): Promise<BenchResult> {
  const runs = o.quick ? 1 : 5;
  const idleWaitMs = o.quick ? 300 : 2000;
  // The hunt row needs the test fixtures' roundups (the world's default is the sandbox's one demo file).
  const world = await startWorld({ talosDir: fixturesDir(), xdrLatencyMs: o.quick ? 5 : 50 });
  const tsx = ['--import', 'tsx', 'src/main.ts'];
  const rows: string[][] = [];
  const targets: TargetCheck[] = [];
  let built: { file: string; buildMs: number; cleanup(): Promise<void> } | undefined;
  try {
    // The row that matters is what `npm start` runs (the tsc build); tsx is the development comparison.
    built = await buildMain();
    // `npm start`'s node flags and environment prefix (malloc settings): the process as deployed.
    const viaBuild = await coldStarts(world, [...startNodeFlags(), built.file], runs, idleWaitMs, startEnv());
    rows.push(row(`\`npm start\`: \`node dist/main.js\` (\`npm run build\`, tsc; build ${fmt(built.buildMs / 1000, 1)} s, not counted)`, viaBuild));
    const viaTsx = await coldStarts(world, tsx, runs, idleWaitMs);
    rows.push(row('`npm run dev`: `node --import tsx src/main.ts` (transpiled at start)', viaTsx));
    const hunt = o.quick ? undefined : await huntRss(world, [...startNodeFlags(), built.file], LARGEST);
    const ready = median(viaBuild.map((s) => s.readyzMs));
    const idle = median(viaBuild.map((s) => s.idleRssMb));
    targets.push({ what: 'cold start to ready (npm start, /readyz 200)', target: '≤ 1.5 s', measured: `${fmt(ready)} ms`, met: ready <= 1500 });
    targets.push({ what: 'idle RSS after start (npm start)', target: '≤ 200 MB', measured: `${fmt(idle)} MB`, met: idle <= 200 });
    const markdown = [
      `The real process, spawned ${runs} times per variant with a fresh state file, against the emulated world (Webex in webhook mode, so start-up includes registering the webhook; the readiness probe checks XDR and Webex). ` +
        `Ready = the "Sightline is ready" log line and the first 200 from /readyz (polled every 5 ms). Idle RSS is read from /proc/<pid>/status ${idleWaitMs / 1000} s after ready. Medians of ${runs} runs.`,
      '',
      table(['variant', 'to "Sightline is ready"', 'to /readyz 200', 'idle RSS'], rows),
      '',
      hunt
        ? `RSS of \`npm start\` while hunting ${LARGEST} (1.26 MB, started from chat with \`hunt blog <url>\`, XDR latency 50 ms, sampled every 100 ms): peak ${fmt(hunt.peakMb)} MB, median ${fmt(hunt.medianMb)} MB; the hunt took ${fmt(hunt.wallMs / 1000, 1)} s from the chat message to the summary.`
        : '',
    ].join('\n');
    return { name: 'footprint', title: '4. Footprint', markdown, targets };
  } finally {
    await built?.cleanup();
    await world.stop();
  }
}

function row(variant: string, samples: StartSample[]): string[] {
  return [variant, `${fmt(median(samples.map((s) => s.logReadyMs)))} ms`, `${fmt(median(samples.map((s) => s.readyzMs)))} ms`, `${fmt(median(samples.map((s) => s.idleRssMb)))} MB`];
}
