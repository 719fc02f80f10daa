import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { RateLimitOptions } from '../src/emulators/xdr/faults.js';
import { startWorld, type EmulatedWorld } from '../src/sandbox/world.js';

/**
 * The emulated outside world (XDR, Webex, SMTP, Talos, GitHub) in a process of its own, for the
 * ingest benchmark: in the load generator's process, every XDR call and Webex message the server made
 * was answered on the event loop that times the requests, and a busy emulator showed up as the
 * server's latency (the load generator's loop delay rose from ~3 to 5–13 ms at p99 when the server
 * talked to XDR; issue 14). The emulators still share the machine's cores, as remote services do not.
 */
/** XDR's documented budget: 8,000 API requests an hour per organisation (429 with Retry-After beyond). */
export const XDR_ORG_RATE_LIMIT: RateLimitOptions = { requests: 8000, windowMs: 3_600_000 };

export interface WorldProcess {
  env(overrides?: Record<string, string>): Record<string, string>;
  seedIncidents(shortIds: readonly string[], body: Record<string, unknown>): Promise<void>;
  /** Calls Sightline made, for BENCH_CALLS. */
  calls(): Promise<{ xdr: { method: string; path: string }[]; webex: { method: string; path: string }[] }>;
  stop(): Promise<void>;
}

type Request = { id: number; cmd: 'seed'; shortIds: string[]; body: Record<string, unknown> } | { id: number; cmd: 'calls' } | { id: number; cmd: 'stop' };

export async function startWorldProcess(opts: { stateDir: string; xdrRateLimit?: RateLimitOptions }): Promise<WorldProcess> {
  const env = { ...process.env, BENCH_WORLD_STATE_DIR: opts.stateDir, ...(opts.xdrRateLimit ? { BENCH_WORLD_XDR_RATE_LIMIT: JSON.stringify(opts.xdrRateLimit) } : {}) };
  const child: ChildProcess = fork(fileURLToPath(import.meta.url), ['child'], { execArgv: ['--import', 'tsx'], env, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const waiting = new Map<number, (msg: Record<string, unknown>) => void>();
  let nextId = 1;
  const base = await new Promise<Record<string, string>>((resolve, reject) => {
    child.on('message', (msg: Record<string, unknown>) => {
      if (msg['env']) resolve(msg['env'] as Record<string, string>);
      else if (typeof msg['id'] === 'number') waiting.get(msg['id'])?.(msg);
    });
    child.once('exit', (code) => reject(new Error(`the emulators' process exited with code ${code}`)));
  });
  const ask = (req: Record<string, unknown>) =>
    new Promise<Record<string, unknown>>((resolve) => {
      const id = nextId++;
      waiting.set(id, (msg) => {
        waiting.delete(id);
        resolve(msg);
      });
      child.send({ ...req, id });
    });
  return {
    env: (overrides = {}) => ({ ...base, ...overrides }),
    seedIncidents: async (shortIds, body) => void (await ask({ cmd: 'seed', shortIds, body })),
    calls: async () => (await ask({ cmd: 'calls' })) as unknown as Awaited<ReturnType<WorldProcess['calls']>>,
    stop: async () => {
      if (child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.send({ cmd: 'stop', id: 0 });
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 10_000))]);
      if (child.exitCode === null) child.kill('SIGKILL');
    },
  };
}

async function runChild(): Promise<void> {
  const world: EmulatedWorld = await startWorld({ stateDir: process.env['BENCH_WORLD_STATE_DIR']! });
  const limit = process.env['BENCH_WORLD_XDR_RATE_LIMIT'];
  if (limit) world.xdr.setRateLimit(JSON.parse(limit) as RateLimitOptions);
  process.on('message', (req: Request) => {
    void (async () => {
      if (req.cmd === 'seed') {
        world.xdr.seedIncidents(req.shortIds, req.body);
        process.send?.({ id: req.id });
      } else if (req.cmd === 'calls') {
        process.send?.({ id: req.id, xdr: world.xdr.calls.map(({ method, path }) => ({ method, path })), webex: world.webex.requestLog });
      } else {
        await world.stop();
        process.exit(0);
      }
    })();
  });
  process.send?.({ env: world.env() });
}

if (process.argv[2] === 'child') await runChild();
