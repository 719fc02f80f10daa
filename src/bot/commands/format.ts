/**
 * Small markdown helpers for chat replies, on top of the shared notify/markdown.ts
 * (which has no dependency on the card renderers).
 */

import { code as codeSpan, md, mdLink } from '../../notify/markdown.js';

// One escaping for chat replies and cards alike (notify/markdown.ts): outside text is
// inert there — no control character, mention token or link survives.
export { md };

/** An inline code span that survives any value, including backticks; long values are cut. */
export function code(text: string, maxChars = 80): string {
  const chars = Array.from(text);
  return codeSpan(chars.length > maxChars ? `${chars.slice(0, maxChars - 1).join('')}…` : text);
}

/** A markdown link for http(s) URLs only (the bot's own: XDR incident, casebook); anything else gives undefined. */
export function link(label: string, url: string | undefined): string | undefined {
  return mdLink(label, url);
}

/** "2026-11-25 12:45 UTC" for ISO timestamps; anything unparseable is shown as given. */
export function when(iso: string | undefined): string {
  if (!iso) return 'unknown';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return md(iso);
  return `${d.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

export function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

/** Webex refuses `markdown` over 7439 bytes (webex.md §3.4). */
export const MAX_MARKDOWN_BYTES = 7439;

export function fitBytes(text: string, maxBytes = MAX_MARKDOWN_BYTES): string {
  const bytes = (t: string) => new TextEncoder().encode(t).length;
  if (bytes(text) <= maxBytes) return text;
  // Cut on code points (never inside a surrogate pair): the longest prefix that fits with "…".
  const chars = Array.from(text);
  let lo = 0;
  let hi = chars.length;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (bytes(`${chars.slice(0, mid).join('')}…`) <= maxBytes) lo = mid;
    else hi = mid - 1;
  }
  return `${chars.slice(0, lo).join('')}…`;
}
