import { inert } from './inert.js';

/**
 * Webex markdown for outside values, used by every chat message and every card
 * (Webex renders markdown in card TextBlocks and FactSets too). All values pass
 * through inert() first: no control character, mention or link survives.
 */

/**
 * Escapes outside text (threat descriptions, target names, IOC values) so it
 * shows as typed: a `*`, `_`, `[` or `<` never formats, links or tags.
 */
export function md(text: string): string {
  return inert(text)
    .replace(/[\\`*[\]<>~|#]/g, (c) => `\\${c}`)
    // A card TextBlock may start with a value: a leading list marker must not make it a list.
    .replace(/^(\s*)([-+=])/, '$1\\$2')
    .replace(/^(\s*\d+)([.)])/, '$1\\$2')
    // An underscore inside a word (amp_computer_guid) never starts emphasis; escaping it would only add noise.
    .replace(/_/g, (c, i: number, all: string) => (/[\p{L}\p{N}]/u.test(all[i - 1] ?? '') && /[\p{L}\p{N}]/u.test(all[i + 1] ?? '') ? c : `\\${c}`));
}

/** An inline code span that survives any value, including ones with backticks. */
export function code(text: string): string {
  const clean = inert(text);
  const longestRun = Math.max(0, ...(clean.match(/`+/g) ?? []).map((r) => r.length));
  const fence = '`'.repeat(longestRun + 1);
  const pad = clean.startsWith('`') || clean.endsWith('`') || clean === '' ? ' ' : '';
  return `${fence}${pad}${clean}${pad}${fence}`;
}

/**
 * A sentence the bot wrote around outside values it did not escape (an error's
 * userMessage: "No open incident for <what was typed>: try `incidents`"): made
 * inert, with link and tag brackets escaped; the bot's `code` hints keep working.
 */
export function sentence(text: string): string {
  return inert(text).replace(/[\\[\]<>]/g, (c) => `\\${c}`);
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
 * A markdown link. Only for URLs the bot builds itself (casebook, incident,
 * roundup file): a URL from a sighting or a feed is shown with md(), defanged.
 */
export function mdLink(label: string, url: string | undefined): string | undefined {
  const safe = safeUrl(url);
  return safe ? `[${md(label)}](${safe.replace(/[()<> ]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)})` : undefined;
}

/** Markdown the bot wrote itself; card builders pass it through, and escape everything else. */
export class Markup {
  constructor(readonly markdown: string) {}
  toString(): string {
    return this.markdown;
  }
}

export type Text = string | Markup;

/** Bot-made markdown (a link from mdLink, a list the bot wrote), marked as such for the card builders. */
export function trusted(markdown: string): Markup {
  return new Markup(markdown);
}

/**
 * A tagged template for card text: the literal parts are the bot's markdown,
 * every interpolated value is escaped with md() unless it is Markup already.
 * `markup\`**${threat.name}**\`` makes the name bold and nothing else.
 */
export function markup(strings: TemplateStringsArray, ...values: unknown[]): Markup {
  let out = strings[0] ?? '';
  values.forEach((v, i) => {
    out += v instanceof Markup ? v.markdown : md(String(v));
    out += strings[i + 1] ?? '';
  });
  return new Markup(out);
}

/** Card text as markdown: Markup as written, anything else escaped. */
export function cardText(text: Text): string {
  return text instanceof Markup ? text.markdown : md(text);
}
