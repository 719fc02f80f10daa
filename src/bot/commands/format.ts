/**
 * Small markdown helpers for chat replies. Kept here (not imported from the card
 * renderers) so the command layer works whether or not the cards exist.
 */

/** Escapes text from outside (targets, IOCs, reasons) so it shows as typed in Webex markdown. */
export function md(text: string): string {
  return text.replace(/[\\`*_{}[\]<>#|~]/g, (c) => `\\${c}`).replace(/\r?\n/g, ' ');
}

/** An inline code span that survives any value, including backticks; long values are cut. */
export function code(text: string, maxChars = 80): string {
  let clean = text.replace(/[\r\n]+/g, ' ');
  if (clean.length > maxChars) clean = `${clean.slice(0, maxChars - 1)}…`;
  const longestRun = Math.max(0, ...(clean.match(/`+/g) ?? []).map((r) => r.length));
  const fence = '`'.repeat(longestRun + 1);
  const pad = clean.startsWith('`') || clean.endsWith('`') || clean === '' ? ' ' : '';
  return `${fence}${pad}${clean}${pad}${fence}`;
}

/** A markdown link for http(s) URLs only; anything else (javascript:, file:) gives undefined. */
export function link(label: string, url: string | undefined): string | undefined {
  if (!url) return undefined;
  try {
    const parsed = new URL(url);
    if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') return undefined;
    return `[${md(label)}](${parsed.toString().replace(/[()]/g, encodeURIComponent)})`;
  } catch {
    return undefined;
  }
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
