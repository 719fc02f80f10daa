import type { Command } from './command.js';

export type ParseResult =
  | { kind: 'empty' }
  | { kind: 'ok'; command: Command; args: unknown; text: string }
  | { kind: 'malformed'; command: Command; problem: string; text: string }
  | { kind: 'unknown'; text: string };

/** Invisible characters some clients insert around mentions and pasted text. */
const INVISIBLE = /[\u200B-\u200D\u2060\uFEFF]/g;

/** Trimmed, single-spaced, without a leading `/` (Slack habit) — the text patterns see. */
export function normalize(text: string): string {
  return text
    .replace(INVISIBLE, '')
    .replace(/\s+/g, ' ')
    .trim()
    .replace(/^\/+\s*/, '');
}

/** Matches normalised text against the table; a recognised command with bad arguments is `malformed`. */
export function parseCommand(text: string, table: readonly Command[]): ParseResult {
  const normalized = normalize(text);
  if (normalized === '') return { kind: 'empty' };
  for (const command of table) {
    const match = command.pattern.exec(normalized);
    if (!match) continue;
    const parsed = command.args.safeParse({ ...match.groups });
    if (parsed.success) return { kind: 'ok', command, args: parsed.data, text: normalized };
    const issue = parsed.error.issues[0];
    return { kind: 'malformed', command, problem: issue?.message ?? 'the arguments are not valid', text: normalized };
  }
  return { kind: 'unknown', text: normalized };
}

/**
 * The transport strips the bot's @mention, but in group spaces Webex puts the
 * bot's display name into `text` (webex.md §3.9), so if a message is unknown as
 * typed we retry once without a leading bot name (full name or first word).
 * Only names are stripped — never arbitrary words — so "don't hunt now" stays unknown.
 */
export function parseWithoutMention(text: string, table: readonly Command[], botNames: readonly string[]): ParseResult {
  const first = parseCommand(text, table);
  if (first.kind !== 'unknown') return first;
  const lower = first.text.toLowerCase();
  const candidates = new Set<string>();
  for (const name of botNames) {
    const clean = normalize(name).toLowerCase();
    if (clean) candidates.add(clean);
    const firstWord = clean.split(' ')[0];
    if (firstWord) candidates.add(firstWord);
  }
  // Longest first, so "hunt bot" wins over "hunt".
  for (const name of [...candidates].sort((a, b) => b.length - a.length)) {
    for (const prefix of [name, `@${name}`]) {
      if (lower === prefix || lower.startsWith(`${prefix} `)) {
        const rest = parseCommand(first.text.slice(prefix.length), table);
        if (rest.kind !== 'unknown') return rest;
      }
    }
  }
  return first;
}
