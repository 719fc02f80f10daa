import { createHmac, hash, timingSafeEqual } from 'node:crypto';

/**
 * Who may post sightings. Two ways in, either is enough:
 *  - HMAC-SHA256 over `<timestamp>.<raw body>` with SIGHTINGS_HMAC_SECRET, sent as
 *    `X-Sightline-Signature: sha256=<hex>` plus `X-Sightline-Timestamp: <unix seconds>`;
 *    a timestamp more than 5 minutes away from our clock is refused (replay);
 *  - `Authorization: Bearer <SIGHTINGS_BEARER_TOKEN>`.
 * With neither configured the endpoint is OFF — never open (STYLE.md: not grammY's
 * "accept unsigned webhooks when no secret is set").
 *
 * "Raw body" means the bytes express hands us after undoing any Content-Encoding.
 */
export interface SightingsAuthConfig {
  hmacSecret?: string;
  bearerToken?: string;
}

export const SIGNATURE_HEADER = 'x-sightline-signature';
export const TIMESTAMP_HEADER = 'x-sightline-timestamp';
export const MAX_CLOCK_SKEW_SECONDS = 5 * 60;

export const ENDPOINT_OFF_MESSAGE =
  'The sightings endpoint is off: set SIGHTINGS_HMAC_SECRET or SIGHTINGS_BEARER_TOKEN (16+ characters) to turn it on.';

export type AuthResult = { ok: true; method: 'hmac' | 'bearer' } | { ok: false; reason: string };

export interface AuthHeaders {
  signature?: string;
  timestamp?: string;
  authorization?: string;
}

export function sightingsAuthEnabled(config: SightingsAuthConfig): boolean {
  return Boolean(config.hmacSecret || config.bearerToken);
}

/** True when the request carries something that could authenticate it; lets the route refuse before reading the body. */
export function hasCredentials(config: SightingsAuthConfig, headers: AuthHeaders): boolean {
  return Boolean((config.hmacSecret && headers.signature) || (config.bearerToken && bearerOf(headers.authorization)));
}

export function verifySightingsRequest(config: SightingsAuthConfig, headers: AuthHeaders, rawBody: Buffer, now: Date): AuthResult {
  if (config.hmacSecret && headers.signature) return verifyHmac(config.hmacSecret, headers, rawBody, now);
  const presented = bearerOf(headers.authorization);
  if (config.bearerToken && presented !== undefined) {
    return sameSecret(presented, config.bearerToken)
      ? { ok: true, method: 'bearer' }
      : { ok: false, reason: 'The bearer token is wrong: send the value of SIGHTINGS_BEARER_TOKEN.' };
  }
  return { ok: false, reason: missingReason(config) };
}

function verifyHmac(secret: string, headers: AuthHeaders, rawBody: Buffer, now: Date): AuthResult {
  const ts = headers.timestamp?.trim() ?? '';
  if (!/^\d{1,12}$/.test(ts)) {
    return { ok: false, reason: 'X-Sightline-Timestamp is missing or not unix seconds: sign `<timestamp>.<body>` and send that timestamp.' };
  }
  if (Math.abs(now.getTime() / 1000 - Number(ts)) > MAX_CLOCK_SKEW_SECONDS) {
    return { ok: false, reason: 'X-Sightline-Timestamp is more than 5 minutes from our clock: sign each request when sending it and check the sender clock.' };
  }
  const match = /^sha256=([0-9a-f]{64})$/i.exec(headers.signature?.trim() ?? '');
  if (!match) return { ok: false, reason: 'X-Sightline-Signature must look like sha256=<64 hex digits>.' };
  const expected = hmacDigest(secret, rawBody, ts);
  const given = Buffer.from(match[1]!, 'hex');
  return given.length === expected.length && timingSafeEqual(given, expected)
    ? { ok: true, method: 'hmac' }
    : { ok: false, reason: 'The signature does not match: sign `<timestamp>.<raw body>` with HMAC-SHA256 and SIGHTINGS_HMAC_SECRET.' };
}

/** The headers a client sends: `X-Sightline-Signature: sha256=<hex>` over `<timestamp>.<body>`. */
export function signSightingsBody(secret: string, body: string | Buffer, timestamp: number): string {
  return `sha256=${hmacDigest(secret, typeof body === 'string' ? Buffer.from(body) : body, String(timestamp)).toString('hex')}`;
}

/** Both headers for a body signed now: what a client, a test or the sandbox attaches to a POST. */
export function signedSightingsHeaders(secret: string, body: string | Buffer, now: Date = new Date()): Record<string, string> {
  const timestamp = Math.floor(now.getTime() / 1000);
  return { 'X-Sightline-Signature': signSightingsBody(secret, body, timestamp), 'X-Sightline-Timestamp': String(timestamp) };
}

function hmacDigest(secret: string, body: Buffer, timestamp: string): Buffer {
  return createHmac('sha256', secret).update(`${timestamp}.`).update(body).digest();
}

/** Hashing both sides first gives equal-length buffers, so neither content nor length leaks through timing. */
function sameSecret(presented: string, expected: string): boolean {
  const a = hash('sha256', presented, 'buffer');
  const b = hash('sha256', expected, 'buffer');
  return timingSafeEqual(a, b);
}

function bearerOf(header: string | undefined): string | undefined {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  return m?.[1];
}

/** The 401 sentence when a request carries no usable credentials: names the ways in that are configured. */
export function missingReason(config: SightingsAuthConfig): string {
  const ways = [
    config.hmacSecret ? 'an X-Sightline-Signature with X-Sightline-Timestamp (HMAC-SHA256 with SIGHTINGS_HMAC_SECRET)' : undefined,
    config.bearerToken ? 'Authorization: Bearer <SIGHTINGS_BEARER_TOKEN>' : undefined,
  ].filter(Boolean);
  return `Credentials are missing: send ${ways.join(' or ')}.`;
}
