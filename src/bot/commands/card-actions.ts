import { z } from 'zod';
import { defineCommand, type Command } from './command.js';
import { code } from './format.js';
import { RESPONSE_CARD_ACTIONS } from './investigate.js';
import { findCommand } from './table.js';

/**
 * Card buttons, as the cards must send them (Action.Submit `data`, merged by Webex
 * with any inputs into `attachmentAction.inputs`, webex.md §3.5):
 * - `{ action: 'close_incident', incidentId: '<id>', reason?: '…' }` → closes exactly
 *   the incident the card shows (same admin check as `close`). Already closed: the
 *   answer says so and offers the target's open incident as a separate button.
 *   Cards posted before incident ids were sent carry only `target`: those clicks
 *   close nothing (the target alone cannot say which incident the card showed, and
 *   re-parsing it closed the wrong one) and answer how to find and close it.
 * - `{ action: 'close_incident', target: '<target as shown>', reason?: '…' }` →
 *   exactly the `close <target> [reason]` command: same args schema, same admin check.
 * - `{ action: 'show_sightings', incidentId: '<id>' }` → the incident's latest sightings.
 * - `{ action: 'list_incidents', page: 2, filter?: 'open' }` → `incidents [filter] <page>`
 *   (the "Next page" button of the incident list card).
 * Extra fields are ignored.
 */
export const SIGHTINGS_SHOWN = 10;

export const showSightings = defineCommand({
  name: 'show sightings',
  // Card-only: never matched from chat text, never listed in help.
  pattern: /(?!)/,
  args: z.object({ incidentId: z.string({ error: 'the button did not say which incident' }).trim().min(1).max(200) }),
  adminOnly: false,
  usage: 'the "Show sightings" button',
  help: "Show an incident's latest sightings.",
  handler: async ({ incidentId }, ctx) => ctx.replies.sightings(incidentId, await ctx.incidents.sightings(incidentId, SIGHTINGS_SHOWN)),
});

const optionalReason = z
  .string({ error: 'the reason must be text' })
  .optional()
  .transform((r) => r?.trim() || undefined)
  .refine((r) => (r?.length ?? 0) <= 1000, { error: 'the reason is too long' });

export const closeIncidentButton = defineCommand({
  name: 'close incident',
  // Card-only, like show sightings.
  pattern: /(?!)/,
  args: z.object({
    incidentId: z.string({ error: 'the button did not say which incident' }).trim().min(1, { error: 'the button did not say which incident' }).max(200),
    reason: optionalReason,
  }),
  adminOnly: true,
  adminAction: 'close incidents',
  usage: 'the "Close incident" button',
  help: 'Close the incident a card shows.',
  handler: async ({ incidentId, reason }, ctx) => {
    const result = await ctx.incidents.closeById(incidentId, ctx.sender.email, reason);
    return result.closed ? ctx.replies.incidentClosed(result.incident, reason) : ctx.replies.incidentAlreadyClosed(result.incident, result.open);
  },
});

/** What a pre-id Close button gets: nothing is closed, and the answer says how to do it safely. */
export function legacyCloseAnswer(target: unknown): string {
  const which = typeof target === 'string' && target.trim() !== '' ? ` for ${code(target.trim())}` : '';
  return (
    `That Close button${which} is on an older card that does not say which incident it shows, so I did not close anything. ` +
    'Type `incidents` to find the open incident, then `close <incident id>`; newer cards close their own incident.'
  );
}

const actionField = z.object({ action: z.string({ error: 'the button has no action' }) });

export type CardActionParse = { kind: 'ok'; command: Command; args: unknown } | { kind: 'invalid'; command?: Command; message: string };

const tryChat = 'try the chat command instead (`help` lists them).';

/** Card inputs may be numbers (`page: 2`); the chat schemas take the text a person would type. */
function primitive(value: unknown): string | undefined {
  return typeof value === 'string' || typeof value === 'number' ? String(value) : value === undefined ? undefined : '?';
}

export function parseCardAction(inputs: Record<string, unknown>, table: readonly Command[]): CardActionParse {
  const head = actionField.safeParse(inputs);
  if (!head.success) return { kind: 'invalid', message: `I couldn't tell what that button should do; ${tryChat}` };
  let command: Command | undefined;
  let raw: Record<string, unknown>;
  switch (head.data.action) {
    case 'close_incident':
      if (inputs.incidentId === undefined && inputs.target !== undefined) return { kind: 'invalid', message: legacyCloseAnswer(inputs.target) };
      command = closeIncidentButton;
      raw = { incidentId: inputs.incidentId, reason: inputs.reason };
      break;
    case 'list_incidents':
      command = findCommand('incidents', table);
      raw = { filter: primitive(inputs.filter), page: primitive(inputs.page) };
      break;
    case 'show_sightings':
      command = showSightings;
      raw = { incidentId: inputs.incidentId };
      break;
    default: {
      const response = RESPONSE_CARD_ACTIONS[head.data.action];
      if (!response) return { kind: 'invalid', message: `I don't know the button action ${code(head.data.action)}; ${tryChat}` };
      command = response.command;
      raw = Object.fromEntries(response.fields.map((f) => [f, inputs[f]]));
    }
  }
  if (!command) return { kind: 'invalid', message: `That button's command is not available; ${tryChat}` };
  const parsed = command.args.safeParse(raw);
  if (parsed.success) return { kind: 'ok', command, args: parsed.data };
  const problem = parsed.error.issues[0]?.message ?? 'its data is not valid';
  return { kind: 'invalid', command, message: `That button didn't work: ${problem}. ${tryChat.charAt(0).toUpperCase()}${tryChat.slice(1)}` };
}
