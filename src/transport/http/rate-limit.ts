import type { ServerResponse } from 'node:http';
import type { ClientRateLimitInfo, Store } from 'express-rate-limit';

/**
 * Requests per client address per fixed window, counted the way express-rate-limit's
 * MemoryStore counts them: a client's window starts at its first request and lasts
 * `windowMs`; past `limit` hits in it, requests are refused until it ends.
 *
 * One instance serves both doors into the HTTP server: it is express-rate-limit's store
 * (every express path) and the node:http fast path counts in it synchronously, so a client
 * has one budget whichever path it calls, and the fast path pays no promise or middleware
 * chain per request. Memory stays bounded by the clients of the last two windows.
 */
export class AddressRateLimiter implements Store {
  readonly localKeys = true;
  private current = new Map<string, Window>();
  private previous = new Map<string, Window>();
  private rotateAt: number;
  private readonly policy: string;

  constructor(
    readonly limit: number,
    readonly windowMs: number,
    private readonly now: () => number = Date.now,
  ) {
    this.rotateAt = now() + windowMs;
    this.policy = `${limit};w=${Math.ceil(windowMs / 1000)}`;
  }

  /** Counts one request from `key`. */
  hit(key: string): RateLimitVerdict {
    const now = this.now();
    const w = this.windowOf(key, now);
    if (w.resetAt <= now) {
      w.hits = 0;
      w.resetAt = now + this.windowMs;
    }
    w.hits++;
    return { allowed: w.hits <= this.limit, remaining: Math.max(this.limit - w.hits, 0), resetSeconds: Math.max(0, Math.ceil((w.resetAt - now) / 1000)) };
  }

  /**
   * The fast path's version of the middleware: sets the draft-7 headers express-rate-limit
   * sets on every answer and, over the limit, answers 429 with Retry-After and the same
   * JSON body. Returns false when it answered.
   */
  admit(key: string, res: ServerResponse): boolean {
    const v = this.hit(key);
    res.setHeader('RateLimit-Policy', this.policy);
    res.setHeader('RateLimit', `limit=${this.limit}, remaining=${v.remaining}, reset=${v.resetSeconds}`);
    if (v.allowed) return true;
    res.setHeader('Retry-After', String(v.resetSeconds));
    const body = JSON.stringify(RATE_LIMITED);
    res.writeHead(429, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(body) });
    res.end(body);
    return false;
  }

  // express-rate-limit's Store interface.
  increment(key: string): ClientRateLimitInfo {
    this.hit(key);
    const w = this.current.get(key)!;
    return { totalHits: w.hits, resetTime: new Date(w.resetAt) };
  }

  decrement(key: string): void {
    const w = this.current.get(key) ?? this.previous.get(key);
    if (w && w.hits > 0) w.hits--;
  }

  resetKey(key: string): void {
    this.current.delete(key);
    this.previous.delete(key);
  }

  resetAll(): void {
    this.current.clear();
    this.previous.clear();
  }

  /** Clients tracked now (both generations); for tests and metrics. */
  size(): number {
    return this.current.size + this.previous.size;
  }

  private windowOf(key: string, now: number): Window {
    if (now >= this.rotateAt) {
      // A client not seen for a whole window has an expired window: dropping the older generation forgets only those.
      this.previous = now >= this.rotateAt + this.windowMs ? new Map() : this.current;
      this.current = new Map();
      this.rotateAt = now + this.windowMs;
    }
    let w = this.current.get(key);
    if (w) return w;
    w = this.previous.get(key);
    if (w) this.previous.delete(key);
    else w = { hits: 0, resetAt: now + this.windowMs };
    this.current.set(key, w);
    return w;
  }
}

interface Window {
  hits: number;
  resetAt: number;
}

export interface RateLimitVerdict {
  allowed: boolean;
  remaining: number;
  /** Seconds until the client's window ends (what `reset=` and Retry-After say). */
  resetSeconds: number;
}

export const RATE_LIMITED = { error: 'rate_limited', message: 'Too many requests from this address; slow down and retry after the time in Retry-After.' } as const;
