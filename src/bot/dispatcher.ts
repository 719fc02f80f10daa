import type { NewMessage, WebexApi } from '../clients/webex/port.js';
import { asSightlineError, UpstreamError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { authorize, roomTitleLookup, type AuthPolicy, type Requester, type RoomTitleLookup } from './authorize.js';
import { parseCardAction } from './commands/card-actions.js';
import type { Command, CommandContext } from './commands/command.js';
import type { OutboxView } from './commands/outbox-view.js';
import { sentence } from '../notify/markdown.js';
import { code, fitBytes } from './commands/format.js';
import { parseCommand, parseWithoutMention, type ParseResult } from './commands/parse.js';
import { markdownReplies, type Replies, type ReplyContent } from './commands/replies.js';
import { malformedCommandMessage, unknownCommandMessage } from './commands/suggest.js';
import { COMMANDS } from './commands/table.js';
import { implicitInvestigation } from './commands/investigate.js';
import type { InvestigationService } from './investigate-service.js';
import type { BotEvent, BotEventHandler, CardActionEvent, ChatMessageEvent } from './events.js';
import type { HuntService, IncidentService } from '../domain/ports/services.js';

export interface BotDispatcherOptions {
  api: WebexApi;
  hunts: HuntService;
  incidents: IncidentService;
  policy: AuthPolicy;
  botPersonId: string;
  logger: Logger;
  replies?: Replies;
  /** WEBEX_HUNT_ROOM, for "cards will follow in …". */
  huntRoomTitle?: string;
  /** The bot's display name(s), stripped if a transport left the mention in; default: `api.me()`, asked once. */
  botNames?: string[];
  /** Resolves room titles in `policy.allowedRooms`; default: the bot's room list. */
  lookupRoomTitle?: RoomTitleLookup;
  commands?: readonly Command[];
  /** Notification queues and dead letters, for the `outbox` command and `hunt status`. */
  outbox?: OutboxView;
  /** `investigate` and response actions (issue 16); without it those commands say they are not available. */
  investigations?: InvestigationService;
}

type Outcome = 'ok' | 'refused' | 'unknown' | 'malformed' | 'failed' | 'greeted' | 'invalid_card';

const GREETING = 'Hi! Type `help` to see what I can do.';

/**
 * The one door for chat (STYLE.md §1): messages and card clicks come in as
 * BotEvents; each gets exactly one reply in its room (threaded under the command
 * in group spaces), except the bot's own messages, which are ignored. Nothing a
 * handler throws escapes `handle()` — one failure answers its sender, the bot lives on.
 */
export class BotDispatcher implements BotEventHandler {
  private readonly opts: BotDispatcherOptions;
  private readonly replies: Replies;
  private readonly commands: readonly Command[];
  private readonly lookupRoomTitle: RoomTitleLookup;
  private readonly logger: Logger;
  private botNames: Promise<string[]> | undefined;

  constructor(opts: BotDispatcherOptions) {
    this.opts = opts;
    this.replies = opts.replies ?? markdownReplies;
    this.commands = opts.commands ?? COMMANDS;
    this.lookupRoomTitle = opts.lookupRoomTitle ?? roomTitleLookup(opts.api);
    this.logger = opts.logger.child({ component: 'bot-commands' });
    if (opts.botNames) this.botNames = Promise.resolve(opts.botNames);
  }

  async handle(event: BotEvent): Promise<void> {
    const log = this.logger.child({ correlationId: event.kind === 'message' ? event.messageId : event.actionId });
    if (event.personId === this.opts.botPersonId) {
      log.debug({ roomId: event.roomId }, 'ignored the bot’s own event');
      return;
    }
    try {
      if (event.kind === 'message') await this.onMessage(event, log);
      else if (event.kind === 'card_action') await this.onCardAction(event, log);
      else log.warn({ event }, 'ignored an event of unknown kind');
    } catch (err) {
      // Last resort: the steps above already answer and log their own failures.
      log.error({ err }, 'bot event handling failed');
    }
  }

  private async onMessage(event: ChatMessageEvent, log: Logger): Promise<void> {
    const text = typeof event.text === 'string' ? event.text : '';
    let parsed: ParseResult = parseCommand(text, this.commands);
    if (parsed.kind === 'unknown') parsed = parseWithoutMention(text, this.commands, await this.names(log));
    if (this.opts.investigations) parsed = implicitInvestigation(parsed, this.commands);
    const command = parsed.kind === 'ok' || parsed.kind === 'malformed' ? parsed.command : undefined;
    // Threads have one level: a command typed inside a thread is answered in that thread.
    const parentId = event.roomType === 'group' ? (event.parentId ?? event.messageId) : undefined;
    const done = (outcome: Outcome, content: ReplyContent, extra: Record<string, unknown> = {}) =>
      this.finish(event, log, { roomId: event.roomId, parentId }, content, { command: command?.name, outcome, ...extra });

    const decision = await authorize(event, command, this.opts.policy, this.lookupRoomTitle);
    if (!decision.allowed) return done('refused', { markdown: decision.message }, { reason: decision.reason });
    switch (parsed.kind) {
      case 'empty':
        return done('greeted', { markdown: GREETING });
      case 'unknown':
        return done('unknown', { markdown: unknownCommandMessage(parsed.text, this.commands) }, { text: parsed.text.slice(0, 200) });
      case 'malformed':
        return done('malformed', { markdown: malformedCommandMessage(parsed.text, parsed.command, parsed.problem) }, { problem: parsed.problem });
      case 'ok': {
        const { content, outcome } = await this.run(parsed.command, parsed.args, event, log, parentId);
        return done(outcome, content);
      }
    }
  }

  private async onCardAction(event: CardActionEvent, log: Logger): Promise<void> {
    const parsed = parseCardAction(event.inputs ?? {}, this.commands);
    // Buttons on a card that is itself a thread reply name the thread (`thread`), so even a refusal lands in it.
    const thread = typeof event.inputs?.thread === 'string' && event.inputs.thread.length <= 200 ? event.inputs.thread : undefined;
    const done = (outcome: Outcome, content: ReplyContent, extra: Record<string, unknown> = {}) =>
      this.finish(event, log, { roomId: event.roomId, parentId: content.threadId ?? thread ?? event.messageId }, content, {
        command: parsed.command?.name,
        outcome,
        cardMessageId: event.messageId,
        ...extra,
      });

    const decision = await authorize(event, parsed.command, this.opts.policy, this.lookupRoomTitle);
    if (!decision.allowed) return done('refused', { markdown: decision.message }, { reason: decision.reason });
    if (parsed.kind === 'invalid') return done('invalid_card', { markdown: parsed.message }, { inputs: Object.keys(event.inputs ?? {}) });
    const { content, outcome } = await this.run(parsed.command, parsed.args, event, log);
    return done(outcome, content);
  }

  /** The error boundary around one handler (grammY `errorBoundary`). */
  private async run(command: Command, args: unknown, event: BotEvent, log: Logger, threadId?: string): Promise<{ content: ReplyContent; outcome: Outcome }> {
    const ctx: CommandContext = {
      sender: { personId: event.personId, email: event.personEmail },
      roomId: event.roomId,
      hunts: this.opts.hunts,
      incidents: this.opts.incidents,
      replies: this.replies,
      huntRoomTitle: this.opts.huntRoomTitle ?? 'the hunt room',
      commands: this.commands,
      ...(this.opts.outbox ? { outbox: this.opts.outbox } : {}),
      investigations: this.opts.investigations,
      threadId,
    };
    try {
      return { content: await command.handler(args, ctx), outcome: 'ok' };
    } catch (err) {
      const error = asSightlineError(err);
      log.error({ err, command: command.name, by: event.personEmail, roomId: event.roomId, code: error.code }, 'command failed');
      const markdown =
        // userMessage sentences quote what was typed or fetched (targets, URIs, file names): inert before they reach the room.
        error.code === 'internal' ? `Something went wrong running ${code(command.name)}; the details are in Sightline's log.` : sentence(error.userMessage);
      return { content: { markdown }, outcome: 'failed' };
    }
  }

  private async finish(
    event: Requester,
    log: Logger,
    where: { roomId: string; parentId?: string },
    content: ReplyContent,
    fields: Record<string, unknown>,
  ): Promise<void> {
    const delivered = await this.post(where, content, log);
    log.info({ ...fields, by: event.personEmail, roomId: event.roomId, delivered }, 'bot command handled');
  }

  /** Posts the reply; if the thread reply is refused (e.g. the parent is itself a reply), posts it unthreaded. */
  private async post(where: { roomId: string; parentId?: string }, content: ReplyContent, log: Logger): Promise<boolean> {
    const message: NewMessage = { roomId: where.roomId, markdown: fitBytes(content.markdown) };
    if (content.card) message.attachments = [{ contentType: 'application/vnd.microsoft.card.adaptive', content: content.card }];
    const attempts: NewMessage[] = where.parentId ? [{ ...message, parentId: where.parentId }, message] : [message];
    for (const [i, attempt] of attempts.entries()) {
      try {
        await this.opts.api.postMessage(attempt);
        return true;
      } catch (err) {
        log.warn({ err, roomId: where.roomId, threaded: attempt.parentId !== undefined, attempt: i + 1 }, 'posting the reply failed');
        // Only a thread Webex refuses outright is worth an unthreaded retry; after a
        // timeout or 5xx the first post may have landed, and a second would duplicate it.
        if (!(err instanceof UpstreamError) || err.retryable) return false;
      }
    }
    return false;
  }

  private names(log: Logger): Promise<string[]> {
    this.botNames ??= this.opts.api.me().then(
      (me) => [me.displayName],
      (err: unknown) => {
        log.warn({ err }, 'could not read the bot’s display name; mentions left in the text will not be stripped');
        this.botNames = undefined; // ask again next time
        return [];
      },
    );
    return this.botNames;
  }
}
