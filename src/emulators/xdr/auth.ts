import { randomUUID } from 'node:crypto';
import { json, type Reply } from './http-kit.js';

/**
 * The IROH OAuth2 token endpoint and bearer check (xdr-api.md §2): HTTP Basic
 * client id/password, `grant_type=client_credentials`, tokens that expire after
 * `expiresInSeconds` (600 in XDR; shorter here to test renewal).
 */
export interface EmulatorAuthOptions {
  clientId: string;
  clientPassword: string;
  expiresInSeconds: number;
  now: () => number;
}

export class EmulatorAuth {
  private readonly tokens = new Map<string, number>();
  /** Tokens issued since the last reset. */
  issued = 0;

  constructor(private readonly opts: EmulatorAuthOptions) {}

  issue(authorization: string | undefined, body: unknown): Reply {
    const creds = parseBasic(authorization);
    if (!creds || creds.id !== this.opts.clientId || creds.password !== this.opts.clientPassword) {
      return json(401, { error: 'invalid_client', error_description: 'Client authentication failed' });
    }
    const grant = typeof body === 'string' ? new URLSearchParams(body).get('grant_type') : undefined;
    if (grant !== 'client_credentials') {
      return json(400, { error: 'unsupported_grant_type', error_description: 'grant_type must be client_credentials' });
    }
    const token = fakeJwt(this.opts.clientId);
    this.tokens.set(token, this.opts.now() + this.opts.expiresInSeconds * 1000);
    this.issued++;
    return json(200, {
      access_token: token,
      token_type: 'bearer',
      expires_in: this.opts.expiresInSeconds,
      scope: 'enrich:read casebook inspect:read private-intel response',
    });
  }

  /** undefined when the bearer is valid, else the 401 IROH would send. */
  check(authorization: string | undefined): Reply | undefined {
    const m = /^Bearer\s+(\S+)$/i.exec(authorization ?? '');
    if (!m?.[1]) return json(401, { error: 'invalid_request', error_description: 'No JWT found in HTTP Authorization header' });
    const expiresAt = this.tokens.get(m[1]);
    if (expiresAt === undefined || expiresAt <= this.opts.now()) {
      return json(401, { error: 'invalid_token', error_description: 'The access token is invalid or has expired' });
    }
    return undefined;
  }

  /** Every issued token stops working (simulates expiry or a rotated client secret). */
  revokeAll(): void {
    this.tokens.clear();
  }

  reset(): void {
    this.tokens.clear();
    this.issued = 0;
  }
}

function parseBasic(header: string | undefined): { id: string; password: string } | undefined {
  const m = /^Basic\s+(\S+)$/i.exec(header ?? '');
  if (!m?.[1]) return undefined;
  const decoded = Buffer.from(m[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return colon < 0 ? undefined : { id: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

/** Looks like IROH's JWT (issuer "IROH Auth"); nobody verifies the signature. */
function fakeJwt(clientId: string): string {
  const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
  return `${b64({ alg: 'RS256', typ: 'JWT' })}.${b64({ iss: 'IROH Auth', sub: clientId, jti: randomUUID() })}.${randomUUID().replaceAll('-', '')}`;
}
