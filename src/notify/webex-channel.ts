import { createHash } from 'node:crypto';
import type { AdaptiveCardAttachment, NewMessage, WebexApi } from '../clients/webex/port.js';
import { UpstreamError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { CARD_CONTENT_TYPE } from './cards/elements.js';
import { renderForWebex, type RenderOptions, type WebexRendering } from './cards/index.js';
import type { Channel, Notification, NotificationKind } from './notification.js';

export const HUNT_KINDS: readonly NotificationKind[] = [
  'hunt_started',
  'threat_targets',
  'threat_no_targets',
  'hunt_finished',
  'not_published',
  'talos_nothing_new',
  'hunt_failed',
];
export const INCIDENT_KINDS: readonly NotificationKind[] = ['incident_opened', 'incident_updated', 'incident_closed', 'rung_fired'];

export interface WebexChannelOptions {
  api: WebexApi;
  /** Resolves a room title to its id, creating the room when missing (cached by the caller). */
  rooms: { ensureRoom(title: string): Promise<string> };
  huntRoom: string;
  incidentsRoom: string;
  logger: Logger;
  /** Which kinds to post; default: all of them. */
  kinds?: readonly NotificationKind[];
  /** Called after each message is posted (the correlator keeps the first incident card's id to thread replies). */
  onPosted?: (n: Notification, messageId: string) => void | Promise<void>;
  render?: RenderOptions;
}

// Remembers how far a multi-message notification got, so an outbox retry does not repost the cards already sent.
const PROGRESS_MEMORY = 200;

export class WebexChannel implements Channel {
  readonly name = 'webex';
  private readonly kinds: ReadonlySet<NotificationKind>;
  private readonly progress = new Map<string, number>();

  constructor(private readonly opts: WebexChannelOptions) {
    this.kinds = new Set(opts.kinds ?? [...HUNT_KINDS, ...INCIDENT_KINDS]);
  }

  accepts(n: Notification): boolean {
    return this.kinds.has(n.kind);
  }

  roomTitleFor(n: Notification): string {
    return HUNT_KINDS.includes(n.kind) ? this.opts.huntRoom : this.opts.incidentsRoom;
  }

  async deliver(n: Notification): Promise<void> {
    const messages = renderForWebex(n, this.opts.render);
    const roomId = await this.opts.rooms.ensureRoom(this.roomTitleFor(n));
    const key = progressKey(n);
    const start = this.progress.get(key) ?? 0;
    for (let i = start; i < messages.length; i++) {
      const message = messages[i]!;
      const id = await this.post(roomId, message, n);
      this.remember(key, i + 1);
      await this.opts.onPosted?.(n, id);
    }
    this.progress.delete(key);
  }

  private async post(roomId: string, message: WebexRendering, n: Notification): Promise<string> {
    const body: NewMessage = { roomId, markdown: message.markdown };
    if (message.parentId) body.parentId = message.parentId;
    if (message.card) body.attachments = [{ contentType: CARD_CONTENT_TYPE, content: message.card } satisfies AdaptiveCardAttachment];
    try {
      return (await this.opts.api.postMessage(body)).id;
    } catch (err) {
      // Webex documents no card size limit and rejects bad cards with 400: the markdown alone still gets the news out.
      if (body.attachments && err instanceof UpstreamError && err.status === 400) {
        this.opts.logger.warn({ err, kind: n.kind }, 'Webex refused the card; posting the markdown fallback instead');
        delete body.attachments;
        return (await this.opts.api.postMessage(body)).id;
      }
      throw err;
    }
  }

  private remember(key: string, posted: number): void {
    this.progress.delete(key);
    this.progress.set(key, posted);
    if (this.progress.size > PROGRESS_MEMORY) {
      const oldest = this.progress.keys().next().value;
      if (oldest !== undefined) this.progress.delete(oldest);
    }
  }
}

function progressKey(n: Notification): string {
  return createHash('sha256').update(JSON.stringify(n)).digest('hex');
}
