import { z } from 'zod';
import { defineCommand, type Command } from './command.js';
import { code } from './format.js';
import { RESPONSE_CARD_ACTIONS } from './investigate.js';
import { findCommand } from './table.js';

/**
 * Card buttons, as the cards must send them (Action.Submit `data`, merged by Webex
 * with any inputs into `attachmentAction.inputs`, webex.md §3.5):
 * - `{ action: 'close_incident', target: '<target as shown>', reason?: '…' }` →
 *   exactly the `close <target> [reason]` command: same args schema, same admin check.
 * - `{ action: 'show_sightings', incidentId: '<id>' }` → the incident's latest sightings.
 * - `{ action: 'list_incidents', page: 2, filter?: 'open' }` → `incidents [filter] <page>`
 *   (the "Next page" button of the incident list card).
 * Extra fields (e.g. `incidentId` on the Close button) are ignored.
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
  handler: async ({ incidentId }, ctx) => ctx.replies.sightings(incidentId, ctx.incidents.sightings(incidentId, SIGHTINGS_SHOWN)),
});

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
      command = findCommand('close', table);
      raw = { target: inputs.target, reason: inputs.reason };
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
