import type { AdaptiveCardAttachment, NewMessage, WebexApi } from '../clients/webex/port.js';
import { UpstreamError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { CARD_CONTENT_TYPE } from './cards/elements.js';
import { renderForWebex, type RenderOptions, type WebexRendering } from './cards/index.js';
import type { Channel, DeliveryProgress, Notification, NotificationKind } from './notification.js';
import { isTransientStatus, UndeliverableError } from './undeliverable.js';

export const HUNT_KINDS: readonly NotificationKind[] = [
  'hunt_started',
  'threat_targets',
  'threat_no_targets',
  'hunt_finished',
  'not_published',
  'talos_nothing_new',
  'hunt_failed',
];
export const INCIDENT_KINDS: readonly NotificationKind[] = ['incident_opened', 'incident_updated', 'incident_closed', 'rung_fired', 'incident_digest'];

export interface WebexChannelOptions {
  api: WebexApi;
  /** Resolves a room title to its id, creating the room when missing (cached by the caller). */
  rooms: { ensureRoom(title: string): Promise<string>; forget?(title: string): Promise<void> };
  huntRoom: string;
  incidentsRoom: string;
  logger: Logger;
  /** Which kinds to post; default: all of them. */
  kinds?: readonly NotificationKind[];
  /** Called after each message is posted (the correlator keeps the first incident card's id to thread replies). */
  onPosted?: (n: Notification, messageId: string) => void | Promise<void>;
  render?: RenderOptions;
}

// Parent messages Webex said are gone: later replies to them go unthreaded without a refused try first.
const GONE_PARENTS_MEMORY = 1000;

export class WebexChannel implements Channel {
  readonly name = 'webex';
  private readonly kinds: ReadonlySet<NotificationKind>;
  private readonly goneParents = new Set<string>();

  constructor(private readonly opts: WebexChannelOptions) {
    this.kinds = new Set(opts.kinds ?? [...HUNT_KINDS, ...INCIDENT_KINDS]);
  }

  accepts(n: Notification): boolean {
    return this.kinds.has(n.kind);
  }

  /** The bot's own post limit (WEBEX_MAX_MESSAGES_PER_MINUTE): how long a post now would wait for it. */
  waitMs(): number {
    return this.opts.api.postWaitMs?.() ?? 0;
  }

  roomTitleFor(n: Notification): string {
    return HUNT_KINDS.includes(n.kind) ? this.opts.huntRoom : this.opts.incidentsRoom;
  }

  /** One outbox queue per room: a room Webex refuses holds back only its own messages. */
  queueFor(n: Notification): string {
    return this.roomTitleFor(n);
  }

  /** Several messages (a card per target): `progress` says where a retry starts, and hears of each one posted. */
  async deliver(n: Notification, progress?: DeliveryProgress): Promise<void> {
    const messages = renderForWebex(n, this.opts.render);
    const title = this.roomTitleFor(n);
    for (let i = progress?.sent ?? 0; i < messages.length; i++) {
      const message = messages[i]!;
      const id = await this.postClassified(title, message, n);
      // After the last one the outbox's receipt says it all.
      if (progress && i + 1 < messages.length) await progress.record(i + 1);
      // Not awaited: whoever records the posted id (the incident's card id) changes memory at once
      // and reaches disk with the next state write. Waiting for that write here would hold the
      // outbox's delivery receipt back by up to a whole write, and a crash in that window posts the
      // message a second time (seen as repeated incident cards in the crash-safety suite).
      Promise.resolve(this.opts.onPosted?.(n, id)).catch((err: unknown) => this.opts.logger.warn({ err, kind: n.kind }, 'the posted message id could not be recorded'));
    }
  }

  /**
   * Posts one message, sorting Webex's permanent refusals (issue 17): the parent message is
   * gone → post it unthreaded; the room is gone or the bot was removed (404/403) → find or
   * create the room again and post there; any other 4xx → `UndeliverableError` (dead letter).
   * Throttling, 5xx and network trouble are thrown as they are, for the outbox to retry.
   */
  private async postClassified(title: string, message: WebexRendering, n: Notification): Promise<string> {
    let roomId = await this.opts.rooms.ensureRoom(title);
    let parentId = message.parentId && !this.goneParents.has(message.parentId) ? message.parentId : undefined;
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        return await this.post(roomId, message, n, parentId);
      } catch (err) {
        if (!(err instanceof UpstreamError) || isTransientStatus(err.status)) throw err;
        if (err.status === 400 && parentId && /parent/i.test(err.message)) {
          this.opts.logger.warn({ kind: n.kind, parentId }, 'the message this update replies to was deleted in Webex; posting it unthreaded');
          this.rememberGoneParent(parentId);
          parentId = undefined;
          continue;
        }
        if ((err.status === 404 || err.status === 403) && this.opts.rooms.forget && attempt === 0) {
          this.opts.logger.warn({ kind: n.kind, title, roomId, status: err.status }, 'Webex no longer lets the bot post in this room (deleted, or the bot was removed); finding or creating it again');
          await this.opts.rooms.forget(title);
          roomId = await this.opts.rooms.ensureRoom(title);
          // The old thread lives in the old room.
          parentId = undefined;
          continue;
        }
        throw new UndeliverableError(`Webex refused the message for "${title}" with ${err.status}: ${err.message}`, { cause: err });
      }
    }
    throw new UndeliverableError(`Webex kept refusing the message for "${title}" after finding the room again and dropping the thread.`);
  }

  private rememberGoneParent(id: string): void {
    this.goneParents.add(id);
    if (this.goneParents.size > GONE_PARENTS_MEMORY) {
      const oldest = this.goneParents.values().next().value;
      if (oldest !== undefined) this.goneParents.delete(oldest);
    }
  }

  private async post(roomId: string, message: WebexRendering, n: Notification, parentId: string | undefined): Promise<string> {
    const body: NewMessage = { roomId, markdown: message.markdown };
    if (parentId) body.parentId = parentId;
    if (message.card) body.attachments = [{ contentType: CARD_CONTENT_TYPE, content: message.card } satisfies AdaptiveCardAttachment];
    try {
      return (await this.opts.api.postMessage(body)).id;
    } catch (err) {
      // Webex documents no card size limit and rejects bad cards with 400: the markdown alone still gets the news out.
      if (body.attachments && err instanceof UpstreamError && err.status === 400 && !/parent/i.test(err.message)) {
        this.opts.logger.warn({ err, kind: n.kind }, 'Webex refused the card; posting the markdown fallback instead');
        delete body.attachments;
        return (await this.opts.api.postMessage(body)).id;
      }
      throw err;
    }
  }
}
