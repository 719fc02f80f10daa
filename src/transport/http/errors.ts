import type { ErrorRequestHandler, Response } from 'express';
import { SightlineError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';

/**
 * One shape for every error an HTTP caller sees: `{error: code, message: sentence, problems?}`.
 * The message says what to do; internals (stack, cause, paths) stay in the log.
 */
export interface HttpErrorBody {
  error: string;
  message: string;
  problems?: unknown[];
}

export interface HttpErrorResponse {
  status: number;
  body: HttpErrorBody;
}

const INTERNAL: HttpErrorResponse = {
  status: 500,
  body: { error: 'internal', message: 'Something went wrong inside Sightline; the details are in its log.' },
};

/** Errors raised by express's body parsers (http-errors), recognised by their `type`. */
interface ParserError {
  status?: number;
  statusCode?: number;
  type?: string;
  limit?: number;
  expose?: boolean;
}

export function toHttpResponse(err: unknown): HttpErrorResponse {
  if (err instanceof SightlineError) {
    const problems = (err as { problems?: unknown }).problems;
    const body: HttpErrorBody = { error: err.code, message: err.userMessage };
    if (Array.isArray(problems) && problems.length > 0) body.problems = problems;
    return { status: err.httpStatus, body };
  }
  return parserErrorResponse(err) ?? INTERNAL;
}

function parserErrorResponse(err: unknown): HttpErrorResponse | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const e = err as ParserError;
  const status = e.status ?? e.statusCode;
  switch (e.type) {
    case 'entity.too.large':
      return reply(413, 'payload_too_large', `The body is larger than the ${e.limit ?? 'configured'}-byte limit: send fewer sightings per request.`);
    case 'entity.parse.failed':
      return reply(400, 'invalid_json', 'The body is not valid JSON: check the sender serialises it with a JSON library.');
    case 'encoding.unsupported':
    case 'charset.unsupported':
      return reply(415, 'unsupported_media_type', 'The body encoding or charset is not supported: send UTF-8 JSON, optionally gzip- or deflate-compressed.');
    case 'request.aborted':
      return reply(400, 'request_aborted', 'The client closed the connection before the body was complete: resend it.');
    case 'request.size.invalid':
      return reply(400, 'bad_request', 'The body length does not match Content-Length: resend it.');
    default:
      if (e.expose === true && typeof status === 'number' && status >= 400 && status < 500) {
        return reply(status, 'bad_request', 'The request could not be read: check its headers and body.');
      }
      return undefined;
  }
}

function reply(status: number, error: string, message: string): HttpErrorResponse {
  return { status, body: { error, message } };
}

export function sendHttpError(res: Response, response: HttpErrorResponse): void {
  res.status(response.status).json(response.body);
}

/** Last middleware of a router or app: renders any error as JSON; unknown ones as a bare 500. */
export function httpErrorHandler(logger: Logger): ErrorRequestHandler {
  return (err, req, res, next) => {
    if (res.headersSent) {
      next(err);
      return;
    }
    const response = toHttpResponse(err);
    if (response.status >= 500) logger.error({ err, method: req.method, path: req.path }, 'request failed');
    else logger.debug({ status: response.status, error: response.body.error, path: req.path }, 'request refused');
    sendHttpError(res, response);
  };
}
