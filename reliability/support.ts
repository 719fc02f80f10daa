import { spawn, type ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { request } from 'undici';
import { startEnv, startNodeFlags } from '../bench/start-flags.js';
import { freePort } from '../src/sandbox/free-port.js';
import { answersHealthz } from '../src/sandbox/instance.js';
import { SANDBOX_SIGHTINGS_SECRET, type EmulatedWorld } from '../src/sandbox/world.js';
import { signedSightingsHeaders } from '../src/transport/http/sightings/auth.js';
import { mulberry32 } from '../src/emulators/xdr/faults.js';

/**
 * What every reliability suite shares: the report shape, the real Sightline
 * process (spawned, killed, restarted on the same state dir), signed sighting
 * posts, and small statistics. Suites return a SuiteReport; run.ts renders them.
 */
export interface Check {
  name: string;
  ok: boolean;
  detail?: string;
}

export interface SuiteReport {
  title: string;
  /** One paragraph: what was tried. */
  tried: string;
  /** Headline figures: "how many", "what survived". */
  figures: Record<string, string | number>;
  checks: Check[];
  /** Bugs or weaknesses found, one sentence each (file, function, cause). */
  findings: string[];
  durationMs: number;
}

export function passed(r: SuiteReport): boolean {
  return r.checks.every((c) => c.ok);
}

/** Collects checks and figures while a suite runs. */
export class ReportBuilder {
  readonly checks: Check[] = [];
  readonly figures: Record<string, string | number> = {};
  readonly findings: string[] = [];
  private readonly started = Date.now();
  constructor(readonly title: string) {}

  check(name: string, ok: boolean, detail?: string): boolean {
    this.checks.push({ name, ok, ...(detail ? { detail } : {}) });
    return ok;
  }

  figure(name: string, value: string | number): void {
    this.figures[name] = value;
  }

  finding(text: string): void {
    if (!this.findings.includes(text)) this.findings.push(text);
  }

  done(tried: string): SuiteReport {
    return { title: this.title, tried, figures: this.figures, checks: this.checks, findings: this.findings, durationMs: Date.now() - this.started };
  }
}

export const PROJECT_ROOT = process.cwd();

/**
 * The suites that wait for the XDR mirror to catch up squeeze hours of sightings into minutes against
 * an XDR emulator with no organisation budget. At the default share (4,000 calls an hour) the mirror
 * would rightly take an hour over them: the allowance stays on (its code runs, shared leases included
 * on PostgreSQL) but at a rate that does not hold them back. Its limiting is tested in
 * test/domain/correlation/call-allowance.test.ts and test/store/postgres/call-allowance.test.ts; the
 * soak (operations) runs with the default, as deployed.
 */
export const SUITE_XDR_ALLOWANCE = { XDR_MIRROR_CALLS_PER_HOUR: '1000000' } as const;

/** Children still running when this process exits are killed with it (a suite that throws must not leave a Sightline behind). */
const liveChildren = new Set<ChildProcess>();
process.once('exit', () => {
  for (const c of liveChildren) c.kill('SIGKILL');
});

/** The real `node --import tsx src/main.ts`, against the world's emulators, on a fixed port so PUBLIC_URL is stable across restarts. */
export class SightlineProcess {
  private child: ChildProcess | undefined;
  private exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }> | undefined;
  readonly url: string;
  stderr = '';
  stdout = '';
  starts = 0;

  private constructor(
    readonly port: number,
    private readonly env: Record<string, string>,
  ) {
    this.url = `http://127.0.0.1:${port}`;
  }

  static async create(world: EmulatedWorld, overrides: Record<string, string> = {}): Promise<SightlineProcess> {
    const port = await freePort();
    const env = world.env({ HTTP_PORT: String(port), PUBLIC_URL: `http://127.0.0.1:${port}`, ...overrides });
    return new SightlineProcess(port, env);
  }

  get stateFile(): string {
    return this.env.STATE_FILE!;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Starts the process and resolves once /healthz answers (or throws with its stderr). */
  async start(timeoutMs = 30_000): Promise<number> {
    const t0 = Date.now();
    // With `npm start`'s node flags (its heap cap) and environment (malloc settings): the soak's RSS is the deployed process's.
    const child = spawn(process.execPath, [...startNodeFlags(this.env), '--import', 'tsx', 'src/main.ts'], {
      cwd: PROJECT_ROOT,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...this.env, ...startEnv(this.env) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.starts++;
    this.child = child;
    liveChildren.add(child);
    child.once('exit', () => liveChildren.delete(child));
    child.stdout!.on('data', (d: Buffer) => (this.stdout = (this.stdout + d.toString()).slice(-200_000)));
    child.stderr!.on('data', (d: Buffer) => (this.stderr = (this.stderr + d.toString()).slice(-20_000)));
    this.exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
    let gone = false;
    void this.exited.then(() => (gone = true));
    while (Date.now() - t0 < timeoutMs) {
      if (gone) throw new Error(`Sightline exited during start-up: ${this.stderr.slice(-2000)}`);
      if (await this.healthy()) return Date.now() - t0;
      await sleep(50);
    }
    this.kill('SIGKILL');
    throw new Error(`Sightline did not answer /healthz within ${timeoutMs} ms: ${this.stderr.slice(-2000)}`);
  }

  healthy(): Promise<boolean> {
    return answersHealthz(this.url);
  }

  kill(signal: NodeJS.Signals): void {
    this.child?.kill(signal);
  }

  /** Sends `signal` and resolves with how it ended and how long it took. */
  async stop(signal: NodeJS.Signals = 'SIGKILL'): Promise<{ code: number | null; signal: NodeJS.Signals | null; ms: number }> {
    if (!this.child || !this.exited) return { code: null, signal: null, ms: 0 };
    const t0 = Date.now();
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
    const r = await this.exited;
    this.child = undefined;
    return { ...r, ms: Date.now() - t0 };
  }

  /** The state file as it is on disk now (throws if it does not parse). */
  async readState(): Promise<StateOnDisk> {
    return JSON.parse(await readFile(this.stateFile, 'utf8')) as StateOnDisk;
  }

  get journalFile(): string {
    return `${this.stateFile}.journal`;
  }

  get stateDir(): string {
    return path.dirname(this.stateFile);
  }
}

/** The parts of the state file the suites read (shapes from src/store/state.ts and src/domain/correlation/types.ts). */
export interface StateOnDisk {
  hunts: { id: string; status: string; threatsDone: string[]; casebooks: Record<string, string> }[];
  outbox: { id: string; channel: string; key: string; attempts: number; payload: unknown }[];
  talos: { lastHuntedWeek?: string };
  correlation?: {
    incidents: Record<string, { id: string; targetKey: string; targetValue: string; status: string; count: number; xdrId?: string; xdrSync: { pending: unknown[]; dropped: number } }>;
    openByTarget: Record<string, string>;
    lastAppliedSeq: number;
  };
}

export interface PostResult {
  /** HTTP status, or 0 when no answer came (connection refused/reset, timeout). */
  status: number;
  body: string;
  ms: number;
  error?: string;
}

/** POSTs a body to the sightings endpoint, HMAC-signed unless `headers` replace the signature. */
export async function postSightings(baseUrl: string, body: string, opts: { headers?: Record<string, string>; sign?: boolean; timeoutMs?: number } = {}): Promise<PostResult> {
  const t0 = performance.now();
  const headers: Record<string, string> = { 'content-type': 'application/json', ...(opts.sign === false ? {} : signedSightingsHeaders(SANDBOX_SIGHTINGS_SECRET, body)), ...opts.headers };
  try {
    const res = await request(`${baseUrl}/api/v1/sightings`, { method: 'POST', body, headers, headersTimeout: opts.timeoutMs ?? 10_000, bodyTimeout: opts.timeoutMs ?? 10_000 });
    const text = await res.body.text();
    return { status: res.statusCode, body: text, ms: performance.now() - t0 };
  } catch (err) {
    return { status: 0, body: '', ms: performance.now() - t0, error: (err as Error).message };
  }
}

/** One module-payload sighting (seeds.md §1.9 shape) with a sender id, so the ledger can follow it. */
export function moduleSighting(id: string, host: string, ioc: string, observedAt = '2024-05-02T10:00:00.000Z'): Record<string, unknown> {
  return {
    id,
    target_type: 'hostname',
    target_value: host,
    ioc_type: 'domain',
    ioc_value: ioc,
    event_source: 'Reliability suite',
    target_observed_time: observedAt,
  };
}

export function percentile(values: number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export async function waitFor<T>(probe: () => Promise<T | undefined | false> | T | undefined | false, what: string, timeoutMs = 30_000, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

/** Seeded PRNG (the emulators' mulberry32) so a failing run can be replayed with the same kill points. */
export const seeded = mulberry32;

export function round(n: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}
