import type { IncomingMessage, ServerResponse } from 'node:http';
import { LoopbackEmulator } from '../loopback.js';

/**
 * A local X API v2 recent search (`GET /2/tweets/search/recent`) for the X
 * module: bearer check with X's problem body, `query` as a case-insensitive
 * substring, `since_id`, `max_results` (10–100), `next_token` paging, answers
 * newest first with `meta.{result_count,newest_id,oldest_id,next_token}` —
 * and `{meta:{result_count:0}}` when nothing matches, as X does. 429s can be
 * injected with `x-rate-limit-*` headers.
 */
export interface XEmulatorOptions {
  bearerToken?: string;
  now?: () => number;
}

export interface LoggedXRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  status: number;
  authorized: boolean;
}

interface Tweet {
  id: string;
  text: string;
}

export class XEmulator extends LoopbackEmulator {
  readonly requests: LoggedXRequest[] = [];
  readonly bearerToken: string;
  private readonly tweets: Tweet[] = [];
  private readonly now: () => number;
  private nextId = 1_508_382_262_655_602_692n;
  private rateLimits: number[] = [];

  constructor(opts: XEmulatorOptions = {}) {
    super();
    this.bearerToken = opts.bearerToken ?? 'x-emulator-bearer-token';
    this.now = opts.now ?? (() => Date.now());
  }

  /** The value for X_API_BASE. */
  get apiBase(): string {
    return `${this.baseUrl}/2`;
  }

  /** Posts a tweet; ids are increasing numeric strings like real snowflake ids. Returns the id. */
  addTweet(text: string): string {
    const id = String(this.nextId);
    this.nextId += 1_000n;
    this.tweets.push({ id, text });
    return id;
  }

  /** The next `count` searches answer 429; the window resets `resetInSeconds` after the refusal. */
  rateLimitNext(count = 1, resetInSeconds = 900): void {
    for (let i = 0; i < count; i++) this.rateLimits.push(resetInSeconds);
  }

  protected handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://emulator');
    const auth = req.headers.authorization;
    const log: LoggedXRequest = {
      method: req.method ?? 'GET',
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      status: 200,
      authorized: auth === `Bearer ${this.bearerToken}`,
    };
    const answer = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      log.status = status;
      this.requests.push(log);
      const json = JSON.stringify(body);
      res.writeHead(status, { 'content-type': status < 400 ? 'application/json; charset=utf-8' : 'application/problem+json', ...headers });
      res.end(json);
    };
    if (url.pathname !== '/2/tweets/search/recent') return answer(404, problem(404, 'Not Found Error', 'Sorry, that page does not exist.'));
    if (req.method !== 'GET') return answer(405, problem(405, 'Method Not Allowed', 'Only GET is supported.'));
    if (!log.authorized) return answer(401, { title: 'Unauthorized', type: 'about:blank', status: 401, detail: 'Unauthorized' });
    const reset = this.rateLimits.shift();
    if (reset !== undefined) {
      const resetAt = Math.ceil(this.now() / 1000) + reset;
      return answer(429, { title: 'Too Many Requests', detail: 'Too Many Requests', type: 'about:blank', status: 429 }, {
        'x-rate-limit-limit': '450',
        'x-rate-limit-remaining': '0',
        'x-rate-limit-reset': String(resetAt),
        'retry-after': String(reset),
      });
    }
    const invalid = validate(url.searchParams);
    if (invalid) return answer(400, invalid);
    return answer(200, this.search(url.searchParams), { 'x-rate-limit-limit': '450', 'x-rate-limit-remaining': '449' });
  }

  private search(params: URLSearchParams): unknown {
    const query = params.get('query')!.toLowerCase();
    const since = params.get('since_id');
    const max = Number(params.get('max_results') ?? '10');
    const offset = Number(params.get('next_token') ? Buffer.from(params.get('next_token')!, 'base64url').toString() : '0');
    const matching = this.tweets
      .filter((t) => t.text.toLowerCase().includes(query) && (since === null || BigInt(t.id) > BigInt(since)))
      .sort((a, b) => (BigInt(b.id) > BigInt(a.id) ? 1 : -1));
    const page = matching.slice(offset, offset + max);
    if (page.length === 0) return { meta: { result_count: 0 } };
    const meta: Record<string, unknown> = { newest_id: page[0]!.id, oldest_id: page[page.length - 1]!.id, result_count: page.length };
    if (offset + max < matching.length) meta.next_token = Buffer.from(String(offset + max)).toString('base64url');
    return { data: page.map((t) => ({ edit_history_tweet_ids: [t.id], id: t.id, text: t.text })), meta };
  }
}

/** X's 400 body: `{errors:[{parameters, message}], title, detail, type}`. */
function validate(params: URLSearchParams): unknown {
  const errors: { parameters: Record<string, string[]>; message: string }[] = [];
  const query = params.get('query');
  if (!query) errors.push({ parameters: { query: [] }, message: 'The `query` query parameter can not be empty' });
  const max = params.get('max_results');
  if (max !== null && !(/^\d+$/.test(max) && Number(max) >= 10 && Number(max) <= 100)) {
    errors.push({ parameters: { max_results: [max] }, message: `The \`max_results\` query parameter value [${max}] is not between 10 and 100` });
  }
  const since = params.get('since_id');
  if (since !== null && !/^\d{1,19}$/.test(since)) errors.push({ parameters: { since_id: [since] }, message: `The \`since_id\` query parameter value [${since}] is not valid` });
  const token = params.get('next_token');
  if (token !== null && !/^\d+$/.test(Buffer.from(token, 'base64url').toString())) errors.push({ parameters: { next_token: [token] }, message: 'The `next_token` query parameter value is not valid' });
  if (errors.length === 0) return undefined;
  return { errors, title: 'Invalid Request', detail: 'One or more parameters to your request was invalid.', type: 'https://api.twitter.com/2/problems/invalid-request' };
}

function problem(status: number, title: string, detail: string): unknown {
  return { title, detail, type: 'about:blank', status };
}
