import fc from 'fast-check';
import type { InProcessBot } from '../in-process.js';
import { moduleSighting, postSightings, type ReportBuilder } from '../support.js';
import { findLeaks, hostileNotification, hostileReply, hostileText, renderNotification, renderReply, type Rendered } from './markup.js';

export interface HostileMarkupOptions {
  /** Notifications rendered (Webex messages, cards, e-mails) from hostile values. */
  notifications: number;
  /** Chat replies rendered (markdown and card forms). */
  replies: number;
  /** Hostile sightings posted to the running bot, whose Webex messages are then checked. */
  sightings: number;
}

/**
 * Issue 17 items 3, 4, 6 as a reliability section: hostile markup, mention
 * tokens and control/invisible characters in every field, first straight
 * through every renderer, then end to end — sightings with hostile target,
 * IOC and source values posted to the running bot, and every message the
 * Webex emulator received checked the same way. Adds its checks and figures
 * to the hostile-input report.
 */
export async function hostileMarkup(bot: InProcessBot, opts: HostileMarkupOptions, seed: number, r: ReportBuilder): Promise<void> {
  const rendered = renderAll(opts, seed);
  r.figure('markup: notifications rendered from hostile values', opts.notifications);
  r.figure('markup: chat replies rendered from hostile values', opts.replies);
  r.figure('markup: texts checked (markdown, card fields, e-mail parts)', rendered.checked);
  r.figure('markup: renderings per second', Math.round((opts.notifications + opts.replies) / (rendered.ms / 1000)));
  r.check('markup: no foreign link, clickable URL, mention token, control/invisible character or injected line in any rendering', rendered.leaks.length === 0, rendered.leaks.slice(0, 3).join(' | '));

  const live = await throughTheBot(bot, opts.sightings, seed);
  r.figure('markup: hostile sightings posted / accepted (202)', `${opts.sightings} / ${live.accepted}`);
  r.figure('markup: Webex messages from the bot checked', live.messages);
  r.check('markup: the bot posted messages for the accepted hostile sightings', live.accepted === 0 || live.messages > 0, `${live.messages} messages`);
  r.check('markup: no message the Webex emulator received carries a foreign link, URL, mention token or control character', live.leaks.length === 0, live.leaks.slice(0, 3).join(' | '));
}

function renderAll(opts: HostileMarkupOptions, seed: number): { checked: number; leaks: string[]; ms: number } {
  const t0 = performance.now();
  const leaks: string[] = [];
  let checked = 0;
  const check = (items: Rendered[]) => {
    checked += items.length;
    for (const item of items) for (const p of findLeaks(item)) if (leaks.length < 20) leaks.push(`${item.where}: ${p}`);
  };
  for (const n of fc.sample(hostileNotification(), { numRuns: opts.notifications, seed })) check(renderNotification(n));
  for (const reply of fc.sample(hostileReply(), { numRuns: opts.replies, seed: seed + 1 })) check(renderReply(reply));
  return { checked, leaks, ms: performance.now() - t0 };
}

async function throughTheBot(bot: InProcessBot, count: number, seed: number): Promise<{ accepted: number; messages: number; leaks: string[] }> {
  const { app } = bot;
  const before = new Set(allBotMessages(bot).map((m) => m.id));
  const values = fc.sample(fc.tuple(hostileText(), hostileText(), hostileText()), { numRuns: count, seed: seed + 2 });
  let accepted = 0;
  const targets = Math.max(1, Math.floor(count / 3));
  for (const [i, [, ioc, source]] of values.entries()) {
    // Three sightings per target, so incidents open, update (threaded replies) and cross the ladder's rungs.
    const host = values[i % targets]![0];
    const sighting = { ...moduleSighting(`markup-${seed}-${i}`, host, ioc), event_source: source };
    const res = await postSightings(app.http.url, JSON.stringify(sighting));
    if (res.status === 202) accepted++;
  }
  await app.intake.idle();
  await app.engine.idle();
  // Deliveries run behind the outbox; wait (bounded) until it has nothing left for Webex.
  for (let i = 0; i < 300 && app.outbox.pending('webex') > 0; i++) {
    app.outbox.kick();
    await app.outbox.drain();
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const messages = allBotMessages(bot).filter((m) => !before.has(m.id));
  // Live, the bot's own links point where its templates say (the XDR emulator here): those origins are its own.
  const { xdr } = app.config;
  const own = [xdr.incidentUrlTemplate, xdr.casebookUrlTemplate].map((t) => new URL(t.replace(/\{[^}]*\}/g, 'x')).origin);
  const ownUrl = (url: string) => own.some((o) => url.startsWith(`${o}/`));
  const oncall = app.config.correlation.oncall.map((e) => `<@personEmail:${e}>`);
  const leaks: string[] = [];
  for (const m of messages) {
    const items: Rendered[] = [{ where: `message ${m.id}.markdown`, text: m.markdown ?? m.text ?? '', markdown: true }];
    for (const card of m.attachments ?? []) collect(card, `message ${m.id}.card`, items);
    for (const item of items) for (const p of findLeaks(item, ownUrl, oncall)) if (leaks.length < 20) leaks.push(`${item.where}: ${p}`);
  }
  return { accepted, messages: messages.length, leaks };
}

function allBotMessages(bot: InProcessBot) {
  const bots = new Set(bot.world.webex.people().filter((p) => p.type === 'bot').map((p) => p.id));
  return bot.world.webex.rooms().flatMap((room) => bot.world.webex.messages(room.id)).filter((m) => bots.has(m.personId));
}

const NOT_SHOWN = new Set(['data', 'url', '$schema', 'type', 'version', 'color', 'size', 'weight', 'spacing', 'style', 'wrap', 'isSubtle', 'italic', 'separator', 'contentType']);

function collect(node: unknown, path: string, out: Rendered[]): void {
  if (typeof node === 'string') out.push({ where: path, text: node, markdown: true });
  else if (Array.isArray(node)) node.forEach((x, i) => collect(x, `${path}[${i}]`, out));
  else if (node && typeof node === 'object') for (const [k, v] of Object.entries(node)) if (!NOT_SHOWN.has(k)) collect(v, `${path}.${k}`, out);
}
