import { fork, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { startEnv, startNodeFlagsFor } from './start-flags.js';

/** A benchmark server in its own process (bench/ingest-server.ts), driven over IPC. */
export interface ChildServer {
  url: string;
  pid: number;
  startMs: number;
  ask<T = Record<string, unknown>>(cmd: 'stats' | 'idle' | 'stop' | 'heap', timeoutMs?: number, args?: Record<string, unknown>): Promise<T>;
  kill(): void;
}

export interface SpawnOptions {
  mode: 'real' | 'naive' | 'floor';
  /** A pre-built bundle of bench/ingest-server.ts to run under plain node instead of tsx. */
  builtFile?: string;
  env: Record<string, string>;
  /** Size of the state file the server will load (picks the heap cap as an operator would). */
  stateBytes?: number;
  /** Extra node flags, e.g. --cpu-prof. */
  nodeFlags?: string[];
  readyTimeoutMs?: number;
}

export class ServerDied extends Error {
  constructor(message: string, readonly stderr: string) {
    super(message);
  }

  /** What the dead server died of, e.g. `RangeError: Invalid string length`: the root cause when it names one. */
  get cause_(): string {
    const lines = this.stderr.split('\n').map((l) => l.trim());
    const cause = lines.find((l) => /^\[cause\]:/.test(l))?.replace(/^\[cause\]:\s*/, '');
    const error = lines.find((l) => /^\w*Error:/.test(l));
    const where = error?.startsWith('StoreError') ? ' while writing the state file' : '';
    return cause ? `${cause}${where}` : (error ?? this.message);
  }
}

export async function spawnServer(opts: SpawnOptions): Promise<ChildServer> {
  const started = performance.now();
  const entry = opts.builtFile ?? path.resolve('bench/ingest-server.ts');
  const child: ChildProcess = fork(entry, [opts.mode], {
    // Our server runs with `npm start`'s flags (its heap cap, raised for a store that needs more, as the
    // start-up warning says); the floor and the naive design get room to show their own limits.
    execArgv: [
      ...(opts.builtFile ? [] : ['--import', 'tsx']),
      ...(opts.mode === 'real' ? startNodeFlagsFor(opts.stateBytes ?? 0) : ['--max-old-space-size=8192']),
      ...(opts.nodeFlags ?? []),
      ...benchNodeFlags(opts.mode),
    ],
    // …and `npm start`'s environment prefix (glibc malloc settings) as well.
    env: { ...process.env, ...opts.env, ...(opts.mode === 'real' ? startEnv({ ...process.env, ...opts.env }) : {}) },
    stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
  });
  // Keep the end of stderr: when the server dies, its last words say why.
  let stderrTail = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    process.stderr.write(chunk);
    stderrTail = (stderrTail + chunk.toString('utf8')).slice(-8000);
  });
  let nextId = 1;
  const waiting = new Map<number, (msg: Record<string, unknown>) => void>();
  const ready = new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${opts.mode} server did not start in time`)), opts.readyTimeoutMs ?? 180_000);
    child.on('message', (msg: Record<string, unknown>) => {
      if (msg['ready']) {
        clearTimeout(timer);
        resolve(String(msg['url']));
      } else if (typeof msg['id'] === 'number') waiting.get(msg['id'])?.(msg);
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new ServerDied(`${opts.mode} server exited with code ${code}`, stderrTail));
    });
  });
  const url = await ready;
  const startMs = performance.now() - started;
  return {
    url,
    pid: child.pid!,
    startMs,
    ask: <T>(cmd: 'stats' | 'idle' | 'stop' | 'heap', timeoutMs = 300_000, args: Record<string, unknown> = {}) =>
      new Promise<T>((resolve, reject) => {
        const id = nextId++;
        const timer = setTimeout(() => reject(new Error(`${opts.mode} server did not answer ${cmd}`)), timeoutMs);
        waiting.set(id, (msg) => {
          clearTimeout(timer);
          waiting.delete(id);
          resolve(msg as T);
        });
        if (cmd === 'stop') child.once('exit', () => resolve({ stopped: true } as T));
        child.send({ ...args, cmd, id });
      }),
    kill: () => {
      if (child.exitCode === null) child.kill('SIGKILL');
    },
  };
}

/**
 * `BENCH_SERVER_NODE_FLAGS="--max-old-space-size=400" npm run bench …` runs our server (not the floor or
 * the naive design) with extra node flags, e.g. to see what a heap cap does to RSS and throughput.
 */
function benchNodeFlags(mode: SpawnOptions['mode']): string[] {
  const flags = process.env['BENCH_SERVER_NODE_FLAGS'];
  return mode === 'real' && flags ? flags.split(/\s+/).filter(Boolean) : [];
}
