import { createHmac, timingSafeEqual } from 'node:crypto';
import express, { type Request, type Response, type Router } from 'express';
import { z } from 'zod';
import type { BotEvent, BotEventHandler } from '../../bot/events.js';
import type { WebexApi, WebexWebhook } from '../../clients/webex/port.js';
import { systemClock, type Clock } from '../../core/clock.js';
import type { Logger } from '../../core/logger.js';
import { httpErrorHandler } from '../http/errors.js';
import { messageEventOf } from './mention.js';

/**
 * Webex webhook intake (webex.md §2.5 "Production A"): verify the signature over
 * the RAW bytes (the framework re-serializes the parsed body, §1.3), refuse replays,
 * answer 200 at once, then fetch the message or card action (webhook bodies carry
 * ids only, §3.6) and hand one typed event to `handler.handle`.
 */
export interface WebexWebhookRouterOptions {
  secret: string;
  api: WebexApi;
  botPersonId: string;
  /** Removed from the start of message text; fetched once with `api.me()` when not given. */
  botDisplayName?: string;
  handler: BotEventHandler;
  logger: Logger;
  clock?: Clock;
  /** Largest accepted body; Webex deliveries are well under 4 KB. */
  maxBodyBytes?: number;
}

/** Deliveries whose event happened longer ago than this are treated as replays. */
export const MAX_DELIVERY_AGE_MS = 5 * 60_000;
const SEEN_CAPACITY = 10_000;

const deliverySchema = z.object({
  id: z.string(),
  name: z.string().optional(),
  resource: z.string(),
  event: z.string(),
  created: z.string().optional(),
  actorId: z.string().optional(),
  data: z.looseObject({ id: z.string(), personId: z.string().optional(), roomType: z.enum(['group', 'direct']).optional(), created: z.string().optional() }),
});
type Delivery = z.output<typeof deliverySchema>;

export function createWebexWebhookRouter(opts: WebexWebhookRouterOptions): Router {
  const clock = opts.clock ?? systemClock;
  const logger = opts.logger.child({ component: 'webex-webhook' });
  const seen = new BoundedSet(SEEN_CAPACITY);
  let displayName: Promise<string> | undefined = opts.botDisplayName ? Promise.resolve(opts.botDisplayName) : undefined;
  const botDisplayName = () => (displayName ??= opts.api.me().then((me) => me.displayName).catch((err) => {
    displayName = undefined;
    throw err;
  }));

  const router = express.Router();
  router.post('/', express.raw({ type: () => true, limit: opts.maxBodyBytes ?? 64 * 1024 }), (req: Request, res: Response) => {
    const raw: unknown = req.body;
    if (!Buffer.isBuffer(raw) || raw.length === 0) return void res.status(400).json({ error: 'empty body' });
    if (!signatureValid(opts.secret, raw, req.get('x-spark-signature'))) {
      logger.warn({ ip: req.ip }, 'webhook refused: missing or invalid X-Spark-Signature');
      return void res.status(401).json({ error: 'invalid signature' });
    }
    let delivery: Delivery;
    try {
      delivery = deliverySchema.parse(JSON.parse(raw.toString('utf8')));
    } catch {
      return void res.status(400).json({ error: 'body is not a Webex webhook delivery' });
    }
    // The top-level `created` is when the WEBHOOK was registered; the event's own time is `data.created`.
    const happenedAt = Date.parse(delivery.data.created ?? delivery.created ?? '');
    // The top-level `id` is the webhook's id (the same for every delivery); the event is identified by resource + data.id.
    const key = `${delivery.resource}:${delivery.event}:${delivery.data.id}`;
    if (Number.isNaN(happenedAt) || clock.now().getTime() - happenedAt > MAX_DELIVERY_AGE_MS || seen.has(key)) {
      logger.warn({ key }, 'webhook refused as a replay');
      return void res.status(401).json({ error: 'replayed' });
    }
    seen.add(key);
    res.status(200).json({ ok: true });
    void process(delivery).catch((err: unknown) => logger.error({ err, key }, 'webhook event could not be processed'));
  });

  async function process(delivery: Delivery): Promise<void> {
    const event = await toBotEvent(delivery);
    if (event) await opts.handler.handle(event);
  }

  async function toBotEvent(d: Delivery): Promise<BotEvent | undefined> {
    if (d.resource === 'messages' && d.event === 'created') {
      if (d.data.personId === opts.botPersonId) return undefined;
      const m = await opts.api.getMessage(d.data.id);
      if (m.personId === opts.botPersonId) return undefined;
      return messageEventOf(m, d.data.roomType, await botDisplayName());
    }
    if (d.resource === 'attachmentActions' && d.event === 'created') {
      const a = await opts.api.getAttachmentAction(d.data.id);
      if (a.personId === opts.botPersonId) return undefined;
      // Card actions carry no email; the person lookup supplies it.
      const person = await opts.api.getPerson(a.personId);
      return { kind: 'card_action', actionId: a.id, messageId: a.messageId, roomId: a.roomId, personId: a.personId, personEmail: person.emails[0] ?? '', inputs: a.inputs };
    }
    return undefined;
  }

  // Oversized or malformed bodies get a JSON error, never Express's HTML page with a stack trace.
  router.use(httpErrorHandler(opts.logger));
  return router;
}

export function signatureValid(secret: string, raw: Buffer, header: string | undefined): boolean {
  if (!header || !/^[0-9a-f]{40}$/i.test(header)) return false;
  const expected = createHmac('sha1', secret).update(raw).digest();
  return timingSafeEqual(expected, Buffer.from(header, 'hex'));
}

/** Insertion-ordered set that forgets its oldest entries past `capacity`. */
class BoundedSet {
  private readonly items = new Set<string>();
  constructor(private readonly capacity: number) {}
  has(key: string): boolean {
    return this.items.has(key);
  }
  add(key: string): void {
    this.items.add(key);
    if (this.items.size > this.capacity) this.items.delete(this.items.values().next().value as string);
  }
}

export interface WebhookRegistration {
  targetUrl: string;
  secret: string;
  /** Identifies OUR webhooks; others owned by the same token are never touched. */
  name: string;
}

/**
 * Creates our two webhooks (`messages/created`, `attachmentActions/created`), then
 * removes older ones with our name. Creating first means no event is lost in
 * between; a brief duplicate is dropped by the route's replay check.
 */
export async function registerWebhooks(api: WebexApi, reg: WebhookRegistration): Promise<WebexWebhook[]> {
  const stale = (await api.listWebhooks()).filter((w) => w.name === reg.name);
  const created = [
    await api.createWebhook({ name: reg.name, targetUrl: reg.targetUrl, resource: 'messages', event: 'created', secret: reg.secret }),
    await api.createWebhook({ name: reg.name, targetUrl: reg.targetUrl, resource: 'attachmentActions', event: 'created', secret: reg.secret }),
  ];
  for (const w of stale) await api.deleteWebhook(w.id);
  return created;
}

export async function unregisterWebhooks(api: WebexApi, { name }: { name: string }): Promise<number> {
  const ours = (await api.listWebhooks()).filter((w) => w.name === name);
  for (const w of ours) await api.deleteWebhook(w.id);
  return ours.length;
}
