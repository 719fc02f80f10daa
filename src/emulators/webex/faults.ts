/**
 * Fault injection and rate limiting, so tests can prove the client absorbs 429s
 * and 5xx. A fault answers the next `count` matching requests with `status`.
 */
export interface FaultSpec {
  /** Regular expression source tested against the request path (e.g. "^/v1/messages$"). */
  pathPattern: string;
  method?: string;
  status: number;
  count: number;
  retryAfterSeconds?: number;
}

export interface RateLimitOptions {
  /** Messages one token may post per window before Webex-style 429s. */
  maxMessages: number;
  windowMs: number;
  retryAfterSeconds?: number;
}

interface ActiveFault extends FaultSpec {
  regex: RegExp;
}

export class FaultBook {
  private faults: ActiveFault[] = [];
  private readonly posts = new Map<string, number[]>();

  constructor(private readonly rateLimit?: RateLimitOptions) {}

  inject(spec: FaultSpec): void {
    this.faults.push({ ...spec, regex: new RegExp(spec.pathPattern) });
  }

  clear(): void {
    this.faults = [];
  }

  /** The fault to serve for this request, consuming one of its uses. */
  take(method: string, path: string): FaultSpec | undefined {
    const fault = this.faults.find((f) => f.count > 0 && f.regex.test(path) && (!f.method || f.method.toUpperCase() === method.toUpperCase()));
    if (!fault) return undefined;
    fault.count--;
    this.faults = this.faults.filter((f) => f.count > 0);
    return fault;
  }

  /** Seconds to wait when this token has posted too many messages in the window, else undefined. */
  rateLimited(token: string, nowMs = Date.now()): number | undefined {
    if (!this.rateLimit) return undefined;
    const { maxMessages, windowMs, retryAfterSeconds } = this.rateLimit;
    const recent = (this.posts.get(token) ?? []).filter((t) => nowMs - t < windowMs);
    if (recent.length >= maxMessages) {
      this.posts.set(token, recent);
      const oldest = recent[0] ?? nowMs;
      return retryAfterSeconds ?? Math.max(1, Math.ceil((oldest + windowMs - nowMs) / 1000));
    }
    recent.push(nowMs);
    this.posts.set(token, recent);
    return undefined;
  }
}
