import { z } from 'zod';
import { UpstreamError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import { HttpClient, type HttpClientOptions, type HttpRequest, type HttpRetryPolicy } from '../http.js';
import type { AttachmentAction, NewMessage, WebexApi, WebexMessage, WebexPerson, WebexRoom, WebexWebhook } from './port.js';

/**
 * Our own Webex REST client (webex.md §2.5): bearer token, JSON, `Link: rel="next"`
 * paging, 409-as-success for memberships and Retry-After handling through HttpClient.
 *
 * Retry safety: POST /messages and POST /rooms are not idempotent, so HttpClient
 * retries them only on 429/423 (refused before any work); a 5xx may already have
 * posted. GETs and DELETEs are retried on 5xx too.
 */
const personSchema = z.object({
  id: z.string(),
  emails: z.array(z.string()),
  displayName: z.string(),
  type: z.enum(['person', 'bot']).optional().catch(undefined),
  orgId: z.string().optional(),
});

const roomSchema = z.object({
  id: z.string(),
  title: z.string(),
  type: z.enum(['group', 'direct']),
  created: z.string().optional(),
});

const cardSchema = z.object({
  contentType: z.literal('application/vnd.microsoft.card.adaptive'),
  content: z.record(z.string(), z.unknown()),
});

/**
 * The fields Sightline reads from a message or a card action. The SDK's event objects
 * (framework-pump.ts) carry only these reliably; the REST answers below add the rest.
 */
export const messageCoreSchema = z.object({
  id: z.string(),
  roomId: z.string(),
  roomType: z.enum(['group', 'direct']).optional(),
  personId: z.string(),
  personEmail: z.string(),
  text: z.string().optional(),
  parentId: z.string().optional(),
});

const messageSchema = messageCoreSchema.extend({
  markdown: z.string().optional(),
  html: z.string().optional(),
  mentionedPeople: z.array(z.string()).optional(),
  attachments: z.array(cardSchema).optional(),
  created: z.string(),
});

export const actionCoreSchema = z.object({
  id: z.string(),
  messageId: z.string(),
  roomId: z.string(),
  personId: z.string(),
  inputs: z.record(z.string(), z.unknown()).default({}),
});

const actionSchema = actionCoreSchema.extend({
  type: z.literal('submit'),
  created: z.string(),
});

const webhookSchema = z.object({
  id: z.string(),
  name: z.string(),
  targetUrl: z.string(),
  resource: z.string(),
  event: z.string(),
  secret: z.string().optional(),
  status: z.string().optional(),
});

const listOf = <T extends z.ZodType>(item: T) => z.object({ items: z.array(item) });

/** The operator sentence for a failed Webex call; the body's own `message` when Webex gave one. */
export function describeWebexError(status: number | undefined, body: unknown): string | undefined {
  if (status === 401) return 'Webex refused the bot token: check WEBEX_TOKEN.';
  const message = typeof body === 'object' && body !== null ? (body as { message?: unknown }).message : undefined;
  if (status === 429) return 'Webex is rate limiting the bot; it will try again after the delay Webex asked for.';
  if (typeof message === 'string' && message.length > 0) return `Webex answered ${status}: ${message}`;
  return undefined;
}

export function createWebexHttpClient(opts: {
  logger: Logger;
  retry?: Partial<HttpRetryPolicy>;
  sleep?: (ms: number) => Promise<void>;
  onAttempt?: HttpClientOptions['onAttempt'];
}): HttpClient {
  return new HttpClient({ service: 'webex', logger: opts.logger, retry: opts.retry, sleep: opts.sleep, describeError: describeWebexError, onAttempt: opts.onAttempt });
}

/** Parses an RFC 5988 Link header and returns the `rel="next"` URL, if any. */
export function nextLink(header: string | undefined): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(',')) {
    const match = /<([^>]+)>\s*;(.*)/.exec(part.trim());
    if (match && /rel="?next"?/i.test(match[2] ?? '')) return match[1];
  }
  return undefined;
}

export interface WebexHttpApiOptions {
  /** e.g. https://webexapis.com/v1 */
  baseUrl: string;
  token: string;
  logger: Logger;
  /** Build it with `createWebexHttpClient` to keep Webex-specific error sentences. */
  http?: HttpClient;
}

export class WebexHttpApi implements WebexApi {
  private readonly base: string;
  private readonly token: string;
  private readonly http: HttpClient;

  constructor(opts: WebexHttpApiOptions) {
    this.base = opts.baseUrl.replace(/\/+$/, '');
    this.token = opts.token;
    this.http = opts.http ?? createWebexHttpClient({ logger: opts.logger.child({ component: 'webex-api' }) });
  }

  async me(): Promise<WebexPerson> {
    return this.call({ method: 'GET', url: this.url('/people/me') }, personSchema);
  }

  async getPerson(personId: string): Promise<WebexPerson> {
    return this.call({ method: 'GET', url: this.url(`/people/${encodeURIComponent(personId)}`) }, personSchema);
  }

  async *listRooms(opts: { type?: 'group' | 'direct'; max?: number } = {}): AsyncIterable<WebexRoom> {
    const query = new URLSearchParams({ max: String(opts.max ?? 100) });
    if (opts.type) query.set('type', opts.type);
    let url: string | undefined = this.url(`/rooms?${query}`);
    while (url) {
      const res = await this.send({ method: 'GET', url });
      yield* this.parse(listOf(roomSchema), res.body, url).items;
      url = this.followable(nextLink(res.headers['link']));
    }
  }

  async createRoom(title: string): Promise<WebexRoom> {
    return this.call({ method: 'POST', url: this.url('/rooms'), body: { title } }, roomSchema);
  }

  async addMember(roomId: string, personEmail: string): Promise<void> {
    // A retried POST that already succeeded answers 409, which we treat as success: safe to retry on 5xx.
    await this.send({ method: 'POST', url: this.url('/memberships'), body: { roomId, personEmail }, acceptStatus: [409], idempotent: true });
  }

  async postMessage(msg: NewMessage): Promise<WebexMessage> {
    return this.call({ method: 'POST', url: this.url('/messages'), body: msg, idempotent: false }, messageSchema);
  }

  async getMessage(id: string): Promise<WebexMessage> {
    return this.call({ method: 'GET', url: this.url(`/messages/${encodeURIComponent(id)}`) }, messageSchema);
  }

  async getAttachmentAction(id: string): Promise<AttachmentAction> {
    return this.call({ method: 'GET', url: this.url(`/attachment/actions/${encodeURIComponent(id)}`) }, actionSchema);
  }

  async listWebhooks(): Promise<WebexWebhook[]> {
    const hooks: WebexWebhook[] = [];
    let url: string | undefined = this.url('/webhooks?max=100');
    while (url) {
      const res = await this.send({ method: 'GET', url });
      hooks.push(...this.parse(listOf(webhookSchema), res.body, url).items);
      url = this.followable(nextLink(res.headers['link']));
    }
    return hooks;
  }

  async createWebhook(w: { name: string; targetUrl: string; resource: string; event: string; secret?: string; filter?: string }): Promise<WebexWebhook> {
    return this.call({ method: 'POST', url: this.url('/webhooks'), body: w, idempotent: false }, webhookSchema);
  }

  async deleteWebhook(id: string): Promise<void> {
    // Already gone is what we wanted.
    await this.send({ method: 'DELETE', url: this.url(`/webhooks/${encodeURIComponent(id)}`), acceptStatus: [404] });
  }

  private url(path: string): string {
    return `${this.base}${path}`;
  }

  /** Follows `next` links as given, but never sends the token to another origin. */
  private followable(next: string | undefined): string | undefined {
    if (!next) return undefined;
    if (new URL(next).origin !== new URL(this.base).origin) {
      throw new UpstreamError('webex', 'Webex sent a paging link to another host; Sightline refused to follow it with the bot token.', { detail: next });
    }
    return next;
  }

  private send(req: HttpRequest) {
    return this.http.send({ ...req, headers: { ...req.headers, authorization: `Bearer ${this.token}` } });
  }

  private async call<T extends z.ZodType>(req: HttpRequest, schema: T): Promise<z.output<T>> {
    const res = await this.send(req);
    return this.parse(schema, res.body, req.url);
  }

  private parse<T extends z.ZodType>(schema: T, body: unknown, url: string): z.output<T> {
    const parsed = schema.safeParse(body);
    if (!parsed.success) {
      throw new UpstreamError('webex', 'Webex answered with a shape Sightline does not understand; check WEBEX_API_BASE.', {
        status: 200,
        detail: `${new URL(url).pathname}: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
      });
    }
    return parsed.data;
  }
}
