/**
 * Fault injection for the XDR emulator: per-endpoint latency, error statuses
 * (5xx, 429 with Retry-After), dropped connections, and an org-wide rate limit
 * like XDR's "N requests per window" (xdr-api.md §2). Randomness is seeded so
 * a failing test or benchmark can be replayed.
 */
export interface FaultRule {
  /** Path prefix (string) or regular expression tested against the path without query. */
  match: string | RegExp;
  method?: string;
  /** Delay before answering, milliseconds. */
  latencyMs?: number;
  /** Answer this status instead of handling the request (e.g. 503, 500, 429). */
  status?: number;
  /** Sent as Retry-After with a 429 or 503. */
  retryAfterSeconds?: number;
  /** Destroy the socket without answering. */
  drop?: boolean;
  /** Probability (0–1) that the rule fires on a matching request; default 1. */
  rate?: number;
  /** Fire on the next N matching requests only, then retire. */
  times?: number;
}

export interface FaultDecision {
  latencyMs: number;
  status?: number;
  retryAfterSeconds?: number;
  drop?: boolean;
}

export class FaultInjector {
  private rules: { rule: FaultRule; left: number }[] = [];
  private readonly random: () => number;

  constructor(seed = 42) {
    this.random = mulberry32(seed);
  }

  /** Adds a rule; the returned function removes it. */
  add(rule: FaultRule): () => void {
    const entry = { rule, left: rule.times ?? Infinity };
    this.rules.push(entry);
    return () => {
      this.rules = this.rules.filter((e) => e !== entry);
    };
  }

  clear(): void {
    this.rules = [];
  }

  decide(method: string, path: string): FaultDecision {
    const decision: FaultDecision = { latencyMs: 0 };
    for (const entry of this.rules) {
      const { rule } = entry;
      if (entry.left <= 0 || (rule.method && rule.method.toUpperCase() !== method) || !matches(rule.match, path)) continue;
      if ((rule.rate ?? 1) < 1 && this.random() >= (rule.rate ?? 1)) continue;
      entry.left--;
      decision.latencyMs = Math.max(decision.latencyMs, rule.latencyMs ?? 0);
      if (decision.status === undefined && !decision.drop) {
        if (rule.drop) decision.drop = true;
        else if (rule.status !== undefined) {
          decision.status = rule.status;
          decision.retryAfterSeconds = rule.retryAfterSeconds;
        }
      }
    }
    this.rules = this.rules.filter((e) => e.left > 0);
    return decision;
  }
}

function matches(m: string | RegExp, path: string): boolean {
  return typeof m === 'string' ? path.startsWith(m) : m.test(path);
}

export interface RateLimitOptions {
  /** Requests allowed per window (XDR documents 8000 per hour per organisation). */
  requests: number;
  windowMs: number;
}

export interface RateLimitVerdict {
  limited: boolean;
  limit: number;
  remaining: number;
  retryAfterSeconds: number;
}

/** Fixed-window counter; the window starts with the first request after the previous one ended. */
export class RateLimiter {
  private windowStart = 0;
  private used = 0;
  constructor(
    private readonly opts: RateLimitOptions,
    private readonly now: () => number = Date.now,
  ) {}

  take(): RateLimitVerdict {
    const t = this.now();
    if (t - this.windowStart >= this.opts.windowMs) {
      this.windowStart = t;
      this.used = 0;
    }
    const waitMs = this.windowStart + this.opts.windowMs - t;
    // Real XDR sends whole seconds; sub-second windows (benchmarks) get a fractional value our client understands.
    const retryAfterSeconds = this.opts.windowMs >= 1000 ? Math.max(1, Math.ceil(waitMs / 1000)) : Math.max(0.001, Math.round(waitMs) / 1000);
    if (this.used >= this.opts.requests) return { limited: true, limit: this.opts.requests, remaining: 0, retryAfterSeconds };
    this.used++;
    return { limited: false, limit: this.opts.requests, remaining: this.opts.requests - this.used, retryAfterSeconds };
  }
}

/** Small deterministic PRNG (public-domain mulberry32). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
