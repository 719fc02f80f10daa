import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';

/**
 * One Sightline instance as its own process (`node [--import tsx] src/main.ts`, or dist/main.js
 * when this file runs from dist/): several on one PostgreSQL database, as they are deployed. The
 * sandbox (`--postgres`) and the PostgreSQL crash suite start, kill and restart them, and learn
 * which is the leader from the log line the app writes when it wins the election.
 */

/** A log message saying this instance took the leader's work; LeaderElector's "elected leader: …" counts too. */
export const LEADER_ELECTED_MSG = 'this instance is now the leader';
/** … and when it gives it up (lost connection, stop). */
export const LEADER_DEMOTED_MSG = 'this instance is no longer the leader';

export interface LogLine {
  level?: number;
  msg?: string;
  [k: string]: unknown;
}

/** A pino JSON line, or undefined for anything else (a stack trace, a framework print). */
export function parseLogLine(text: string): LogLine | undefined {
  if (!text.startsWith('{')) return undefined;
  try {
    const v = JSON.parse(text) as unknown;
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as LogLine) : undefined;
  } catch {
    return undefined;
  }
}

/** LeaderElector's own lines (src/store/postgres/leader.ts): "elected leader: …" and "no longer the leader". */
const ELECTOR_ELECTED = /^elected leader\b/;
const ELECTOR_DEMOTED = /^no longer the leader\b/;

/** true: elected, false: demoted, undefined: a line about something else. */
export function leadershipOf(line: LogLine): boolean | undefined {
  const msg = typeof line.msg === 'string' ? line.msg : '';
  if (msg === LEADER_ELECTED_MSG || ELECTOR_ELECTED.test(msg)) return true;
  if (msg === LEADER_DEMOTED_MSG || ELECTOR_DEMOTED.test(msg)) return false;
  return undefined;
}

/** The app's entry next to this module: src/main.ts under tsx, dist/main.js when built. */
export function appEntry(): { file: string; nodeArgs: string[] } {
  const self = fileURLToPath(import.meta.url);
  const ts = self.endsWith('.ts');
  return { file: fileURLToPath(new URL(ts ? '../main.ts' : '../main.js', import.meta.url)), nodeArgs: ts ? ['--import', 'tsx'] : [] };
}

export interface InstanceOptions {
  name: string;
  /** The whole environment of the process (PATH and HOME are added). */
  env: Record<string, string>;
  /** http://127.0.0.1:<HTTP_PORT> */
  url: string;
  nodeFlags?: string[];
  /** Another entry than this checkout's src/main.ts (e.g. a built dist/main.js); default appEntry(). */
  entry?: { file: string; nodeArgs: string[] };
  /** Every parsed log line (e.g. to print warnings); leadership is tracked here already. */
  onLog?: (line: LogLine, instance: SightlineInstance) => void;
  cwd?: string;
}

export class SightlineInstance {
  private child: ChildProcess | undefined;
  private exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }> | undefined;
  private leaderListeners = new Set<(leader: boolean, at: number) => void>();
  /** Leader as the instance last logged it (false after a kill: a dead process leads nothing). */
  leader = false;
  /** When this instance last logged that it became the leader (Date.now()). */
  electedAt: number | undefined;
  stderr = '';
  starts = 0;

  constructor(readonly opts: InstanceOptions) {}

  get name(): string {
    return this.opts.name;
  }

  get url(): string {
    return this.opts.url;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get running(): boolean {
    return Boolean(this.child && this.child.exitCode === null && this.child.signalCode === null);
  }

  /** Calls `listener` on every change of leadership this instance logs; returns the unsubscribe. */
  onLeadership(listener: (leader: boolean, at: number) => void): () => void {
    this.leaderListeners.add(listener);
    return () => this.leaderListeners.delete(listener);
  }

  /** Starts the process and resolves with the ms until /healthz answered (throws with its stderr if it exits or never answers). */
  async start(timeoutMs = 60_000): Promise<number> {
    if (this.running) throw new Error(`${this.name} is already running`);
    const t0 = Date.now();
    const entry = this.opts.entry ?? appEntry();
    const child = spawn(process.execPath, [...(this.opts.nodeFlags ?? []), ...entry.nodeArgs, entry.file], {
      cwd: this.opts.cwd ?? process.cwd(),
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...this.opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.starts++;
    this.child = child;
    this.stderr = '';
    LIVE.add(child);
    this.exited = new Promise((resolve) =>
      child.once('exit', (code, signal) => {
        LIVE.delete(child);
        if (this.child === child) this.setLeader(false);
        resolve({ code, signal });
      }),
    );
    let partial = '';
    child.stdout!.on('data', (d: Buffer) => {
      const lines = (partial + d.toString('utf8')).split('\n');
      partial = lines.pop() ?? '';
      for (const text of lines) this.line(text);
    });
    child.stderr!.on('data', (d: Buffer) => (this.stderr = (this.stderr + d.toString('utf8')).slice(-20_000)));
    let gone = false;
    void this.exited.then(() => (gone = true));
    while (Date.now() - t0 < timeoutMs) {
      if (gone) throw new Error(`${this.name} exited during start-up: ${this.stderr.trim().slice(-1500) || '(nothing on stderr)'}`);
      if (await this.healthy()) return Date.now() - t0;
      await new Promise((r) => setTimeout(r, 50));
    }
    child.kill('SIGKILL');
    throw new Error(`${this.name} did not answer /healthz within ${Math.round(timeoutMs / 1000)} s: ${this.stderr.trim().slice(-1500)}`);
  }

  private line(text: string): void {
    const parsed = parseLogLine(text);
    if (!parsed) return;
    const leadership = leadershipOf(parsed);
    if (leadership !== undefined) this.setLeader(leadership);
    this.opts.onLog?.(parsed, this);
  }

  private setLeader(leader: boolean): void {
    if (leader === this.leader) return;
    this.leader = leader;
    const at = Date.now();
    if (leader) this.electedAt = at;
    for (const l of this.leaderListeners) l(leader, at);
  }

  healthy(): Promise<boolean> {
    return answersHealthz(this.url);
  }

  /** Sends `signal` and resolves with how it ended and how long it took. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<{ code: number | null; signal: NodeJS.Signals | null; ms: number }> {
    if (!this.child || !this.exited) return { code: null, signal: null, ms: 0 };
    const t0 = Date.now();
    if (this.running) this.child.kill(signal);
    const r = await this.exited;
    this.child = undefined;
    return { ...r, ms: Date.now() - t0 };
  }
}

/** Children still running when this process exits are killed with it (a crash must not leave instances behind). */
const LIVE = new Set<ChildProcess>();
process.once('exit', () => {
  for (const c of LIVE) c.kill('SIGKILL');
});

/** Whether a Sightline process at `url` answers /healthz with 200 within a second (false when it does not answer at all). */
export async function answersHealthz(url: string): Promise<boolean> {
  try {
    const res = await request(`${url}/healthz`, { headersTimeout: 1000, bodyTimeout: 1000 });
    await res.body.text();
    return res.statusCode === 200;
  } catch {
    return false;
  }
}
