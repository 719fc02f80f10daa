/**
 * The one place where text from outside (sightings, Talos files, XDR answers,
 * feeds, chat arguments) is made harmless before any renderer — Webex markdown,
 * Adaptive Cards, e-mail — shows it. It knows nothing about markdown: it only
 * removes what could shape a message whatever the markup language around it.
 *
 * - Control and invisible characters never pass: line and paragraph breaks of
 *   any kind (`\n`, a lone `\r`, NEL, U+2028/2029) and tabs become one space,
 *   so a value can never start a line (no heading, quote or list); every other
 *   C0/C1 control, zero-width, bidi override, soft hyphen, filler or lone
 *   surrogate is shown as a visible `⟨U+200B⟩`, so `desktop\u200b-1` does not
 *   look like `desktop-1` to the analyst.
 * - Mention tokens never pass: the `@` right after a `<` (or an HTML-escaped
 *   `<`) becomes a fullwidth `＠`, which breaks `<@all>`, `<@personEmail:…>`,
 *   `<@personId:…>`, `<@groupMention…>` in and outside code spans.
 * - Links never pass: URLs are defanged as threat-intel tools do
 *   (`hxxps://evil[.]example/login`, `www[.]…`), so no client turns them into a
 *   clickable link; the only links are the ones renderers build from the bot's
 *   own URLs.
 */

// Line breaks and tabs of every kind: shown as one space.
const BREAKS = /[\t\n\v\f\r\u0085\u2028\u2029]+/g;

// Everything else that is invisible or steers the text: controls (Cc), format characters (Cf: zero-width,
// bidi embeddings/overrides/isolates, soft hyphen, word joiner, BOM, tag characters), lone surrogates (Cs),
// and the blank "letters" that render as nothing (combining grapheme joiner, Hangul fillers, Khmer vowels,
// Mongolian variation selectors, braille blank).
const INVISIBLE = /[\p{Cc}\p{Cf}\p{Cs}\u034F\u115F\u1160\u17B4\u17B5\u180B-\u180F\u2800\u3164\uFFA0]/gu;

/** The visible stand-in for an invisible character: `⟨U+200B⟩`. */
export function codePointMark(ch: string): string {
  return `⟨U+${(ch.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0')}⟩`;
}

/** Control and invisible characters out (breaks → one space, the rest → `⟨U+XXXX⟩`). */
export function visible(text: string): string {
  return text.replace(BREAKS, ' ').replace(INVISIBLE, codePointMark);
}

// `<@`, `< @`, `&lt;@`, `&#60;@`, `&#x3c;@`: whatever a renderer might turn back into `<@`.
const MENTION_START = /(<|&lt;?|&#0*60;?|&#x0*3c;?)(\s*)[@＠﹫]/gi;

/** Breaks every Webex mention token: the `@` after `<` becomes a fullwidth `＠`. */
export function noMentions(text: string): string {
  return text.replace(MENTION_START, (_m, lt: string, space: string) => `${lt}${space}＠`);
}

const SCHEME_URL = /\b([a-z][a-z0-9+.-]{0,30}):(\/\/|\\\\)([^\s/\\?#]*)/gi;
const WWW = /\bwww\./gi;

function defangScheme(scheme: string): string {
  const lower = scheme.toLowerCase();
  if (lower === 'hxxp' || lower === 'hxxps' || lower === 'fxp') return scheme; // already defanged
  if (lower === 'http' || lower === 'https') return `hxxp${lower.slice(4)}`;
  if (lower === 'ftp') return 'fxp';
  return `${scheme}[:]`;
}

/** URLs shown as text, not links: `hxxps://evil[.]example/x`, `www[.]evil…`. */
export function defang(text: string): string {
  // Until nothing changes: a match's host part may swallow the scheme of a URL right behind it
  // (`A:\\[x](https://evil.example)`: host `[x](https:`), which the next pass then finds. Each pass that
  // changes something defangs at least one scheme more, and defanging twice changes nothing (hxxp(s)/fxp,
  // `[:]` and `[.]` are left as they are), so this ends; the bound is only a guard.
  let out = text;
  for (let pass = 0; pass < 8; pass++) {
    const next = out.replace(SCHEME_URL, (_m, scheme: string, slashes: string, host: string) => {
      const s = defangScheme(scheme);
      return `${s}${s.endsWith('[:]') ? '' : ':'}${slashes}${host.replace(/(?<!\[)\.(?!\])/g, '[.]')}`;
    });
    if (next === out) break;
    out = next;
  }
  return out.replace(WWW, 'www[.]');
}

/**
 * Outside text made inert for any renderer: visible, no mention, no link.
 * Markup escaping (markdown, HTML) is the renderer's job, on top of this.
 */
export function inert(text: string): string {
  return defang(noMentions(visible(text)));
}
