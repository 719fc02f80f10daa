import { MAX_TEXT_BYTES, truncateBytes } from './limits.js';

/**
 * The small subset of Adaptive Cards 1.3 Sightline uses, as plain builders.
 * Every text goes through truncateBytes so no field exceeds Webex's 7439 bytes.
 */
export type CardElement = Record<string, unknown>;
export type CardAction = Record<string, unknown>;

export const CARD_CONTENT_TYPE = 'application/vnd.microsoft.card.adaptive';

export function adaptiveCard(body: CardElement[], actions: CardAction[] = []): Record<string, unknown> {
  const card: Record<string, unknown> = {
    $schema: 'http://adaptivecards.io/schemas/adaptive-card.json',
    type: 'AdaptiveCard',
    version: '1.3',
    body,
  };
  // Webex shows at most five buttons per card (webex.md §3.4).
  if (actions.length > 0) card.actions = actions.slice(0, 5);
  return card;
}

export function heading(text: string, opts: { color?: 'Attention' | 'Good' | 'Warning' | 'Accent' } = {}): CardElement {
  const block: CardElement = { type: 'TextBlock', text: truncateBytes(text), size: 'Large', weight: 'Bolder', wrap: true };
  if (opts.color) block.color = opts.color;
  return block;
}

export function subheading(text: string): CardElement {
  return { type: 'TextBlock', text: truncateBytes(text), size: 'Medium', weight: 'Bolder', wrap: true, spacing: 'Medium' };
}

export function textBlock(text: string, opts: { subtle?: boolean; italic?: boolean; color?: string } = {}): CardElement {
  const block: CardElement = { type: 'TextBlock', text: truncateBytes(text, MAX_TEXT_BYTES), wrap: true };
  if (opts.subtle) block.isSubtle = true;
  if (opts.italic) block.italic = true;
  if (opts.color) block.color = opts.color;
  return block;
}

export function factSet(facts: [title: string, value: string | undefined][]): CardElement {
  return {
    type: 'FactSet',
    facts: facts
      .filter((f): f is [string, string] => f[1] !== undefined && f[1] !== '')
      .map(([title, value]) => ({ title: truncateBytes(title, 256), value: truncateBytes(value) })),
  };
}

export function container(items: CardElement[], opts: { separator?: boolean; style?: 'emphasis' | 'attention' | 'good' | 'warning' } = {}): CardElement {
  const c: CardElement = { type: 'Container', items };
  if (opts.separator) {
    c.separator = true;
    c.spacing = 'Medium';
  }
  if (opts.style) c.style = opts.style;
  return c;
}

export function openUrl(title: string, url: string): CardAction {
  return { type: 'Action.OpenUrl', title, url };
}

export function submit(title: string, data: Record<string, unknown>): CardAction {
  return { type: 'Action.Submit', title, data };
}

/** Only http(s) URLs become links or buttons; anything else (javascript:, file paths) stays text. */
export function safeUrl(url: string | undefined): string | undefined {
  if (!url) return undefined;
  try {
    const parsed = new URL(url);
    return parsed.protocol === 'https:' || parsed.protocol === 'http:' ? parsed.toString() : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Escapes text from outside (threat descriptions, target names, IOC values) for
 * Webex markdown, so a `*`, `_` or `<script>` shows as typed instead of
 * formatting or markup. The seed replaced quotes with `**` and mangled them.
 */
export function md(text: string): string {
  return text
    // Values never start a line (newlines become spaces), so `#`, `>` and list markers are harmless.
    .replace(/[\\`*[\]<~]/g, (c) => `\\${c}`)
    // An underscore inside a word (amp_computer_guid) never starts emphasis; escaping it would only add noise.
    .replace(/_/g, (c, i: number, all: string) => (/[\p{L}\p{N}]/u.test(all[i - 1] ?? '') && /[\p{L}\p{N}]/u.test(all[i + 1] ?? '') ? c : `\\${c}`))
    .replace(/\r?\n/g, ' ');
}

/** An inline code span that survives any value, including ones with backticks. */
export function code(text: string): string {
  const clean = text.replace(/[\r\n]+/g, ' ');
  const longestRun = Math.max(0, ...(clean.match(/`+/g) ?? []).map((r) => r.length));
  const fence = '`'.repeat(longestRun + 1);
  const pad = clean.startsWith('`') || clean.endsWith('`') ? ' ' : '';
  return `${fence}${pad}${clean}${pad}${fence}`;
}

export function mdLink(label: string, url: string | undefined): string | undefined {
  const safe = safeUrl(url);
  return safe ? `[${md(label)}](${safe.replace(/\(/g, '%28').replace(/\)/g, '%29')})` : undefined;
}


export function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}
