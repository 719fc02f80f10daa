import { z } from 'zod';
import { UpstreamError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import { HttpClient, type HttpClientOptions } from '../http.js';

/**
 * OAuth2 client-credentials tokens for every XDR API family (xdr-api.md §2).
 * One token is cached and shared; it is renewed `renewBeforeMs` before it
 * expires, and concurrent callers wait on the same in-flight token request so a
 * burst of batches never fetches N tokens.
 */
export const BAD_CREDENTIALS_MESSAGE =
  'XDR rejected the client credentials: check XDR_CLIENT_ID and XDR_CLIENT_PASSWORD (and XDR_REGION)';

const tokenResponseSchema = z.looseObject({
  access_token: z.string().min(1),
  token_type: z.string().optional(),
  expires_in: z.coerce.number().positive().optional(),
  scope: z.string().optional(),
});

export interface XdrTokenProviderOptions {
  tokenUrl: string;
  clientId: string;
  clientPassword: string;
  logger?: Logger;
  /** Milliseconds since the epoch; injectable so renewal can be tested without waiting. */
  now?: () => number;
  renewBeforeMs?: number;
  /** Retry policy, sleep and dispatcher for the token client (tests, benchmarks). */
  httpOptions?: Pick<HttpClientOptions, 'retry' | 'sleep' | 'dispatcher'>;
  timeoutMs?: number;
}

/**
 * A failed token request, after the token client's own retries. Not retryable by
 * the API call that needed the token, so retries never multiply.
 */
export class XdrTokenError extends UpstreamError {
  override get retryable(): boolean {
    return false;
  }
}

interface CachedToken {
  value: string;
  renewAt: number;
}

/** XDR documents 600 s; used when a token answer leaves `expires_in` out. */
const DEFAULT_EXPIRES_IN_S = 600;

export class XdrTokenProvider {
  private readonly opts: XdrTokenProviderOptions;
  private readonly http: HttpClient;
  private readonly now: () => number;
  private cached: CachedToken | undefined;
  private inFlight: Promise<string> | undefined;
  /** Token requests sent (attempts, including retries). */
  get requestCount(): number {
    return this.http.attempts;
  }

  constructor(opts: XdrTokenProviderOptions) {
    this.opts = opts;
    this.now = opts.now ?? Date.now;
    this.http = new HttpClient({
      service: 'XDR',
      logger: opts.logger,
      defaultTimeoutMs: opts.timeoutMs,
      describeError: (status) => (status === 400 || status === 401 || status === 403 ? BAD_CREDENTIALS_MESSAGE : undefined),
      ...opts.httpOptions,
    });
  }

  /** A valid bearer token, from the cache when it is not close to expiry. */
  async token(): Promise<string> {
    if (this.cached && this.now() < this.cached.renewAt) return this.cached.value;
    this.inFlight ??= this.fetchToken().finally(() => {
      this.inFlight = undefined;
    });
    return this.inFlight;
  }

  /**
   * Forgets the cached token after XDR answered 401 to it. Passing the token that
   * failed avoids throwing away a fresher one another caller already fetched.
   */
  invalidate(failedToken?: string): void {
    if (failedToken === undefined || this.cached?.value === failedToken) this.cached = undefined;
  }

  private async fetchToken(): Promise<string> {
    const basic = Buffer.from(`${this.opts.clientId}:${this.opts.clientPassword}`).toString('base64');
    const res = await this.http
      .send({
        method: 'POST',
        url: this.opts.tokenUrl,
        headers: { authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded' },
        body: 'grant_type=client_credentials',
        // Asking for a token changes nothing remotely, so 5xx and dropped connections may be retried.
        idempotent: true,
      })
      .catch((err: unknown) => {
        if (!(err instanceof UpstreamError)) throw err;
        throw new XdrTokenError('XDR', err.userMessage, { status: err.status, retryAfterMs: err.retryAfterMs, trackingId: err.trackingId, cause: err });
      });
    const parsed = tokenResponseSchema.safeParse(res.body);
    if (!parsed.success) {
      throw new XdrTokenError('XDR', 'XDR answered the token request without an access token: check XDR_TOKEN_URL points at /iroh/oauth2/token.', {
        status: res.status,
      });
    }
    const expiresInMs = (parsed.data.expires_in ?? DEFAULT_EXPIRES_IN_S) * 1000;
    const renewBefore = Math.min(this.opts.renewBeforeMs ?? 60_000, expiresInMs / 2);
    this.cached = { value: parsed.data.access_token, renewAt: this.now() + expiresInMs - renewBefore };
    this.opts.logger?.debug({ expiresInS: expiresInMs / 1000, scope: parsed.data.scope }, 'XDR access token obtained');
    return parsed.data.access_token;
  }
}
