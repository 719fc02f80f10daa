/**
 * Webex message limits (webex.md §3.4): `markdown` and `text` are at most 7439
 * bytes each. Webex documents no card size limit, so we cap our own card JSON
 * at 16 KB and shrink lists until the card fits.
 */
export const MAX_TEXT_BYTES = 7439;
export const MAX_CARD_BYTES = 16 * 1024;
export const ELLIPSIS = '…';

export interface WebexMessageContent {
  markdown: string;
  card?: Record<string, unknown>;
}

const encoder = new TextEncoder();

export function byteLength(text: string): number {
  return encoder.encode(text).length;
}

/** Cuts text to at most `maxBytes` UTF-8 bytes on a character boundary, ending with "…" when cut. */
export function truncateBytes(text: string, maxBytes = MAX_TEXT_BYTES): string {
  if (byteLength(text) <= maxBytes) return text;
  const budget = maxBytes - byteLength(ELLIPSIS);
  let used = 0;
  let out = '';
  for (const ch of text) {
    const size = byteLength(ch);
    if (used + size > budget) break;
    used += size;
    out += ch;
  }
  return out + ELLIPSIS;
}

/** Cuts text to at most `maxChars` characters (code points), ending with "…" when cut. */
export function truncateChars(text: string, maxChars: number): string {
  const chars = [...text];
  if (chars.length <= maxChars) return text;
  return chars.slice(0, Math.max(0, maxChars - 1)).join('') + ELLIPSIS;
}

/** The first `max` items and how many were left out. */
export function cutList<T>(items: readonly T[], max: number): { shown: T[]; more: number } {
  const limit = Math.max(0, Math.floor(max));
  return { shown: items.slice(0, limit), more: Math.max(0, items.length - limit) };
}

/** "and 12 more" — followed by a (markdown) link to where the full list lives, when there is one. */
export function andMore(more: number, link?: string): string {
  const base = `and ${more} more`;
  return link ? `${base} — ${link}` : base;
}

export function cardBytes(card: Record<string, unknown>): number {
  return byteLength(JSON.stringify(card));
}

/**
 * List budgets tried in turn, largest first. Builders show at most `budget`
 * items per list; the first budget whose output fits wins.
 */
export const LIST_BUDGETS = [50, 25, 12, 6, 3, 1, 0] as const;

/**
 * Builds a message with shrinking list budgets until the card fits in
 * MAX_CARD_BYTES and the markdown in MAX_TEXT_BYTES. Card and markdown shrink
 * independently. If even the smallest card is too big the card is dropped:
 * the markdown fallback is always there.
 */
export function fitMessage(build: (budget: number) => WebexMessageContent): WebexMessageContent {
  let markdown: string | undefined;
  let card: Record<string, unknown> | undefined;
  let cardSettled = false;
  for (const budget of LIST_BUDGETS) {
    const candidate = build(budget);
    if (markdown === undefined && byteLength(candidate.markdown) <= MAX_TEXT_BYTES) markdown = candidate.markdown;
    if (!cardSettled) {
      if (candidate.card === undefined) cardSettled = true;
      else if (cardBytes(candidate.card) <= MAX_CARD_BYTES) {
        card = candidate.card;
        cardSettled = true;
      }
    }
    if (markdown !== undefined && cardSettled) break;
  }
  const out: WebexMessageContent = { markdown: markdown ?? truncateBytes(build(0).markdown) };
  if (card) out.card = card;
  return out;
}
