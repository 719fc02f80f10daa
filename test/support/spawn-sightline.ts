import { spawn, type ChildProcess } from 'node:child_process';
import { request } from 'undici';

/**
 * The real Sightline process (`node <args>`), for tests that must see what an operator sees:
 * its stdout lines, its HTTP endpoints and how it exits. Bounded: waits at most `timeoutMs`.
 */
export interface SpawnedSightline {
  child: ChildProcess;
  url: string;
  stdoutLines(): string[];
  stderr(): string;
  /** Polls `path` until it answers `status`; throws with stderr if the process exits or time runs out. */
  waitFor(path: string, status?: number, timeoutMs?: number): Promise<void>;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves with the exit code. */
  stop(graceMs?: number): Promise<number | null>;
}

export function spawnSightline(args: string[], env: Record<string, string>, port: number): SpawnedSightline {
  const child = spawn(process.execPath, args, {
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-20_000)));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const url = `http://127.0.0.1:${port}`;
  return {
    child,
    url,
    stdoutLines: () => stdout.split('\n').filter((l) => l.length > 0),
    stderr: () => stderr,
    async waitFor(path, status = 200, timeoutMs = 30_000) {
      const t0 = Date.now();
      while (Date.now() - t0 < timeoutMs) {
        if (child.exitCode !== null) throw new Error(`Sightline exited with ${child.exitCode}: ${stderr.slice(-2000)}`);
        try {
          const res = await request(`${url}${path}`, { headersTimeout: 1000, bodyTimeout: 1000 });
          await res.body.dump();
          if (res.statusCode === status) return;
        } catch {
          // not listening yet
        }
        await new Promise((r) => setTimeout(r, 50));
      }
      throw new Error(`${path} did not answer ${status} within ${timeoutMs} ms: ${stderr.slice(-2000)}`);
    },
    async stop(graceMs = 12_000) {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}
