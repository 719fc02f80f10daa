import pRetry, { AbortError } from 'p-retry';
import { request, type Dispatcher } from 'undici';
import { UpstreamError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';

/**
 * One JSON-over-HTTP helper for every outside API (XDR, Webex, Talos, RSS, X).
 * Retries with exponential backoff and jitter (p-retry) on network failures, 5xx,
 * 429 and 423, and waits at least as long as a `Retry-After` header asks.
 *
 * Retry safety: a request that may have changed something remotely is retried on
 * 5xx or a dropped connection only when the caller marks it `idempotent`; 429 and
 * 423 mean the server refused before doing anything, so those are always retried.
 */
export interface HttpRetryPolicy {
  retries: number;
  minTimeoutMs: number;
  maxTimeoutMs: number;
  /** Longest Retry-After we are willing to wait for; longer ones fail fast. */
  maxRetryAfterMs: number;
}

export const DEFAULT_RETRY: HttpRetryPolicy = { retries: 4, minTimeoutMs: 200, maxTimeoutMs: 5_000, maxRetryAfterMs: 60_000 };

export interface HttpRequest {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE' | 'HEAD';
  url: string;
  headers?: Record<string, string>;
  /** Objects and arrays are sent as JSON; strings as they are. */
  body?: unknown;
  /** Safe to repeat after a 5xx or a dropped connection. Defaults to true for GET/HEAD/PUT/DELETE. */
  idempotent?: boolean;
  /** Statuses the caller handles itself (e.g. 404 for "not published", 409 for "already a member"). */
  acceptStatus?: number[];
  timeoutMs?: number;
  signal?: AbortSignal;
  retry?: Partial<HttpRetryPolicy>;
  /** Largest response body accepted, in bytes. */
  maxBodyBytes?: number;
}

export interface HttpResponse<T = unknown> {
  status: number;
  headers: Record<string, string>;
  body: T;
  /** The raw text, for callers that parse it themselves (Talos files, feeds). */
  text: string;
}

export interface HttpClientOptions {
  service: string;
  logger?: Logger;
  retry?: Partial<HttpRetryPolicy>;
  dispatcher?: Dispatcher;
  defaultTimeoutMs?: number;
  /** Builds the operator sentence for a failed call, e.g. "Webex refused the token: check WEBEX_TOKEN". */
  describeError?: (status: number | undefined, body: unknown) => string | undefined;
  /** Called before each attempt, e.g. to add a fresh bearer token. */
  beforeRequest?: (req: HttpRequest) => Promise<Record<string, string>> | Record<string, string>;
  sleep?: (ms: number) => Promise<void>;
  /** Told about every attempt (retries included) and its status, or undefined when no answer came (metrics). */
  onAttempt?: (attempt: { method: string; url: string; status?: number }) => void;
}

const IDEMPOTENT_METHODS = new Set(['GET', 'HEAD', 'PUT', 'DELETE']);

export class HttpClient {
  readonly service: string;
  private readonly opts: HttpClientOptions;
  private readonly policy: HttpRetryPolicy;
  /** Counts every attempt sent, so benchmarks and tests can report real call numbers. */
  attempts = 0;

  constructor(opts: HttpClientOptions) {
    this.service = opts.service;
    this.opts = opts;
    this.policy = { ...DEFAULT_RETRY, ...opts.retry };
  }

  async send<T = unknown>(req: HttpRequest): Promise<HttpResponse<T>> {
    const policy = { ...this.policy, ...req.retry };
    const idempotent = req.idempotent ?? IDEMPOTENT_METHODS.has(req.method);
    const sleep = this.opts.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
    return pRetry(
      async () => {
        try {
          return await this.once<T>(req);
        } catch (err) {
          if (err instanceof UpstreamError) {
            const refusedBeforeWork = err.status === 429 || err.status === 423;
            const retry = err.retryable && (idempotent || refusedBeforeWork || err.connectionRefused);
            if (!retry) throw new AbortError(err);
            if (err.retryAfterMs !== undefined && err.retryAfterMs > policy.maxRetryAfterMs) throw new AbortError(err);
          }
          throw err;
        }
      },
      {
        retries: policy.retries,
        minTimeout: policy.minTimeoutMs,
        maxTimeout: policy.maxTimeoutMs,
        randomize: true,
        signal: req.signal,
        onFailedAttempt: async ({ error, attemptNumber, retriesLeft }) => {
          const e = error as UpstreamError;
          this.opts.logger?.warn(
            { service: this.service, method: req.method, url: redactUrl(req.url), status: e.status, attemptNumber, retriesLeft },
            'upstream call failed, will retry',
          );
          if (retriesLeft > 0 && e.retryAfterMs) await sleep(e.retryAfterMs);
        },
      },
    );
  }

  private async once<T>(req: HttpRequest): Promise<HttpResponse<T>> {
    this.attempts++;
    const extra = this.opts.beforeRequest ? await this.opts.beforeRequest(req) : {};
    const headers: Record<string, string> = { accept: 'application/json', ...extra, ...req.headers };
    let body: string | undefined;
    if (req.body !== undefined) {
      if (typeof req.body === 'string') body = req.body;
      else {
        body = JSON.stringify(req.body);
        headers['content-type'] ??= 'application/json';
      }
    }
    const timeout = req.timeoutMs ?? this.opts.defaultTimeoutMs ?? 30_000;
    let res: Dispatcher.ResponseData;
    try {
      res = await request(req.url, {
        method: req.method,
        headers,
        body,
        signal: req.signal,
        dispatcher: this.opts.dispatcher,
        headersTimeout: timeout,
        bodyTimeout: timeout,
      });
    } catch (err) {
      this.opts.onAttempt?.({ method: req.method, url: req.url, status: undefined });
      throw new UpstreamError(this.service, `${this.service} could not be reached; check its address and the network.`, {
        cause: err,
        detail: `${req.method} ${redactUrl(req.url)}: ${(err as Error).message}`,
      });
    }
    this.opts.onAttempt?.({ method: req.method, url: req.url, status: res.statusCode });
    const text = await readLimited(res.body, req.maxBodyBytes ?? 50 * 1024 * 1024);
    const respHeaders = flattenHeaders(res.headers);
    let parsed: unknown = text;
    if (text.length > 0 && (respHeaders['content-type'] ?? '').includes('json')) {
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = text;
      }
    }
    const ok = res.statusCode < 400 || req.acceptStatus?.includes(res.statusCode);
    if (!ok) {
      const trackingId = respHeaders['trackingid'] ?? (parsed as { trackingId?: string } | undefined)?.trackingId;
      const described = this.opts.describeError?.(res.statusCode, parsed);
      throw new UpstreamError(this.service, described ?? `${this.service} answered ${res.statusCode} to ${req.method} ${pathOf(req.url)}.`, {
        status: res.statusCode,
        trackingId: typeof trackingId === 'string' ? trackingId : undefined,
        retryAfterMs: parseRetryAfter(respHeaders['retry-after']),
        detail: summarize(parsed),
      });
    }
    return { status: res.statusCode, headers: respHeaders, body: parsed as T, text };
  }
}

/** Retry-After is seconds or an HTTP date. */
export function parseRetryAfter(value: string | undefined, now = Date.now()): number | undefined {
  if (!value) return undefined;
  const secs = Number(value);
  if (Number.isFinite(secs)) return Math.max(0, secs * 1000);
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

function flattenHeaders(h: Record<string, string | string[] | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(h)) if (v !== undefined) out[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : v;
  return out;
}

async function readLimited(body: Dispatcher.ResponseData['body'], limit: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += (chunk as Buffer).length;
    if (size > limit) {
      body.destroy();
      throw new UpstreamError('http', `The response was larger than ${limit} bytes and was refused.`, { status: 413 });
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Query strings can carry tokens; logs keep only origin and path. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.origin}${u.pathname}${u.search ? '?…' : ''}`;
  } catch {
    return '[unparseable url]';
  }
}

function pathOf(url: string): string {
  try {
    return new URL(url).pathname;
  } catch {
    return url;
  }
}

function summarize(body: unknown): string | undefined {
  if (body === undefined || body === '') return undefined;
  const s = typeof body === 'string' ? body : JSON.stringify(body);
  return s.length > 300 ? `${s.slice(0, 300)}…` : s;
}
