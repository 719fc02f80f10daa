import { createHmac } from 'node:crypto';
import { HttpClient } from '../../clients/http.js';
import type { Logger } from '../../core/logger.js';
import { messageDeliveryData, type EmuWebhook } from './model.js';
import type { WebexWorld } from './world.js';

/**
 * Delivers Webex webhooks for world changes, signed like Webex: `X-Spark-Signature`
 * = hex HMAC-SHA1(secret, raw body) (webex.md §3.6). Like Webex for a bot:
 * - the bot's own messages are not delivered (the brief's choice; real Webex does
 *   deliver them, which is why the route also ignores them);
 * - in group rooms only messages that @mention the bot are delivered (§3.9).
 */
export interface DeliveryStats {
  sent: number;
  failed: number;
}

export class WebhookDispatcher {
  readonly stats: DeliveryStats = { sent: 0, failed: 0 };
  private readonly pending = new Set<Promise<void>>();
  private readonly http: HttpClient;

  constructor(
    private readonly world: WebexWorld,
    private readonly logger: Logger,
  ) {
    this.http = new HttpClient({ service: 'webex-emulator-webhook', logger, retry: { retries: 0 } });
    world.events.on('message', ({ message, actorId }) => {
      if (actorId === world.bot.id) return;
      if (message.roomType === 'group' && !message.mentionedPeople?.includes(world.bot.id)) return;
      this.fire('messages', 'created', messageDeliveryData(message), actorId, message.roomId);
    });
    world.events.on('action', ({ action, actorId }) => {
      const { inputs: _encrypted, ...ids } = action;
      this.fire('attachmentActions', 'created', ids, actorId, action.roomId);
    });
    world.events.on('membership', ({ membership, actorId }) => {
      this.fire('memberships', 'created', { ...membership }, actorId, membership.roomId);
    });
    world.events.on('room', ({ room, actorId }) => {
      this.fire('rooms', 'created', { ...room }, actorId, room.id);
    });
  }

  /** Resolves when every delivery started so far has finished. */
  async idle(): Promise<void> {
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
  }

  private fire(resource: string, event: string, data: Record<string, unknown>, actorId: string, roomId: string): void {
    for (const hook of this.world.webhooks.values()) {
      if (!matches(hook, resource, event, roomId)) continue;
      const job = this.deliver(hook, resource, event, data, actorId).finally(() => this.pending.delete(job));
      this.pending.add(job);
    }
  }

  private async deliver(hook: EmuWebhook, resource: string, event: string, data: Record<string, unknown>, actorId: string): Promise<void> {
    const body = JSON.stringify({
      id: hook.id,
      name: hook.name,
      targetUrl: hook.targetUrl,
      resource,
      event,
      ...(hook.filter ? { filter: hook.filter } : {}),
      orgId: hook.orgId,
      createdBy: hook.createdBy,
      appId: hook.appId,
      ownedBy: hook.ownedBy,
      status: hook.status,
      created: hook.created,
      actorId,
      data,
    });
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (hook.secret) headers['x-spark-signature'] = createHmac('sha1', hook.secret).update(body).digest('hex');
    try {
      await this.http.send({ method: 'POST', url: hook.targetUrl, headers, body, idempotent: false, timeoutMs: 10_000 });
      this.stats.sent++;
    } catch (err) {
      this.stats.failed++;
      this.logger.warn({ err, targetUrl: hook.targetUrl, resource, event }, 'webhook delivery failed');
    }
  }
}

function matches(hook: EmuWebhook, resource: string, event: string, roomId: string): boolean {
  if (hook.status !== 'active') return false;
  // Card submits are not part of the "all" firehose (webex.md §1.3).
  const resourceOk = hook.resource === resource || (hook.resource === 'all' && resource !== 'attachmentActions');
  const eventOk = hook.event === event || hook.event === 'all';
  const filterOk = !hook.filter || hook.filter === `roomId=${roomId}`;
  return resourceOk && eventOk && filterOk;
}
