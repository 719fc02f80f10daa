import type { z } from 'zod';
import type { InvestigationService } from '../investigate-service.js';
import type { HuntService, IncidentService } from '../../domain/ports/services.js';
import type { OutboxView } from './outbox-view.js';
import type { Replies, ReplyContent } from './replies.js';

/** Who ran a command, and where. Handlers never see the raw Webex event. */
export interface CommandContext {
  sender: { personId: string; email: string };
  roomId: string;
  hunts: HuntService;
  incidents: IncidentService;
  replies: Replies;
  /** Where hunt cards are posted, for "cards will follow in …". */
  huntRoomTitle: string;
  /** Notification queues and dead letters, for `outbox` and `hunt status`; absent in tests that do not need it. */
  outbox?: OutboxView;
  /** The whole table, so `help` is generated from it. */
  commands: readonly Command[];
  /** `investigate` and response actions; absent when not wired. */
  investigations?: InvestigationService;
  /** The thread this command is answered in (group rooms), for buttons that reply into it later. */
  threadId?: string;
}

/**
 * One chat command, as data (STYLE.md §6, StackStorm aliases).
 * `pattern` recognises the command's words and captures its raw arguments as
 * named groups; `args` validates those groups, so a recognised command with bad
 * arguments gets its usage line and the exact problem instead of "unknown".
 */
export interface Command {
  name: string;
  pattern: RegExp;
  args: z.ZodType<unknown>;
  adminOnly: boolean;
  /** What a non-admin is refused, as a verb phrase: "Only Sightline admins can <adminAction>". */
  adminAction?: string;
  usage: string;
  help: string;
  handler(args: unknown, ctx: CommandContext): Promise<ReplyContent>;
}

export interface CommandSpec<S extends z.ZodType> extends Omit<Command, 'args' | 'handler'> {
  args: S;
  handler(args: z.output<S>, ctx: CommandContext): Promise<ReplyContent>;
}

/**
 * Keeps each entry's handler typed by its own schema while the table stays one
 * homogeneous array. The cast is safe because the dispatcher only ever passes a
 * handler the output of that same command's `args.safeParse`.
 */
export function defineCommand<S extends z.ZodType>(spec: CommandSpec<S>): Command {
  return { ...spec, handler: (args, ctx) => spec.handler(args as z.output<S>, ctx) };
}

/** The public face of a command, for help texts and help cards. */
export interface CommandInfo {
  name: string;
  usage: string;
  help: string;
  adminOnly: boolean;
}

export function commandInfo(c: Command): CommandInfo {
  return { name: c.name, usage: c.usage, help: c.help, adminOnly: c.adminOnly };
}
