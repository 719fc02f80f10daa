import { z } from 'zod';
import { WebexHttpError } from './http-error.js';
import type { EmuCard } from './model.js';

/** Webex refuses text, markdown or html longer than this many bytes (docs: messages/create-a-message). */
export const MAX_MESSAGE_BYTES = 7439;
/**
 * Our own guard on card size. Webex documents no card size limit (webex.md §3.4:
 * the 28/40 KB figures are Microsoft Teams'); the real limit is unknown, so the
 * emulator refuses cards over 16 KB to make the bot's fallback path testable.
 */
export const MAX_CARD_BYTES = 16 * 1024;

export const newMessageSchema = z.object({
  roomId: z.string().optional(),
  toPersonId: z.string().optional(),
  toPersonEmail: z.string().optional(),
  parentId: z.string().optional(),
  text: z.string().optional(),
  markdown: z.string().optional(),
  html: z.string().optional(),
  files: z.array(z.string()).optional(),
  attachments: z.array(z.object({ contentType: z.string(), content: z.unknown() })).optional(),
});

export type NewMessageBody = z.output<typeof newMessageSchema>;

/** Applies Webex's checks; throws WebexHttpError(400) with Webex-like wording. */
export function checkNewMessage(body: NewMessageBody): { cards: EmuCard[] } {
  const targets = [body.roomId, body.toPersonId, body.toPersonEmail].filter((t) => t !== undefined);
  if (targets.length !== 1) throw new WebexHttpError(400, 'Exactly one of roomId, toPersonId or toPersonEmail must be specified.');
  for (const field of ['text', 'markdown', 'html'] as const) {
    const value = body[field];
    if (value !== undefined && Buffer.byteLength(value, 'utf8') > MAX_MESSAGE_BYTES) {
      throw new WebexHttpError(400, `Message ${field} exceeds the maximum length of ${MAX_MESSAGE_BYTES} bytes.`);
    }
  }
  const attachments = body.attachments ?? [];
  if (attachments.length > 1) throw new WebexHttpError(400, 'Only one attachment per message is supported.');
  const cards: EmuCard[] = [];
  for (const a of attachments) {
    if (a.contentType !== 'application/vnd.microsoft.card.adaptive') throw new WebexHttpError(400, `Unsupported attachment contentType: ${a.contentType}`);
    const content = a.content as { type?: unknown } | null;
    if (typeof content !== 'object' || content === null || content.type !== 'AdaptiveCard') {
      throw new WebexHttpError(400, 'Attachment content must be an AdaptiveCard (content.type "AdaptiveCard").');
    }
    if (Buffer.byteLength(JSON.stringify(content), 'utf8') > MAX_CARD_BYTES) {
      throw new WebexHttpError(400, `Attachment content is larger than ${MAX_CARD_BYTES} bytes (emulator guard).`);
    }
    cards.push({ contentType: a.contentType, content: content as Record<string, unknown> });
  }
  if (!body.text && !body.markdown && !body.html && !body.files?.length && cards.length === 0) {
    throw new WebexHttpError(400, 'A message needs text, markdown, html, files or attachments.');
  }
  return { cards };
}
