import fc from 'fast-check';
import { markdownReplies, type IncidentPage, type Replies } from '../../src/bot/commands/replies.js';
import { cardReplies } from '../../src/bot/commands/card-replies.js';
import type { HuntStatus } from '../../src/domain/ports/services.js';
import type { Observable, TargetFinding } from '../../src/domain/types.js';
import { renderForWebex } from '../../src/notify/cards/index.js';
import { renderEmail } from '../../src/notify/email/render.js';
import type { HuntRef, IncidentView, Notification, ThreatOutcome, ThreatSummary } from '../../src/notify/notification.js';

/**
 * Hostile-content generators for what the bot SHOWS (issue 17 items 3, 4, 6):
 * markup (links, autolinks, bare URLs, emphasis, block markers), mention
 * tokens, control and invisible characters. Every string field of every
 * notification and chat reply gets them; the only trusted values are the URLs
 * the bot builds itself (incident, casebook, roundup file) and the on-call
 * addresses it mentions on purpose. findLeaks() then looks at everything that
 * would reach Webex or the mail server.
 *
 * Shared by test/notify/hostile-render.test.ts (property test) and
 * reliability/hostile-input.ts (the figures in docs/RELIABILITY.md).
 */

/** Marks a payload's own line start: if it ever starts a line with a live block marker, a break survived. */
export const SENTINEL = 'PWNLINE';

export const MARKUP_PAYLOADS = [
  '[Reset your VPN password](https://evil.example/login)',
  '[click](javascript:alert(1))',
  '![pixel](https://evil.example/p.png)',
  '<https://evil.example/autolink>',
  'https://evil.example/login?next=1',
  'HTTP://EVIL.example/upper',
  'ftp://evil.example/f',
  'www.evil.example/path',
  '[ref]: https://evil.example/ref',
  '[ref]',
  '<a href="https://evil.example">x</a>',
  '<script>alert(1)</script>',
  '**bold** __bold__ *it* _it_ ~~gone~~ `code` ``two``',
  '| a | b |\n|---|---|',
  '\\[escaped](https://evil.example/esc)',
  '[nested [link](https://evil.example/n)](https://evil.example/o)',
];

export const MENTION_PAYLOADS = [
  '<@all>',
  '<@personEmail:ceo@corp.example|CEO>',
  '<@personEmail:ceo@corp.example>',
  '<@personId:Y2lzY29zcGFyazovL3VzL1BFT1BMRS8x|Someone>',
  '<@groupMention:all>',
  '<@groupMention:Y2lzY29zcGFyazovL3VzL0dST1VQLzE|SOC>',
  '< @all>',
  '\\<@all>',
  '&lt;@all&gt;',
  '&#60;@all>',
  '&#x3C;@all>',
  '<\u200b@all>',
  '`<@all>`',
];

/** Line-shaping payloads: each puts a block marker and the SENTINEL right after a break of some kind. */
export const BREAK_PAYLOADS = [
  `AMP\r\r# ${SENTINEL} ALL HOSTS COMPROMISED\r\r> click`,
  `x\n# ${SENTINEL}`,
  `x\r> ${SENTINEL}`,
  `x\r\n- ${SENTINEL}`,
  `x\u2028## ${SENTINEL}`,
  `x\u2029> ${SENTINEL}`,
  `x\u0085- ${SENTINEL}`,
  `x\v1. ${SENTINEL}`,
  `x\f> ${SENTINEL}`,
  `\r# ${SENTINEL}`,
];

/** C0 and C1 controls, zero-width and bidi characters, fillers, a lone surrogate, a tag character. */
export const INVISIBLE_CHARS = [
  '\u0000', '\u0001', '\u0007', '\u0008', '\t', '\u001b', '\u001f', '\u007f', '\u0080', '\u0085', '\u009b', '\u009f',
  '\u00ad', '\u034f', '\u061c', '\u115f', '\u180e', '\u200b', '\u200c', '\u200d', '\u200e', '\u200f',
  '\u202a', '\u202b', '\u202c', '\u202d', '\u202e', '\u2060', '\u2061', '\u2066', '\u2067', '\u2068', '\u2069',
  '\u3164', '\ufeff', '\ufff9', '\ud800', '\udfff', '\u{e0001}', '\u{e0041}', '\u2028', '\u2029', '\r',
];

const PAYLOADS = [...MARKUP_PAYLOADS, ...MENTION_PAYLOADS, ...BREAK_PAYLOADS];

/** One hostile string: a payload alone, wrapped in noise, several glued together, or invisible characters sprinkled in. */
export function hostileText(): fc.Arbitrary<string> {
  const noise = fc.string({ maxLength: 12 });
  const payload = fc.constantFrom(...PAYLOADS);
  const invisible = fc.constantFrom(...INVISIBLE_CHARS);
  return fc.oneof(
    payload,
    fc.tuple(noise, payload, noise).map(([a, p, b]) => `${a}${p}${b}`),
    fc.array(fc.oneof(payload, invisible, noise), { minLength: 1, maxLength: 6 }).map((parts) => parts.join('')),
    fc.string({ unit: fc.oneof(invisible, fc.constantFrom('<', '@', '[', ']', '(', ')', '*', '_', '`', '#', '>', '\\', ':', '/', '.', 'a')), maxLength: 30 }),
    fc.string({ unit: 'binary', maxLength: 30 }),
  );
}

/** The URLs the bot builds itself: the only link targets allowed in what it sends. */
export const BOT_URLS = {
  incident: 'https://visibility.amp.cisco.com/incidents?q=id:incident-2230b97f#summary',
  casebook: 'https://securex.us.security.cisco.com/investigate?casebook=7a1f0c52',
  roundup: 'https://raw.githubusercontent.com/Cisco-Talos/Threat-Round-Up/master/2021/0723.json',
  blog: 'https://blog.talosintelligence.com/uat-10147-deploys-spectre/',
} as const;

/** Who the `mention` rung mentions (CORRELATION_ONCALL): the only mention token allowed. */
export const ONCALL = ['oncall@corp.example'];
export const ALLOWED_MENTIONS = ONCALL.map((e) => `<@personEmail:${e}>`);

const h = hostileText;
const observable = (): fc.Arbitrary<Observable> => fc.record({ type: h(), value: h() });
const maybe = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: undefined });

export function hostileHunt(): fc.Arbitrary<HuntRef> {
  return fc.record({ id: h(), label: h(), uri: fc.constant(BOT_URLS.roundup), dryRun: fc.boolean() });
}

export function hostileTarget(): fc.Arbitrary<TargetFinding> {
  return fc.record({
    key: h(),
    type: h(),
    identifiers: fc.array(observable(), { minLength: 1, maxLength: 3 }),
    modules: fc.array(h(), { maxLength: 3 }),
    observables: fc.array(observable(), { maxLength: 4 }),
    firstSeen: maybe(h()),
    lastSeen: maybe(h()),
    sourceUris: fc.array(fc.oneof(h(), fc.constant('https://evil.example/source'), fc.constant('javascript:alert(1)')), { maxLength: 3 }),
  });
}

export function hostileOutcome(): fc.Arbitrary<ThreatOutcome> {
  return fc.record({
    name: h(),
    description: h(),
    observables: fc.nat(500),
    clean: fc.nat(500),
    investigated: fc.nat(500),
    rejected: fc.nat(50),
    targets: fc.array(hostileTarget(), { maxLength: 3 }),
    casebook: maybe(fc.record({ id: h(), url: fc.constant(BOT_URLS.casebook) })),
    incident: maybe(fc.record({ id: h(), url: fc.constant(BOT_URLS.incident) })),
    link: maybe(fc.constant(BOT_URLS.blog)),
    moduleErrors: fc.array(h(), { maxLength: 2 }),
    error: maybe(h()),
  });
}

export function hostileIncident(): fc.Arbitrary<IncidentView> {
  return fc.record({
    id: h(),
    targetKey: h(),
    targetType: h(),
    targetValue: h(),
    count: fc.integer({ min: 1, max: 10_000 }),
    status: fc.oneof(h(), fc.constantFrom('Open', 'Closed')),
    firstSeen: h(),
    lastSeen: h(),
    lastIoc: maybe(observable()),
    lastSource: maybe(h()),
    url: maybe(fc.constant(BOT_URLS.incident)),
    previousId: maybe(h()),
    rungsFired: fc.array(h(), { maxLength: 2 }),
  });
}

const summary = (): fc.Arbitrary<ThreatSummary> =>
  fc.record({ name: h(), description: h(), observableCount: fc.nat(500), rejectedCount: fc.nat(50) });

/** Every kind of notification the bot sends, every string field hostile. */
export function hostileNotification(): fc.Arbitrary<Notification> {
  return fc.oneof(
    fc.record({ kind: fc.constant('hunt_started' as const), hunt: hostileHunt(), publicationDate: maybe(h()), threats: fc.array(summary(), { maxLength: 3 }) }),
    fc.record({ kind: fc.constant('threat_targets' as const), hunt: hostileHunt(), threat: hostileOutcome() }),
    fc.record({ kind: fc.constant('threat_no_targets' as const), hunt: hostileHunt(), threat: hostileOutcome() }),
    fc.record({ kind: fc.constant('hunt_finished' as const), hunt: hostileHunt(), threats: fc.array(hostileOutcome(), { maxLength: 3 }), xdrCalls: fc.nat(), durationMs: fc.nat() }),
    fc.record({ kind: fc.constant('not_published' as const), week: h(), uri: fc.constant(BOT_URLS.roundup), attempts: fc.nat(30) }),
    fc.record({ kind: fc.constant('hunt_failed' as const), hunt: maybe(hostileHunt()), week: maybe(h()), error: h() }),
    fc.record({ kind: fc.constant('incident_opened' as const), incident: hostileIncident() }),
    fc.record({ kind: fc.constant('incident_updated' as const), incident: hostileIncident(), newSightings: fc.nat(100), crossed: fc.array(h(), { maxLength: 2 }), replyTo: maybe(fc.constant('msg-1')) }),
    fc.record({ kind: fc.constant('incident_closed' as const), incident: hostileIncident(), by: h(), reason: maybe(h()) }),
    fc.record({
      kind: fc.constant('rung_fired' as const),
      incident: hostileIncident(),
      rung: h(),
      action: h(),
      outcome: maybe(h()),
      firedAtCount: maybe(fc.integer({ min: 1, max: 100 })),
      mention: fc.constant(ONCALL),
      dryRun: fc.boolean(),
    }),
    fc.record({ kind: fc.constant('talos_nothing_new' as const), week: h(), sources: fc.array(h(), { maxLength: 2 }) }),
    fc.record({
      kind: fc.constant('incident_digest' as const),
      phase: fc.constantFrom('started' as const, 'digest' as const, 'ended' as const),
      top: fc.array(hostileIncident(), { maxLength: 3 }),
      more: fc.nat(5000),
      newIncidents: fc.nat(5000),
      updatedIncidents: fc.nat(5000),
      escalations: fc.array(fc.record({ rung: h(), action: h(), incidents: fc.nat(100), dryRun: fc.boolean() }), { maxLength: 2 }),
      mention: fc.constant(ONCALL),
    }),
  );
}

export function hostileHuntStatus(): fc.Arbitrary<HuntStatus> {
  return fc.record({
    running: maybe(fc.record({ id: h(), label: h(), startedAt: h(), threatsDone: fc.nat(99), threatsTotal: fc.nat(99) })),
    last: maybe(fc.record({ id: h(), label: h(), status: h(), startedAt: h(), finishedAt: maybe(h()), summary: maybe(h()) })),
    nextRun: maybe(h()),
    pendingRetry: maybe(fc.record({ week: h(), attempt: fc.nat(30), maxAttempts: fc.nat(30), nextAttemptAt: h() })),
    cursorUrlId: maybe(fc.nat()),
    sources: maybe(fc.array(fc.record({ name: h(), cursor: h() }), { maxLength: 2 })),
    xdrDeadLetters: maybe(
      fc.record({ total: fc.nat(50), latest: fc.array(fc.record({ incidentId: h(), target: h(), kind: h(), reason: h(), at: h() }), { maxLength: 2 }) }),
    ),
  });
}

/** A chat reply the bot can send, built from hostile values (help is built from the bot's own table). */
export type HostileReply =
  | { kind: 'huntStatus'; status: HuntStatus }
  | { kind: 'incidentList'; page: IncidentPage }
  | { kind: 'incidentClosed'; incident: IncidentView; reason?: string | undefined }
  | { kind: 'alreadyClosed'; incident: IncidentView; open?: IncidentView | undefined }
  | { kind: 'sightings'; incidentId: string; list: { observedAt: string; ioc: string; source: string }[] };

export function hostileReply(): fc.Arbitrary<HostileReply> {
  return fc.oneof(
    fc.record({ kind: fc.constant('huntStatus' as const), status: hostileHuntStatus() }),
    fc.record({
      kind: fc.constant('incidentList' as const),
      page: fc.record({ filter: fc.constantFrom('open' as const, 'closed' as const, 'all' as const), items: fc.array(hostileIncident(), { maxLength: 3 }), page: fc.integer({ min: 1, max: 3 }), pageSize: fc.constant(10), total: fc.integer({ min: 0, max: 40 }) }),
    }),
    fc.record({ kind: fc.constant('incidentClosed' as const), incident: hostileIncident(), reason: maybe(h()) }),
    fc.record({ kind: fc.constant('alreadyClosed' as const), incident: hostileIncident(), open: maybe(hostileIncident()) }),
    fc.record({ kind: fc.constant('sightings' as const), incidentId: h(), list: fc.array(fc.record({ observedAt: h(), ioc: h(), source: h() }), { maxLength: 3 }) }),
  );
}

/** One rendered output, as the outside world would get it. */
export interface Rendered {
  where: string;
  text: string;
  /** Markdown (Webex message or card text) rather than e-mail. */
  markdown: boolean;
}

// Card fields that are not shown as text (or that the bot alone fills: button data, the bot's own URLs).
const NOT_SHOWN = new Set(['data', 'url', '$schema', 'type', 'version', 'color', 'size', 'weight', 'spacing', 'style', 'wrap', 'isSubtle', 'italic', 'separator']);

function cardStrings(node: unknown, path: string, out: Rendered[]): void {
  if (typeof node === 'string') out.push({ where: path, text: node, markdown: true });
  else if (Array.isArray(node)) node.forEach((x, i) => cardStrings(x, `${path}[${i}]`, out));
  else if (node && typeof node === 'object') {
    for (const [k, v] of Object.entries(node)) if (!NOT_SHOWN.has(k)) cardStrings(v, `${path}.${k}`, out);
  }
}

function pushMessage(where: string, m: { markdown: string; card?: Record<string, unknown> | undefined }, out: Rendered[]): void {
  out.push({ where: `${where}.markdown`, text: m.markdown, markdown: true });
  if (m.card) cardStrings(m.card, `${where}.card`, out);
}

/** Everything one notification becomes: each Webex message (markdown and card text) and the e-mail. */
export function renderNotification(n: Notification): Rendered[] {
  const out: Rendered[] = [];
  // maxTargetCards 1 so the "remaining targets" message is rendered too.
  renderForWebex(n, { maxTargetCards: 1 }).forEach((m, i) => pushMessage(`${n.kind}#${i}`, m, out));
  const mail = renderEmail(n);
  if (mail) {
    out.push({ where: `${n.kind}.email.subject`, text: mail.subject, markdown: false });
    out.push({ where: `${n.kind}.email.text`, text: mail.text, markdown: false });
    out.push({ where: `${n.kind}.email.html`, text: mail.html, markdown: false });
  }
  return out;
}

/** A chat reply, in both forms the bot may send it (markdown only, and with a card). */
export function renderReply(r: HostileReply): Rendered[] {
  const out: Rendered[] = [];
  const forms: [string, Replies][] = [['markdown', markdownReplies], ['card', cardReplies()]];
  for (const [name, replies] of forms) {
    const where = `${r.kind}.${name}`;
    if (r.kind === 'huntStatus') pushMessage(where, replies.huntStatus(r.status), out);
    else if (r.kind === 'incidentList') pushMessage(where, replies.incidentList(r.page), out);
    else if (r.kind === 'incidentClosed') pushMessage(where, replies.incidentClosed(r.incident, r.reason), out);
    else if (r.kind === 'alreadyClosed') pushMessage(where, replies.incidentAlreadyClosed(r.incident, r.open), out);
    else pushMessage(where, replies.sightings(r.incidentId, r.list), out);
  }
  return out;
}

const ALLOWED_TARGETS = new Set<string>(Object.values(BOT_URLS));
// What the bot itself writes between blocks: a newline. Everything else here is a leak.
const CONTROL = /[\p{Cc}\p{Cf}\p{Cs}\u2028\u2029]/u;
const LINK_TARGET = /(?<!\\)\]\s*\(\s*<?([^)\s>]*)/g;
const CODE_SPAN = /(?<![\\`])(`+)(?!`)[\s\S]*?(?<!`)\1(?!`)/g;
const HTML_HREF = /href="([^"]*)"/g;
// hxxp(s):// and fxp:// are the defanged forms: no client links them.
const URL_LIKE = /\b(?!hxxps?:|fxp:)[a-z][a-z0-9+.-]*:\/\/|\bwww\./i;
const MENTION = /(<|&lt;|&#0*60;|&#x0*3c;)\s*@/i;
const MD_LINE_INJECTION = new RegExp(`^[ \\t]*(?:(?:[-+*]|\\d+[.)])[ \\t]+)?[ \\t]*(?:#{1,6}|>|[-+*]|\\d+[.)])[ \\t]*${SENTINEL}`, 'm');
const BREAK_INJECTION = new RegExp(`[\\n\\r\\v\\f\\u0085\\u2028\\u2029](?:#{1,6}|>|-|\\d+\\.) ${SENTINEL}`);

/**
 * What the bot did not put there: a link to anything but its own URLs, a
 * clickable URL in text, a mention token other than the on-call ones, a
 * control or invisible character (a newline is the bot's own), or a line
 * that a hostile value started. One string per problem.
 */
export function findLeaks(r: Rendered, ownUrl: (url: string) => boolean = (u) => ALLOWED_TARGETS.has(u), mentions: readonly string[] = ALLOWED_MENTIONS): string[] {
  const problems: string[] = [];
  let text = r.text;
  for (const m of mentions) text = text.split(m).join('');
  // Links are inert inside a code span (the bot shows IOCs that way); mentions and URLs are not, so only links skip them.
  const linkable = r.markdown ? text.replace(CODE_SPAN, ' ') : text;
  // In e-mail only the HTML body has links (an escaped `href="…"` from outside is text, and plain text has none).
  const pattern = r.markdown ? LINK_TARGET : r.text.startsWith('<!doctype html>') ? HTML_HREF : undefined;
  const targets = pattern ? [...linkable.matchAll(pattern)].map((m) => m[1] ?? '') : [];
  for (const t of targets) if (!ownUrl(t)) problems.push(`link to ${JSON.stringify(t.slice(0, 60))}`);
  // The bot's own URLs are allowed wherever it writes them (link targets, the plain-text e-mail's <url>).
  for (const url of new Set([...ALLOWED_TARGETS, ...targets.filter(ownUrl)])) text = text.split(url).join('');
  const url = URL_LIKE.exec(text);
  if (url) problems.push(`clickable URL near ${JSON.stringify(text.slice(Math.max(0, url.index - 10), url.index + 30))}`);
  const mention = MENTION.exec(text);
  if (mention) problems.push(`mention token near ${JSON.stringify(text.slice(mention.index, mention.index + 30))}`);
  const control = CONTROL.exec(text.replace(/\n/g, ''));
  if (control) problems.push(`control or invisible character U+${control[0].codePointAt(0)!.toString(16).toUpperCase()}`);
  if (r.markdown && MD_LINE_INJECTION.test(text)) problems.push('a hostile value started a markdown block (heading, quote or list)');
  if (BREAK_INJECTION.test(text)) problems.push('a hostile line break survived');
  return problems;
}
