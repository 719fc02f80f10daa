import type { BotEvent } from '../../../bot/events.js';
import type { WebexApi } from '../../../clients/webex/port.js';
import type { Logger } from '../../../core/logger.js';
import { messageEventOf } from '../mention.js';
import type { ActivityRef } from './activity.js';

export const COULD_NOT_READ_MESSAGE = 'I could not read your message (Webex did not answer); please try again.';
export const COULD_NOT_READ_CLICK = 'I could not read your card click (Webex did not answer); please try again.';

export interface ActivityReaderOptions {
  /** The bot's own client: retries 5xx and 429 with Retry-After, typed errors. */
  api: WebexApi;
  bot: { id: string; displayName: string };
  logger: Logger;
}

/**
 * Turns the ids of a Mercury activity into a BotEvent by reading the message or the
 * card action with the bot's own Webex client: one GET per command, where the SDK and
 * the framework made three to six (webex-websocket.md §4). A read that still fails after
 * the client's retries is never silent: the log names the event, and the person is told
 * to try again in the room the command came from.
 */
export class ActivityReader {
  private readonly botUuid: string;

  constructor(private readonly opts: ActivityReaderOptions) {
    this.botUuid = Buffer.from(opts.bot.id, 'base64url').toString('utf8').split('/').pop() ?? opts.bot.id;
  }

  /** True for the bot's own posts, which Mercury echoes back: ignored without a REST call. */
  isOwn(ref: ActivityRef): boolean {
    return ref.actorUuid === this.botUuid;
  }

  async read(ref: ActivityRef): Promise<BotEvent | undefined> {
    if (this.isOwn(ref)) return undefined;
    try {
      return ref.kind === 'message' ? await this.message(ref) : await this.action(ref);
    } catch (err) {
      const what = ref.kind === 'message' ? { messageId: ref.messageId } : { actionId: ref.actionId };
      this.opts.logger.error({ err, eventId: ref.eventId, ...what, roomId: ref.roomId }, `could not read the Webex ${ref.kind === 'message' ? 'message' : 'card click'} of event ${ref.eventId}; the person was asked to try again`);
      await this.opts.api.postMessage({ roomId: ref.roomId, markdown: ref.kind === 'message' ? COULD_NOT_READ_MESSAGE : COULD_NOT_READ_CLICK }).catch((replyErr: unknown) => {
        this.opts.logger.error({ err: replyErr, eventId: ref.eventId, roomId: ref.roomId }, `could not tell the person either; event ${ref.eventId} is lost`);
      });
      return undefined;
    }
  }

  private async message(ref: Extract<ActivityRef, { kind: 'message' }>): Promise<BotEvent | undefined> {
    const m = await this.opts.api.getMessage(ref.messageId);
    if (m.personId === this.opts.bot.id) return undefined;
    return messageEventOf(m, ref.roomType, this.opts.bot.displayName);
  }

  private async action(ref: Extract<ActivityRef, { kind: 'card_action' }>): Promise<BotEvent> {
    const a = await this.opts.api.getAttachmentAction(ref.actionId);
    // The activity names the clicker; only when it does not is the person read.
    const email = ref.actorEmail ?? (await this.opts.api.getPerson(a.personId)).emails[0] ?? '';
    return { kind: 'card_action', actionId: a.id, messageId: a.messageId, roomId: a.roomId, personId: a.personId, personEmail: email, inputs: a.inputs };
  }
}
