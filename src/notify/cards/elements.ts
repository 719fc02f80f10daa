import { cardText, type Text } from '../markdown.js';
import { MAX_TEXT_BYTES, truncateBytes } from './limits.js';

// The markdown helpers live in one place for every renderer (chat, cards); re-exported for the card modules.
export { code, markup, md, mdLink, safeUrl, trusted, type Text } from '../markdown.js';

/**
 * The small subset of Adaptive Cards 1.3 Sightline uses, as plain builders.
 * Every text goes through truncateBytes so no field exceeds Webex's 7439 bytes,
 * and through cardText(): Webex renders markdown in TextBlocks and FactSets, so a
 * plain string is outside text and escaped; the bot's own markdown comes as
 * Markup (markup`…`, trusted()).
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

export function heading(text: Text, opts: { color?: 'Attention' | 'Good' | 'Warning' | 'Accent' } = {}): CardElement {
  const block: CardElement = { type: 'TextBlock', text: truncateBytes(cardText(text)), size: 'Large', weight: 'Bolder', wrap: true };
  if (opts.color) block.color = opts.color;
  return block;
}

export function subheading(text: Text): CardElement {
  return { type: 'TextBlock', text: truncateBytes(cardText(text)), size: 'Medium', weight: 'Bolder', wrap: true, spacing: 'Medium' };
}

export function textBlock(text: Text, opts: { subtle?: boolean; italic?: boolean; color?: string } = {}): CardElement {
  const block: CardElement = { type: 'TextBlock', text: truncateBytes(cardText(text), MAX_TEXT_BYTES), wrap: true };
  if (opts.subtle) block.isSubtle = true;
  if (opts.italic) block.italic = true;
  if (opts.color) block.color = opts.color;
  return block;
}

export function factSet(facts: [title: Text, value: Text | undefined][]): CardElement {
  return {
    type: 'FactSet',
    facts: facts
      .filter((f): f is [Text, Text] => f[1] !== undefined && String(f[1]) !== '')
      .map(([title, value]) => ({ title: truncateBytes(cardText(title), 256), value: truncateBytes(cardText(value)) })),
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

export function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}
