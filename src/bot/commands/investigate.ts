import { z } from 'zod';
import { ValidationError } from '../../core/errors.js';
import { extractIocs } from '../../domain/ioc/extract.js';
import { renderActionConfirmation, renderInvestigation } from '../../notify/cards/investigation.js';
import { CONFIRM_WITHIN_MS, type ActionRecord } from '../../services/response-actions.js';
import type { InvestigationService } from '../investigate-service.js';
import { defineCommand, type Command, type CommandContext } from './command.js';
import { code, md, when } from './format.js';
import type { ParseResult } from './parse.js';
import { pageCount, type ReplyContent } from './replies.js';
import { pageNumber } from './args.js';

/**
 * `investigate <text>`, `actions [page]` and the card-only commands behind the
 * investigation card's response-action buttons (ask → confirm / cancel).
 */
export const ACTIONS_PAGE_SIZE = 10;

function service(ctx: CommandContext): InvestigationService {
  if (!ctx.investigations) throw new ValidationError('Investigations are not available in this Sightline; ask the operator to check its XDR settings.');
  return ctx.investigations;
}

export const investigate = defineCommand({
  name: 'investigate',
  pattern: /^(?:investigate|lookup|ioc)(?:\s+(?<text>.*))?$/i,
  args: z.object({
    text: z.string({ error: 'paste the text to investigate after the word, e.g. `investigate evil[.]example 8.8.8.8`' }).trim().min(1),
  }),
  adminOnly: false,
  usage: 'investigate <text>',
  help: 'Look up every IOC in the text (defanged is fine): verdicts, sightings on our machines, links and response actions. A message of only IOCs works too.',
  handler: async ({ text }, ctx) => {
    const outcome = await service(ctx).investigate(text, ctx.sender.email);
    if (outcome.kind === 'none') {
      const why = outcome.rejected.length > 0 ? ` (${outcome.rejected.slice(0, 3).map((r) => `${code(r.value)}: ${md(r.reason)}`).join('; ')})` : '';
      return { markdown: `I found no hashes, domains, IPs, URLs or e-mail addresses to look up in that text${why}.` };
    }
    return renderInvestigation(outcome.report, { thread: ctx.threadId, fromCache: outcome.fromCache });
  },
});

/**
 * A message that is not a command but carries IOCs (a pasted block, a forwarded
 * e-mail, a bare hash) is investigated as if `investigate` had been typed:
 * answering "unknown command" to a pasted hash would send the analyst away.
 */
export function implicitInvestigation(parsed: ParseResult, table: readonly Command[]): ParseResult {
  if (parsed.kind !== 'unknown') return parsed;
  const command = table.find((c) => c.name === investigate.name);
  if (!command || extractIocs(parsed.text).observables.length === 0) return parsed;
  return { kind: 'ok', command, args: { text: parsed.text }, text: parsed.text };
}

const pageArg = z.object({
  page: pageNumber,
  extra: z.undefined({ error: 'give at most a page number' }).optional(),
});

function recordLine(r: ActionRecord, n: number): string {
  const result = r.result === 'success' ? '**success**' : `**${r.result}**${r.detail ? ` (${md(r.detail)})` : ''}`;
  const who = r.requestedBy === r.confirmedBy ? `by ${md(r.requestedBy)}` : `asked by ${md(r.requestedBy)}, confirmed by ${md(r.confirmedBy)}`;
  return `${n}. ${when(r.at)} — ${md(r.title)} (${md(r.module)}) on ${md(r.observable.type)} ${code(r.observable.value)} — ${who} — ${result}`;
}

export const actions = defineCommand({
  name: 'actions',
  pattern: /^actions(?:\s+(?<page>\S+))?(?:\s+(?<extra>.*))?$/i,
  args: pageArg,
  adminOnly: false,
  usage: 'actions [page]',
  help: `List the response actions run from investigation cards (who, what, when, result), ${ACTIONS_PAGE_SIZE} per page.`,
  handler: async ({ page }, ctx) => {
    const { items, total } = service(ctx).actions(page, ACTIONS_PAGE_SIZE);
    if (total === 0) return { markdown: 'No response actions have been run from Sightline yet.' };
    const pages = pageCount(total, ACTIONS_PAGE_SIZE);
    if (page > pages) return { markdown: `There ${pages === 1 ? 'is only 1 page' : `are only ${pages} pages`} of actions; try ${code(`actions ${pages}`)}.` };
    const first = (page - 1) * ACTIONS_PAGE_SIZE;
    const more = page < pages ? `; ${code(`actions ${page + 1}`)} for more` : '';
    return {
      markdown: [`**Response actions** (${total}, newest first)`, '', ...items.map((r, i) => recordLine(r, first + i + 1)), '', `Page ${page} of ${pages}${more}.`].join('\n'),
    };
  },
});

const idArg = (field: string, what: string) =>
  z.object({ [field]: z.string({ error: `the button did not say which ${what}` }).trim().min(1).max(200), thread: z.string().max(200).optional() });

/** The action button: an admin's click asks for confirmation in the investigation's thread. */
export const respondAsk = defineCommand({
  name: 'response action',
  pattern: /(?!)/, // card-only
  args: idArg('offer', 'action'),
  adminOnly: true,
  adminAction: 'run response actions',
  usage: 'an action button on an investigation card',
  help: 'Ask to run an XDR response action offered on an investigation card.',
  handler: async (args, ctx) => {
    const { offer, thread } = args as { offer: string; thread?: string };
    const asked = await service(ctx).askAction(offer, ctx.sender.email);
    const reply = renderActionConfirmation(asked.offer, asked.confirmationId, CONFIRM_WITHIN_MS / 60_000, thread);
    return { ...reply, ...(thread ? { threadId: thread } : {}) };
  },
});

export const respondConfirm = defineCommand({
  name: 'confirm response action',
  pattern: /(?!)/,
  args: idArg('confirmation', 'confirmation'),
  adminOnly: true,
  adminAction: 'run response actions',
  usage: 'the Confirm button',
  help: 'Run a response action after confirmation.',
  handler: async (args, ctx) => inThread(args, await confirmReply(args as { confirmation: string }, ctx)),
});

async function confirmReply(args: { confirmation: string }, ctx: CommandContext): Promise<ReplyContent> {
  const outcome = await service(ctx).confirmAction(args.confirmation, ctx.sender.email);
  if (outcome.kind === 'already') {
    if (outcome.status === 'cancelled') return { markdown: 'That action was cancelled; click the action button again to run it.' };
    if (!outcome.record) return { markdown: 'That action is running now; `actions` lists it once it has finished.' };
    return { markdown: `That action already ran (${when(outcome.record.at)}, ${outcome.record.result}); it is not run twice. \`actions\` lists it.` };
  }
  const r = outcome.record;
  const what = `${md(r.title)} (${md(r.module)}) on ${md(r.observable.type)} ${code(r.observable.value)}`;
  if (r.result === 'success') return { markdown: `Done: ${what} — XDR reports **success**. \`actions\` lists it.` };
  const why = r.detail ? `: ${md(r.detail)}` : '';
  return { markdown: `${what} did not succeed (**${r.result}**${why}). Check the module in XDR; \`actions\` lists the attempt.` };
}

/** Confirm / Cancel answer in the investigation's thread too (their card is itself a thread reply). */
function inThread(args: unknown, reply: ReplyContent): ReplyContent {
  const thread = (args as { thread?: string }).thread;
  return thread ? { ...reply, threadId: thread } : reply;
}

export const respondCancel = defineCommand({
  name: 'cancel response action',
  pattern: /(?!)/,
  args: idArg('confirmation', 'confirmation'),
  adminOnly: true,
  adminAction: 'run response actions',
  usage: 'the Cancel button',
  help: 'Cancel a response action waiting for confirmation.',
  handler: async (args, ctx) => inThread(args, await cancelReply(args as { confirmation: string }, ctx)),
});

async function cancelReply(args: { confirmation: string }, ctx: CommandContext): Promise<ReplyContent> {
  const result = await service(ctx).cancelAction(args.confirmation, ctx.sender.email);
  if (result.cancelled) return { markdown: `Cancelled; ${result.offer ? md(result.offer.title) : 'the action'} will not run.` };
  if (result.status === 'done' || result.status === 'running') return { markdown: 'Too late to cancel: that action already ran; `actions` lists it.' };
  if (result.status === 'cancelled') return { markdown: 'That action was already cancelled.' };
  if (result.status === 'pending') return { markdown: 'Only the admin who asked for that action can cancel it.' };
  return { markdown: 'I have no such pending action; click the action button again if you still want it.' };
}

/** Card `action` values → the card-only commands above, with the fields each reads. */
export const RESPONSE_CARD_ACTIONS: Record<string, { command: Command; fields: string[] }> = {
  xdr_action: { command: respondAsk, fields: ['offer', 'thread'] },
  xdr_action_confirm: { command: respondConfirm, fields: ['confirmation', 'thread'] },
  xdr_action_cancel: { command: respondCancel, fields: ['confirmation', 'thread'] },
};
