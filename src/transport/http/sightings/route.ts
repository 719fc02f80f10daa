import { isUtf8 } from 'node:buffer';
import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import type { Clock } from '../../../core/clock.js';
import { NotFoundError, SightlineError } from '../../../core/errors.js';
import type { Logger } from '../../../core/logger.js';
import type { SightingIntake } from '../../../domain/correlation/intake.js';
import type { SightingRefusal, SightingsRecorder } from '../../../observability/metrics.js';
import { httpErrorHandler, toHttpResponse } from '../errors.js';
import {
  ENDPOINT_OFF_MESSAGE,
  SIGNATURE_HEADER,
  TIMESTAMP_HEADER,
  hasCredentials,
  missingReason,
  sightingsAuthEnabled,
  verifySightingsRequest,
  type AuthHeaders,
  type SightingsAuthConfig,
} from './auth.js';
import { parseSightingsBody, type ItemProblem } from './schemas.js';

/**
 * `POST /api/v1/sightings`: authenticate, validate item by item, answer 202 once the
 * good items are durable (SightingIntake), and let processing happen after the answer
 * (STYLE.md §3). Status codes: 202 taken, 400 not JSON, 401 auth, 404 endpoint off,
 * 413 too big / too many, 415 not JSON content type, 422 nothing valid.
 */
export const SIGHTINGS_PATH = '/api/v1/sightings';
export const DEFAULT_BODY_LIMIT_BYTES = 5 * 1024 * 1024;

export interface SightingsRouterOptions {
  intake: SightingIntake;
  auth: SightingsAuthConfig;
  bodyLimitBytes?: number;
  maxBatch: number;
  logger: Logger;
  clock: Clock;
  /** Counts accepted, duplicate and refused sightings when metrics are on. */
  metrics?: SightingsRecorder;
}

export interface SightingsAccepted {
  accepted: number;
  duplicates: number;
  rejected: ItemProblem[];
  /** The dedupe key of every valid sighting, in order: the sender's id when it gave one. */
  ids: string[];
}

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

export function createSightingsRouter(opts: SightingsRouterOptions): Router {
  const log = opts.logger.child({ component: 'sightings' });
  const router = express.Router();
  const rawBody = express.raw({ type: '*/*', limit: opts.bodyLimitBytes ?? DEFAULT_BODY_LIMIT_BYTES });

  const gate = (req: Request, res: Response, next: NextFunction): void => {
    if (!sightingsAuthEnabled(opts.auth)) throw new NotFoundError(ENDPOINT_OFF_MESSAGE);
    const headers = authHeaders(req);
    if (!hasCredentials(opts.auth, headers)) {
      res.setHeader('WWW-Authenticate', 'Bearer');
      throw new Unauthorized(missingReason(opts.auth));
    }
    // A bearer token needs no body: refuse a wrong one before reading megabytes.
    if (!(opts.auth.hmacSecret && headers.signature)) assertAuthorised(headers, Buffer.alloc(0));
    if (!req.is(['application/json', 'application/*+json'])) {
      throw new SightlineError('validation_failed', 'Content-Type must be application/json: send the sightings as a JSON body.', { httpStatus: 415 });
    }
    const charset = charsetOf(req.get('content-type'));
    if (charset !== undefined && !/^utf-?8$/i.test(charset)) {
      // JSON between systems is UTF-8 (RFC 8259 §8.1); decoding utf-16 or latin1 as UTF-8 would garble targets and IOCs.
      throw new SightlineError('validation_failed', `charset=${charset} is not supported: send the body encoded as UTF-8 (charset=utf-8, or no charset).`, { httpStatus: 415 });
    }
    next();
  };

  const assertAuthorised = (headers: AuthHeaders, body: Buffer): void => {
    const result = verifySightingsRequest(opts.auth, headers, body, opts.clock.now());
    if (!result.ok) throw new Unauthorized(result.reason);
  };

  router.post(SIGHTINGS_PATH, gate, rawBody, async (req: Request, res: Response) => {
    const body: Buffer = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    const headers = authHeaders(req);
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
    opts.metrics?.accepted(accepted);
    opts.metrics?.duplicates(duplicates);
    opts.metrics?.refused('invalid', itemsIn(parsed.problems));
    log.debug({ accepted, duplicates, rejected: parsed.problems.length }, 'sightings accepted');
    const answer: SightingsAccepted = { accepted, duplicates, rejected: parsed.problems, ids: parsed.items.map((i) => i.dedupeKey) };
    res.status(202).json(answer);
  });

  router.all(SIGHTINGS_PATH, (_req: Request, res: Response) => {
    res.setHeader('Allow', 'POST');
    res.status(405).json({ error: 'method_not_allowed', message: `Use POST to send sightings to ${SIGHTINGS_PATH}.` });
  });
  if (opts.metrics) {
    const metrics = opts.metrics;
    router.use(SIGHTINGS_PATH, (err: unknown, _req: Request, _res: Response, next: NextFunction) => {
      const { status } = toHttpResponse(err);
      const reason = REFUSAL_BY_STATUS[status];
      // 404 is the endpoint being off, not a refused sighting.
      if (status !== 404) metrics.refused(reason ?? 'other', err instanceof ItemsRejected ? Math.max(1, itemsIn(err.problems)) : 1);
      next(err);
    });
  }
  router.use(httpErrorHandler(log));
  return router;
}

const REFUSAL_BY_STATUS: Record<number, SightingRefusal> = { 400: 'malformed_json', 401: 'unauthorized', 413: 'too_large', 415: 'not_json', 422: 'invalid' };

/** Items with at least one problem (an item can have several). */
function itemsIn(problems: ItemProblem[]): number {
  return new Set(problems.map((p) => p.index)).size;
}

function authHeaders(req: Request): AuthHeaders {
  return {
    signature: req.get(SIGNATURE_HEADER),
    timestamp: req.get(TIMESTAMP_HEADER),
    authorization: req.get('authorization'),
  };
}

/** The charset parameter of a Content-Type header, unquoted; undefined when there is none. */
function charsetOf(contentType: string | undefined): string | undefined {
  const m = /;\s*charset\s*=\s*"?([^";\s]+)"?/i.exec(contentType ?? '');
  return m?.[1];
}

function decodeJson(body: Buffer): unknown {
  // Invalid UTF-8 would silently become U+FFFD and be counted as a different target or IOC.
  if (!isUtf8(body)) throw new SightlineError('validation_failed', 'The body is not valid UTF-8: send it encoded as UTF-8.', { httpStatus: 400 });
  let text = body.toString('utf8');
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  if (text.trim() === '') throw new SightlineError('validation_failed', 'The body is empty: send a sighting object or an array of them.', { httpStatus: 400 });
  try {
    return JSON.parse(text);
  } catch (err) {
    const at = jsonErrorPosition(text);
    const { line, column } = lineAndColumn(text, at);
    throw new SightlineError('validation_failed', `The body is not valid JSON: error at position ${at} (line ${line}, column ${column}); fix the sender's serialisation and resend.`, {
      httpStatus: 400,
      cause: err,
    });
  }
}

function lineAndColumn(text: string, at: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = text.indexOf('\n'); i !== -1 && i < at; i = text.indexOf('\n', i + 1)) {
    line++;
    lineStart = i + 1;
  }
  return { line, column: at - lineStart + 1 };
}

const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;

/**
 * Where JSON.parse gave up, as a character offset. Node 20's messages often carry no
 * position, so a small iterative scanner (no recursion: deep nesting cannot overflow
 * the stack) finds it. Runs only on bodies that already failed to parse.
 */
export function jsonErrorPosition(text: string): number {
  const stack: string[] = [];
  let state: 'value' | 'valueOrEnd' | 'key' | 'keyOrEnd' | 'after' = 'value';
  let i = 0;
  const skipWs = () => {
    while (i < text.length && ' \t\n\r'.includes(text[i]!)) i++;
  };
  for (;;) {
    skipWs();
    if (i >= text.length) return i;
    const ch = text[i]!;
    if (state === 'after') {
      if (stack.length === 0) return i;
      const top = stack.at(-1);
      if (ch === ',') state = top === '{' ? 'key' : 'value';
      else if ((ch === '}' && top === '{') || (ch === ']' && top === '[')) stack.pop();
      else return i;
      i++;
    } else if (state === 'key' || state === 'keyOrEnd') {
      if (state === 'keyOrEnd' && ch === '}') {
        stack.pop();
        i++;
        state = 'after';
        continue;
      }
      if (ch !== '"') return i;
      const end = stringEnd(text, i);
      if (end < 0) return -end - 1;
      i = end;
      skipWs();
      if (text[i] !== ':') return i;
      i++;
      state = 'value';
    } else {
      if (state === 'valueOrEnd' && ch === ']') {
        stack.pop();
        i++;
        state = 'after';
        continue;
      }
      state = 'after';
      if (ch === '{' || ch === '[') {
        stack.push(ch);
        state = ch === '{' ? 'keyOrEnd' : 'valueOrEnd';
        i++;
      } else if (ch === '"') {
        const end = stringEnd(text, i);
        if (end < 0) return -end - 1;
        i = end;
      } else {
        const literal = ['true', 'false', 'null'].find((l) => text.startsWith(l, i));
        NUMBER.lastIndex = i;
        const number = NUMBER.exec(text);
        if (literal) i += literal.length;
        else if (number) i += number[0].length;
        else return i;
      }
    }
  }
}

/** Index just past the closing quote, or -(error index) - 1. */
function stringEnd(text: string, start: number): number {
  for (let i = start + 1; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 34) return i + 1;
    if (c < 0x20) return -i - 1;
    if (c === 92) {
      const next = text[i + 1];
      if (next === 'u') {
        if (!/^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) return -(i + 1) - 1;
        i += 5;
      } else if (next !== undefined && '"\\/bfnrt'.includes(next)) i++;
      else return -(i + 1) - 1;
    }
  }
  return -text.length - 1;
}
