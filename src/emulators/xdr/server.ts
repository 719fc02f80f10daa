import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Config } from '../../config/load.js';
import { EmulatorAuth } from './auth.js';
import { ctiaRoutes } from './ctia.js';
import { CtiaStore, shortIdOf, type Entity } from './ctia-store.js';
import { CTIA_TYPES, INCIDENT_STATUSES, type CtiaType } from './ctia-validate.js';
import { FaultInjector, RateLimiter, type RateLimitOptions } from './faults.js';
import { irohError, matchRoute, sleep, type Reply, type Route } from './http-kit.js';
import { irohRoutes, type TriggerRecord } from './iroh.js';
import { privateIntelRoutes } from './private-intel.js';
import { parseScenario, type XdrScenario } from './scenario.js';

/**
 * A local Cisco XDR (IROH + CTIA) on 127.0.0.1 for tests, the sandbox and
 * benchmarks. Real paths, envelopes, auth and error shapes (xdr-api.md §8),
 * with fault injection and counters to check client behaviour.
 */
export interface XdrEmulatorOptions {
  host?: string;
  port?: number;
  clientId?: string;
  clientPassword?: string;
  /** Token lifetime in seconds (XDR: 600). */
  tokenExpiresInSeconds?: number;
  /** A scenario object or its JSON form (validated). */
  scenario?: unknown;
  /** Observables accepted per enrich/respond request; more → 400. */
  maxObservablesPerRequest?: number;
  /** Latency added to every API call, milliseconds (benchmarks). */
  latencyMs?: number;
  /** Seed for the fault injector's randomness. */
  seed?: number;
  now?: () => Date;
  maxBodyBytes?: number;
}

export interface CallRecord {
  method: string;
  path: string;
  query: string;
  status: number;
  bodyBytes: number;
}

const TOKEN_PATH = '/iroh/oauth2/token';

export class XdrEmulator {
  readonly clientId: string;
  readonly clientPassword: string;
  readonly faults: FaultInjector;
  readonly calls: CallRecord[] = [];
  readonly triggered: TriggerRecord[] = [];
  readonly auth: EmulatorAuth;
  private readonly opts: XdrEmulatorOptions;
  private readonly now: () => Date;
  private readonly store: CtiaStore;
  private readonly routes: Route[];
  private scenario: XdrScenario;
  private rateLimiter: RateLimiter | undefined;
  private server: Server | undefined;
  private baseUrl = '';
  private inFlight = 0;
  private maxInFlight = 0;

  constructor(opts: XdrEmulatorOptions = {}) {
    this.opts = opts;
    this.now = opts.now ?? (() => new Date());
    this.clientId = opts.clientId ?? 'sightline-emulator-client';
    this.clientPassword = opts.clientPassword ?? 'emulator-password';
    this.scenario = parseScenario(opts.scenario ?? {});
    this.faults = new FaultInjector(opts.seed);
    this.auth = new EmulatorAuth({
      clientId: this.clientId,
      clientPassword: this.clientPassword,
      expiresInSeconds: opts.tokenExpiresInSeconds ?? 600,
      now: () => this.now().getTime(),
    });
    this.store = new CtiaStore(() => this.baseUrl, this.now, () => this.clientId);
    this.routes = [
      ...irohRoutes({
        scenario: () => this.scenario,
        maxObservables: () => this.opts.maxObservablesPerRequest ?? 1000,
        onTrigger: (t) => this.triggered.push(t),
      }),
      ...ctiaRoutes(this.store),
      ...privateIntelRoutes(this.store),
    ];
  }

  async start(): Promise<{ url: string }> {
    const server = createServer((req, res) => void this.handle(req, res));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.opts.port ?? 0, this.opts.host ?? '127.0.0.1', () => resolve());
    });
    const { port } = server.address() as AddressInfo;
    this.baseUrl = `http://${this.opts.host ?? '127.0.0.1'}:${port}`;
    return { url: this.baseUrl };
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  get url(): string {
    return this.baseUrl;
  }

  /** The `xdr` section of Config pointing at this emulator. */
  xdrConfig(overrides: Partial<Config['xdr']> = {}): Config['xdr'] {
    return {
      region: 'us',
      clientId: this.clientId,
      clientPassword: this.clientPassword,
      tokenUrl: `${this.baseUrl}${TOKEN_PATH}`,
      irohBase: `${this.baseUrl}/iroh`,
      ctiaBase: `${this.baseUrl}/ctia`,
      casebookUrlTemplate: `${this.baseUrl}/investigate?spid={uuid}`,
      incidentUrlTemplate: `${this.baseUrl}/incidents?q=id:{shortId}#summary`,
      excludedModules: ['SecureX Global Threat Intelligence', 'Talos Intelligence', 'AMP File Reputation'],
      batchSize: 50,
      concurrency: 4,
      cleanRule: 'unless-malicious',
      timeoutMs: 10_000,
      incidentApi: 'private-intel',
      ...overrides,
    };
  }

  /** Stored CTIA entities by type. */
  get state(): Record<CtiaType, Entity[]> {
    return Object.fromEntries(CTIA_TYPES.map((t) => [t, this.store.all(t)])) as Record<CtiaType, Entity[]>;
  }

  /** API requests in flight now, and the most seen at once since the last reset (token calls excluded). */
  get stats(): { inFlight: number; maxInFlight: number; tokensIssued: number } {
    return { inFlight: this.inFlight, maxInFlight: this.maxInFlight, tokensIssued: this.auth.issued };
  }

  setScenario(scenario: unknown): void {
    this.scenario = parseScenario(scenario);
  }

  /** Org-wide rate limit like XDR's (excess → 429 + Retry-After); undefined removes it. */
  setRateLimit(opts: RateLimitOptions | undefined): void {
    this.rateLimiter = opts ? new RateLimiter(opts, () => this.now().getTime()) : undefined;
  }

  /**
   * Incidents created in XDR long ago, under the given short ids (`incident-…`), for a benchmark
   * whose preloaded store says they were mirrored: patches and links to them then succeed as they
   * would in XDR. Each is what a create with this body would have stored.
   */
  seedIncidents(shortIds: readonly string[], body: Record<string, unknown>): void {
    for (const shortId of shortIds) {
      const created = this.store.create('incident', body);
      this.store.delete('incident', shortIdOf(created.id));
      this.store.put('incident', { ...created, id: `${this.baseUrl}/ctia/incident/${shortId}` });
    }
  }

  /** Simulates an analyst changing the status in the XDR console (same stamping as the API). */
  setIncidentStatus(id: string, status: string): Entity {
    if (!INCIDENT_STATUSES.includes(status)) throw new Error(`Unknown incident status "${status}"`);
    const updated = this.store.setIncidentStatus(shortIdOf(id), status);
    if (!updated) throw new Error(`No incident ${id} in the emulator`);
    return updated;
  }

  /** Empties entities, logs, faults, rate limit, counters and tokens; keeps scenario and credentials. */
  reset(): void {
    this.store.clear();
    this.calls.length = 0;
    this.triggered.length = 0;
    this.faults.clear();
    this.rateLimiter = undefined;
    this.maxInFlight = this.inFlight;
    this.auth.reset();
  }

  resetStats(): void {
    this.maxInFlight = this.inFlight;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.baseUrl);
    const method = (req.method ?? 'GET').toUpperCase();
    const isToken = url.pathname === TOKEN_PATH;
    if (!isToken) {
      this.inFlight++;
      this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
      res.once('close', () => this.inFlight--);
    }
    let bodyBytes = 0;
    const record = (status: number) => this.calls.push({ method, path: url.pathname, query: url.search, status, bodyBytes });
    try {
      const raw = await readBody(req, this.opts.maxBodyBytes ?? 10 * 1024 * 1024);
      bodyBytes = raw === undefined ? -1 : raw.length;
      const reply = raw === undefined ? irohError(413, 'payload-too-large', 'The request body is too large.') : await this.answer(req, method, url, raw, isToken);
      if (reply === 'drop') {
        record(0);
        req.socket.destroy();
        return;
      }
      record(reply.status);
      send(res, reply);
    } catch (err) {
      record(500);
      send(res, irohError(500, 'unknown-exception', (err as Error).message));
    }
  }

  private async answer(req: IncomingMessage, method: string, url: URL, raw: Buffer, isToken: boolean): Promise<Reply | 'drop'> {
    if (!isToken && this.rateLimiter) {
      const v = this.rateLimiter.take();
      if (v.limited) return rateLimited(v.retryAfterSeconds, v.limit);
    }
    const fault = this.faults.decide(method, url.pathname);
    const latency = fault.latencyMs + (isToken ? 0 : (this.opts.latencyMs ?? 0));
    if (latency > 0) await sleep(latency);
    if (fault.drop) return 'drop';
    if (fault.status !== undefined) {
      if (fault.status === 429) return rateLimited(fault.retryAfterSeconds ?? 1, 8000);
      const reply = irohError(fault.status, 'unknown-exception', 'Injected fault');
      if (fault.retryAfterSeconds !== undefined) reply.headers = { 'Retry-After': String(fault.retryAfterSeconds) };
      return reply;
    }
    const text = raw.toString('utf8');
    if (isToken) return method === 'POST' ? this.auth.issue(req.headers.authorization, text) : irohError(405, 'method-not-allowed', 'Use POST.');
    const denied = this.auth.check(req.headers.authorization);
    if (denied) return denied;
    let body: unknown;
    if (text.length > 0) {
      try {
        body = JSON.parse(text);
      } catch {
        return irohError(400, 'invalid-json', 'The request body is not valid JSON.');
      }
    }
    const match = matchRoute(this.routes, method, url.pathname);
    if (match === undefined) return irohError(404, 'not-found', `No route ${method} ${url.pathname}`);
    if (match === 'method') return irohError(405, 'method-not-allowed', `${method} is not allowed on ${url.pathname}`);
    return match.route.handler({ method, url, params: match.params, body });
  }
}

function rateLimited(retryAfterSeconds: number, limit: number): Reply {
  return {
    status: 429,
    body: { error: 'too-many-requests', error_description: 'Rate limit exceeded for the organization' },
    headers: {
      'Retry-After': String(retryAfterSeconds),
      'X-Ratelimit-Org-Limit': String(limit),
      'X-Ratelimit-Org-Remaining': '0',
    },
  };
}

function send(res: ServerResponse, reply: Reply): void {
  const headers: Record<string, string> = { ...reply.headers };
  if (reply.body === undefined) {
    res.writeHead(reply.status, headers).end();
    return;
  }
  const payload = JSON.stringify(reply.body);
  headers['Content-Type'] = 'application/json; charset=utf-8';
  headers['Content-Length'] = String(Buffer.byteLength(payload));
  res.writeHead(reply.status, headers).end(payload);
}

/** The body, or undefined when it exceeds the limit. */
async function readBody(req: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) return undefined;
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}
