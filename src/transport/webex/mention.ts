import type { z } from 'zod';
import type { ChatMessageEvent } from '../../bot/events.js';
import type { messageCoreSchema } from '../../clients/webex/api.js';

/**
 * The bot's view of a Webex message, whichever transport brought it (webhook or SDK event):
 * the mention of the bot removed, the room type taken from the message or else the room.
 */
export function messageEventOf(m: z.infer<typeof messageCoreSchema>, roomType: 'group' | 'direct' | undefined, botDisplayName: string): ChatMessageEvent {
  return {
    kind: 'message',
    messageId: m.id,
    roomId: m.roomId,
    roomType: m.roomType ?? roomType ?? 'group',
    personId: m.personId,
    personEmail: m.personEmail,
    text: stripMention(m.text ?? '', botDisplayName),
    ...(m.parentId ? { parentId: m.parentId } : {}),
  };
}

/**
 * Webex puts the mention's display text at the start of `text` when someone
 * @mentions the bot in a group room ("Sightline hunt now"). Analysts may shorten a
 * mention to the first name, and some clients keep a leading "@". Commands must see
 * only "hunt now". Line breaks after the mention are kept: a pasted list of
 * indicators must reach the command intact.
 */
export function stripMention(text: string, botDisplayName: string): string {
  const trimmed = text.trim();
  const names = mentionForms(botDisplayName);
  for (const name of names) {
    const match = new RegExp(`^@?${escapeRegExp(name)}(?=$|[\\s,:;.!?])[\\s,:;]*`, 'i').exec(trimmed);
    if (match) return trimmed.slice(match[0].length).trim();
  }
  return trimmed;
}

/** Longest first, so "Sightline Bot" is removed whole before trying "Sightline". */
function mentionForms(displayName: string): string[] {
  const full = normalizeWhitespace(displayName);
  if (!full) return [];
  const first = full.split(' ')[0] ?? full;
  return first === full ? [full] : [full, first];
}

/** Trims and collapses runs of whitespace (newlines included) to single spaces, as the framework does. */
export function normalizeWhitespace(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

/** True when the message's `mentionedPeople` names the bot. */
export function mentionsBot(message: { mentionedPeople?: string[] }, botPersonId: string): boolean {
  return message.mentionedPeople?.includes(botPersonId) ?? false;
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
