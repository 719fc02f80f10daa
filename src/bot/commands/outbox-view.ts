import { z } from 'zod';
import type { QueueStats } from '../../notify/queues.js';
import type { DeadLetter } from '../../store/state.js';
import { defineCommand } from './command.js';
import type { ReplyContent } from './replies.js';
import { code, md, when } from './format.js';

/** What the chat sees of the outbox (Outbox implements it). */
export interface OutboxView {
  queueStats(): QueueStats;
  deadLetters(): DeadLetter[];
  /** Reads again what the two methods above return, when they serve a snapshot (PostgreSQL: shared tables). */
  refresh?(): Promise<void>;
}

/** The view as fresh as it gets before a chat answer; a failed read leaves the last snapshot (the answer says what it saw). */
export async function freshView(view: OutboxView | undefined): Promise<OutboxView | undefined> {
  await view?.refresh?.().catch(() => undefined);
  return view;
}

const DEAD_LETTERS_SHOWN = 10;

function minutes(ms: number): string {
  return ms < 60_000 ? `${Math.round(ms / 1000)} s` : `${Math.round(ms / 60_000)} min`;
}

/** The `outbox` command's answer: each queue that waits, and the latest notifications refused for good with why. */
export function outboxMarkdown(view: OutboxView): string {
  const { queues } = view.queueStats();
  const dead = view.deadLetters();
  const lines = ['**Notification queues**'];
  if (queues.length === 0) lines.push('- nothing waiting');
  for (const q of queues) {
    const error = q.headError ? `; last error: ${md(q.headError)}` : '';
    lines.push(`- ${md(q.channel)} **${md(q.queue)}**: ${q.depth} waiting, oldest ${minutes(q.oldestAgeMs)}, not moved for ${minutes(q.stalledForMs)}${q.headAttempts > 0 ? `, ${q.headAttempts} tries` : ''}${error}`);
  }
  lines.push('', `**Not delivered (refused for good)**: ${dead.length}`);
  for (const d of dead.slice(-DEAD_LETTERS_SHOWN).reverse()) {
    lines.push(`- ${when(d.failedAt)} ${md(d.channel)} **${md(d.key)}** ${code(d.kind)}${d.subject ? ` ${code(d.subject)}` : ''}: ${md(d.reason)}`);
  }
  if (dead.length > DEAD_LETTERS_SHOWN) lines.push(`- and ${dead.length - DEAD_LETTERS_SHOWN} older (all are in the log)`);
  return lines.join('\n');
}

/** One line for `hunt status` when something is wrong with deliveries; undefined when all is well. */
export function outboxStatusLine(view: OutboxView | undefined): string | undefined {
  if (!view) return undefined;
  const dead = view.deadLetters().length;
  const waiting = view.queueStats().queues.reduce((n, q) => n + q.depth, 0);
  if (dead === 0 && waiting === 0) return undefined;
  return `**Notifications**: ${waiting} waiting, ${dead} not delivered (refused for good); \`outbox\` lists them (admins).`;
}

/** Appends the outbox line to a `hunt status` reply (markdown and card alike). */
export function withOutboxLine(reply: ReplyContent, view: OutboxView | undefined): ReplyContent {
  const line = outboxStatusLine(view);
  if (!line) return reply;
  const out: ReplyContent = { ...reply, markdown: `${reply.markdown}\n\n${line}` };
  const body = reply.card?.['body'];
  if (reply.card && Array.isArray(body)) out.card = { ...reply.card, body: [...body, { type: 'TextBlock', text: line, wrap: true }] };
  return out;
}

export const outboxCommand = defineCommand({
  name: 'outbox',
  pattern: /^outbox(?:\s+(?<extra>.*))?$/i,
  args: z.object({ extra: z.undefined({ error: '`outbox` takes no arguments' }).optional() }),
  adminOnly: true,
  adminAction: 'see the notification queues',
  usage: 'outbox',
  help: 'Show the notification queues per room and the notifications Webex or e-mail refused for good, with the reason.',
  handler: async (_args, ctx) => {
    const view = await freshView(ctx.outbox);
    return { markdown: view ? outboxMarkdown(view) : 'The notification outbox is not available in this process.' };
  },
});
