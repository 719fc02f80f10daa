/**
 * Typed errors. Every error that can reach a person carries a stable `code`,
 * an HTTP status for the edge, and a `userMessage`: one sentence that says what
 * failed and what to do about it. `cause` keeps the original for the logs.
 */
export type ErrorCode =
  | 'config_invalid'
  | 'validation_failed'
  | 'not_found'
  | 'unauthorized'
  | 'forbidden'
  | 'conflict'
  | 'rate_limited'
  | 'upstream_failed'
  | 'upstream_unreachable'
  | 'store_corrupt'
  | 'store_unwritable'
  | 'uri_refused'
  | 'not_published'
  | 'busy'
  | 'payload_too_large'
  | 'internal';

export class SightlineError extends Error {
  readonly code: ErrorCode;
  readonly httpStatus: number;
  readonly userMessage: string;

  constructor(code: ErrorCode, userMessage: string, opts: { httpStatus?: number; cause?: unknown; detail?: string } = {}) {
    super(opts.detail ? `${userMessage} (${opts.detail})` : userMessage, { cause: opts.cause });
    this.name = new.target.name;
    this.code = code;
    this.httpStatus = opts.httpStatus ?? 500;
    this.userMessage = userMessage;
  }
}

export interface FieldProblem {
  path: string;
  message: string;
}

export class ValidationError extends SightlineError {
  readonly problems: FieldProblem[];
  constructor(userMessage: string, problems: FieldProblem[] = [], httpStatus = 422) {
    super('validation_failed', userMessage, { httpStatus });
    this.problems = problems;
  }
}

export class ConfigError extends SightlineError {
  readonly problems: string[];
  constructor(problems: string[]) {
    super('config_invalid', `Sightline cannot start: ${problems.length} configuration problem(s):\n- ${problems.join('\n- ')}`);
    this.problems = problems;
  }
}

/** A remote API answered with an error status, or could not be reached at all. */
export class UpstreamError extends SightlineError {
  readonly service: string;
  readonly status: number | undefined;
  readonly trackingId: string | undefined;
  readonly retryAfterMs: number | undefined;
  constructor(
    service: string,
    userMessage: string,
    opts: { status?: number; trackingId?: string; retryAfterMs?: number; cause?: unknown; detail?: string } = {},
  ) {
    super(opts.status === undefined ? 'upstream_unreachable' : opts.status === 429 ? 'rate_limited' : 'upstream_failed', userMessage, {
      httpStatus: 502,
      cause: opts.cause,
      detail: opts.detail,
    });
    this.service = service;
    this.status = opts.status;
    this.trackingId = opts.trackingId;
    this.retryAfterMs = opts.retryAfterMs;
  }

  /** Nothing listened at the address: the request never reached the service, so it did no work. */
  get connectionRefused(): boolean {
    const cause = this.cause as { code?: string; cause?: { code?: string } } | undefined;
    return this.status === undefined && (cause?.code ?? cause?.cause?.code) === 'ECONNREFUSED';
  }

  /** 5xx, 429, 423 and network failures are worth another try; 4xx are not. */
  get retryable(): boolean {
    return this.status === undefined || this.status >= 500 || this.status === 429 || this.status === 423 || this.status === 408;
  }
}

export class StoreError extends SightlineError {}

export class UriRefusedError extends SightlineError {
  constructor(reason: string) {
    super('uri_refused', reason, { httpStatus: 400 });
  }
}

export class NotFoundError extends SightlineError {
  constructor(what: string) {
    super('not_found', what, { httpStatus: 404 });
  }
}

export class ForbiddenError extends SightlineError {
  constructor(userMessage: string) {
    super('forbidden', userMessage, { httpStatus: 403 });
  }
}

/** Wraps anything thrown into a SightlineError so the edges have one shape to render. */
export function asSightlineError(err: unknown): SightlineError {
  if (err instanceof SightlineError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new SightlineError('internal', 'Something went wrong inside Sightline; the details are in its log.', {
    cause: err,
    detail: message,
  });
}
