import type { IncomingMessage, ServerResponse } from 'node:http';
import typeIs from 'type-is';
import { NotFoundError, SightlineError } from '../../../core/errors.js';
import type { SightingRefusal } from '../../../observability/metrics.js';
import { toHttpResponse, type HttpErrorBody } from '../errors.js';
import { pathOf } from '../fast-route.js';
import {
  ENDPOINT_OFF_MESSAGE,
  SIGNATURE_HEADER,
  TIMESTAMP_HEADER,
  hasCredentials,
  missingReason,
  sightingsAuthEnabled,
  verifySightingsRequest,
  type AuthHeaders,
} from './auth.js';
import { charsetOf, decodeJson } from './json-body.js';
import { createBodyReader } from './read-body.js';
import { parseSightingsBody, type ItemProblem } from './schemas.js';
import { DEFAULT_BODY_LIMIT_BYTES, SIGHTINGS_PATH, type SightingsAccepted, type SightingsRouterOptions } from './options.js';

/**
 * `POST /api/v1/sightings` on plain node:http: authenticate, validate item by item, answer
 * 202 once the good items are durable (SightingIntake), and let processing happen after the
 * answer (STYLE.md §3). Status codes: 202 taken, 400 not JSON, 401 auth, 404 endpoint off,
 * 405 other methods, 413 too big / too many, 415 not JSON content type, 422 nothing valid.
 *
 * Written against node's request and response (express's extend them) so the HTTP server
 * can serve it before express — express's router, middleware chain and body-parser were
 * about a quarter of the CPU per sighting — and the express router serves the same code.
 */
export type SightingsHandler = (req: IncomingMessage, res: ServerResponse) => void;

class Unauthorized extends SightlineError {
  constructor(reason: string) {
    super('unauthorized', reason, { httpStatus: 401 });
  }
}

/** A 422 whose problems are per item: `{index, field, reason}`. */
class ItemsRejected extends SightlineError {
  constructor(message: string, readonly problems: ItemProblem[]) {
    super('validation_failed', message, { httpStatus: 422 });
  }
}

const JSON_TYPES = ['application/json', 'application/*+json'];
const REFUSAL_BY_STATUS: Record<number, SightingRefusal> = { 400: 'malformed_json', 401: 'unauthorized', 413: 'too_large', 415: 'not_json', 422: 'invalid' };
const METHOD_NOT_ALLOWED = { error: 'method_not_allowed', message: `Use POST to send sightings to ${SIGHTINGS_PATH}.` };
const NO_BODY = Buffer.alloc(0);

export function createSightingsHandler(opts: SightingsRouterOptions): SightingsHandler {
  const log = opts.logger.child({ component: 'sightings' });
  const readBody = createBodyReader(opts.bodyLimitBytes ?? DEFAULT_BODY_LIMIT_BYTES);
  const metrics = opts.metrics;

  const assertAuthorised = (headers: AuthHeaders, body: Buffer): void => {
    const result = verifySightingsRequest(opts.auth, headers, body, opts.clock.now());
    if (!result.ok) throw new Unauthorized(result.reason);
  };

  /** Everything that can be refused before reading the body. */
  const gate = (req: IncomingMessage, res: ServerResponse, headers: AuthHeaders): void => {
    if (!sightingsAuthEnabled(opts.auth)) throw new NotFoundError(ENDPOINT_OFF_MESSAGE);
    if (!hasCredentials(opts.auth, headers)) {
      res.setHeader('WWW-Authenticate', 'Bearer');
      throw new Unauthorized(missingReason(opts.auth));
    }
    // A bearer token needs no body: refuse a wrong one before reading megabytes.
    if (!(opts.auth.hmacSecret && headers.signature)) assertAuthorised(headers, NO_BODY);
    const contentType = req.headers['content-type'];
    if (!isJsonBody(req, contentType)) {
      throw new SightlineError('validation_failed', 'Content-Type must be application/json: send the sightings as a JSON body.', { httpStatus: 415 });
    }
    const charset = charsetOf(contentType);
    if (charset !== undefined && !/^utf-?8$/i.test(charset)) {
      // JSON between systems is UTF-8 (RFC 8259 §8.1); decoding utf-16 or latin1 as UTF-8 would garble targets and IOCs.
      throw new SightlineError('validation_failed', `charset=${charset} is not supported: send the body encoded as UTF-8 (charset=utf-8, or no charset).`, { httpStatus: 415 });
    }
  };

  const post = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const headers = authHeaders(req);
    gate(req, res, headers);
    const body = await readBody(req, res);
    if (opts.auth.hmacSecret && headers.signature) assertAuthorised(headers, body);
    const decoded = decodeJson(body);
    const count = Array.isArray(decoded) ? decoded.length : 1;
    if (count > opts.maxBatch) {
      throw new SightlineError('payload_too_large', `The body holds ${count} sightings; send at most ${opts.maxBatch} per request (SIGHTINGS_MAX_BATCH).`, { httpStatus: 413 });
    }
    if (count === 0) throw new ItemsRejected('The body is an empty array: send at least one sighting.', []);
    const parsed = parseSightingsBody(decoded, { now: opts.clock.now() });
    if (parsed.items.length === 0) {
      log.debug({ problems: parsed.problems.length }, 'sightings refused');
      throw new ItemsRejected(`None of the ${count} sighting(s) could be taken: fix the fields listed in problems and resend.`, parsed.problems);
    }
    const { accepted, duplicates } = await opts.intake.accept(parsed.items);
    metrics?.accepted(accepted);
    metrics?.duplicates(duplicates);
    metrics?.refused('invalid', itemsIn(parsed.problems));
    log.debug({ accepted, duplicates, rejected: parsed.problems.length }, 'sightings accepted');
    const answer: SightingsAccepted = { accepted, duplicates, rejected: parsed.problems, ids: parsed.items.map((i) => i.dedupeKey) };
    sendJson(res, 202, answer);
  };

  const refuse = (req: IncomingMessage, res: ServerResponse, err: unknown): void => {
    const response = toHttpResponse(err);
    // 404 is the endpoint being off, not a refused sighting.
    if (metrics && response.status !== 404) {
      metrics.refused(REFUSAL_BY_STATUS[response.status] ?? 'other', err instanceof ItemsRejected ? Math.max(1, itemsIn(err.problems)) : 1);
    }
    const path = pathOf(req.url);
    if (response.status >= 500) log.error({ err, method: req.method, path }, 'request failed');
    else log.debug({ status: response.status, error: response.body.error, path }, 'request refused');
    if (res.headersSent) {
      res.destroy();
      return;
    }
    sendJson(res, response.status, response.body);
  };

  return (req, res) => {
    if (req.method !== 'POST') {
      res.setHeader('Allow', 'POST');
      sendJson(res, 405, METHOD_NOT_ALLOWED);
      return;
    }
    post(req, res).catch((err: unknown) => refuse(req, res, err));
  };
}

/** What express's `req.is(['application/json', 'application/*+json'])` says, without parsing the common exact header. */
function isJsonBody(req: IncomingMessage, contentType: string | undefined): boolean {
  if (contentType === 'application/json') return typeIs.hasBody(req);
  return Boolean(typeIs(req, JSON_TYPES));
}

function authHeaders(req: IncomingMessage): AuthHeaders {
  return {
    signature: headerOf(req, SIGNATURE_HEADER),
    timestamp: headerOf(req, TIMESTAMP_HEADER),
    authorization: req.headers.authorization,
  };
}

function headerOf(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v.join(', ') : v;
}

/** Items with at least one problem (an item can have several). */
function itemsIn(problems: ItemProblem[]): number {
  if (problems.length === 0) return 0;
  return new Set(problems.map((p) => p.index)).size;
}

/** What express's `res.status(s).json(body)` sends (no ETag: answers here are never cached). */
function sendJson(res: ServerResponse, status: number, body: SightingsAccepted | HttpErrorBody | typeof METHOD_NOT_ALLOWED): void {
  const text = JSON.stringify(body);
  res.statusCode = status;
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('Content-Length', Buffer.byteLength(text));
  res.end(text);
}
