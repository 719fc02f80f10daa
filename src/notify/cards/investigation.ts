import { trusted } from '../markdown.js';
import type { InvestigationReport, ObservableView, OfferedAction, TargetView, VerdictName } from '../../domain/investigate/report.js';
import { verdictCounts } from '../../domain/investigate/report.js';
import { adaptiveCard, code, container, heading, md, mdLink, plural, submit, textBlock, type CardAction, type CardElement } from './elements.js';
import { cutList, fitMessage, truncateChars, type WebexMessageContent } from './limits.js';

/**
 * Every text of this card is built here from md()/code()/mdLink() parts: outside values are
 * already made inert (notify/markdown.ts), so the assembled markdown is the bot's own.
 */
const tb = (text: string, opts?: Parameters<typeof textBlock>[1]) => textBlock(trusted(text), opts);

/**
 * The answer to `investigate`: one card with, per observable (worst first, at
 * most MAX_DETAILED), its verdict per module, the targets in our environment that
 * sighted it with their open incident, the modules' refer links and a button per
 * response action XDR offered; the rest counted. Every outside value is escaped.
 */
export const MAX_DETAILED = 25;
/** Webex cards carry at most five buttons (webex.md §3.4), ActionSets in the body included, to be safe. */
export const MAX_CARD_BUTTONS = 5;
const MAX_VALUE_CHARS = 120;

/** What an action button sends (Action.Submit `data`); the command layer parses it with zod. */
export interface RespondActionData {
  action: 'xdr_action';
  offer: string;
  /** The investigation's thread, so the confirmation lands in it. */
  thread?: string;
}

const ORDER: VerdictName[] = ['Malicious', 'Suspicious', 'Common', 'Clean', 'Unknown'];

export function verdictSummary(views: readonly ObservableView[]): string {
  const counts = verdictCounts(views);
  return ORDER.filter((v) => counts[v]).map((v) => `${counts[v]} ${v}`).join(', ');
}

function headline(report: InvestigationReport): { text: string; color: 'Attention' | 'Warning' | 'Good' | 'Accent' } {
  const n = report.observables.length;
  const counts = verdictCounts(report.observables);
  if (counts.Clean === n) return { text: `${n === 1 ? 'Clean' : `All ${n} observables are Clean`}`, color: 'Good' };
  const color = counts.Malicious ? 'Attention' : counts.Suspicious ? 'Warning' : 'Accent';
  return { text: `Investigation: ${plural(n, 'observable')}`, color };
}

/** The plain sentence at the top: what XDR thinks and whether anything is on our machines. */
export function summarySentence(report: InvestigationReport): string {
  const n = report.observables.length;
  const counts = verdictCounts(report.observables);
  if (counts.Clean === n) {
    return n === 1
      ? "XDR's modules call it Clean. Nothing to do."
      : `XDR's modules call all ${n} Clean. Nothing to do.`;
  }
  const sighted = report.targets.length;
  const where =
    sighted === 0
      ? 'not sighted in our environment'
      : `sighted on ${plural(sighted, 'target')} in our environment: ${report.targets.map((t) => `**${md(t.label)}**`).join(', ')}`;
  return `${verdictSummary(report.observables)}; ${where}.`;
}

function moduleLine(v: ObservableView): string {
  if (v.modules.length === 0) return 'No module has a verdict.';
  return v.modules.map((m) => `${md(m.module)}: ${m.verdict}`).join(' · ');
}

function incidentText(t: TargetView): string {
  if (!t.incident) return 'no open Sightline incident';
  const link = mdLink('open incident', t.incident.url);
  return `${link ?? 'open incident'} (${plural(t.incident.count, 'sighting')})`;
}

/**
 * Which offers get a button when there are more than MAX_CARD_BUTTONS: the first
 * action of each sighted host (isolating a host is the most urgent), then the
 * observables' actions worst first, then the hosts' other actions.
 */
function pickButtons(shown: readonly ObservableView[], targets: readonly TargetView[]): Set<string> {
  const order = [...targets.flatMap((t) => t.actions.slice(0, 1)), ...shown.flatMap((v) => v.actions), ...targets.flatMap((t) => t.actions.slice(1))];
  return new Set([...new Set(order.map((a) => a.offerId))].slice(0, MAX_CARD_BUTTONS));
}

function buttons(actions: OfferedAction[], thread: string | undefined, label: (a: OfferedAction) => string, allowed: Set<string>): CardAction[] {
  return actions.filter((a) => allowed.has(a.offerId)).map((a) => {
    const data: RespondActionData = { action: 'xdr_action', offer: a.offerId, ...(thread ? { thread } : {}) };
    return submit(truncateChars(label(a), 60), { ...data });
  });
}

function actionSet(actions: CardAction[]): CardElement[] {
  return actions.length > 0 ? [{ type: 'ActionSet', actions }] : [];
}

function observableBlock(v: ObservableView, targets: Map<string, TargetView>, thread: string | undefined, allowed: Set<string>): CardElement {
  const value = truncateChars(v.observable.value, MAX_VALUE_CHARS);
  const items: CardElement[] = [
    tb(`**${v.verdict}** · ${md(v.observable.type)} ${md(value)}`, { color: colorOf(v.verdict) }),
    tb(moduleLine(v), { subtle: true }),
  ];
  const on = v.sightedOn.map((k) => targets.get(k)).filter((t): t is TargetView => t !== undefined);
  if (on.length > 0) items.push(tb(`Sighted on ${on.map((t) => `**${md(t.label)}** (${incidentText(t)})`).join(', ')}`));
  else if (v.verdict !== 'Clean') items.push(tb('Not sighted in our environment.', { subtle: true }));
  const links = v.links.map((l) => mdLink(`${l.title} (${l.module})`, l.url)).filter((l): l is string => l !== undefined);
  if (links.length > 0) items.push(tb(links.slice(0, 3).join(' · ')));
  items.push(...actionSet(buttons(v.actions, thread, (a) => a.title, allowed)));
  return container(items, { separator: true });
}

function targetBlock(t: TargetView, thread: string | undefined, allowed: Set<string>): CardElement {
  const seen = t.lastSeen ? `, last seen ${md(shortTime(t.lastSeen))}` : '';
  return container(
    [
      tb(`**${md(t.label)}** (${md(t.key)}) — seen by ${t.modules.map(md).join(', ')}${seen}; ${incidentText(t)}`),
      ...actionSet(buttons(t.actions, thread, (a) => `${a.title}: ${t.label}`, allowed)),
    ],
    { separator: true },
  );
}

/** "2021-07-20 08:12 UTC"; anything unparseable as given. */
function shortTime(iso: string): string {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : `${d.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

function colorOf(v: VerdictName): string | undefined {
  return v === 'Malicious' ? 'Attention' : v === 'Suspicious' ? 'Warning' : v === 'Clean' ? 'Good' : undefined;
}

function markdownOf(report: InvestigationReport, shown: ObservableView[], more: number, targets: Map<string, TargetView>): string {
  const lines = [`**${md(headline(report).text)}** — ${summarySentence(report)}`, ''];
  for (const v of shown) {
    const on = v.sightedOn.map((k) => targets.get(k)?.label).filter((l): l is string => l !== undefined);
    const sighted = on.length > 0 ? `; sighted on ${on.map((l) => code(l)).join(', ')}` : '';
    lines.push(`- **${v.verdict}** ${md(v.observable.type)} ${code(truncateChars(v.observable.value, MAX_VALUE_CHARS))} — ${moduleLine(v)}${sighted}`);
  }
  if (more > 0) lines.push(`- and ${more} more (${verdictSummary(report.observables.slice(shown.length))})`);
  return lines.join('\n');
}

export interface InvestigationCardOptions {
  /** Where the investigation was asked: action buttons send it back so confirmations stay in the thread. */
  thread?: string;
  /** "3 from the last few minutes' answers" — shown small, so an analyst knows a verdict may be minutes old. */
  fromCache?: number;
}

export function renderInvestigation(report: InvestigationReport, opts: InvestigationCardOptions = {}): WebexMessageContent {
  const targets = new Map(report.targets.map((t) => [t.key, t]));
  return fitMessage((budget) => {
    const { shown, more } = cutList(report.observables, Math.min(MAX_DETAILED, budget));
    const head = headline(report);
    const shownTargets = cutList(report.targets, Math.min(MAX_DETAILED, budget)).shown;
    const allowed = pickButtons(shown, shownTargets);
    const offered = new Set([...shown.flatMap((v) => v.actions), ...shownTargets.flatMap((t) => t.actions)].map((a) => a.offerId)).size;
    const body: CardElement[] = [heading(head.text, { color: head.color }), tb(summarySentence(report))];
    body.push(...shown.map((v) => observableBlock(v, targets, opts.thread, allowed)));
    if (more > 0) body.push(tb(`And ${more} more, not shown in detail: ${verdictSummary(report.observables.slice(shown.length))}.`, { italic: true }));
    if (report.targets.length > 0) {
      body.push(tb('**In our environment**'));
      body.push(...shownTargets.map((t) => targetBlock(t, opts.thread, allowed)));
    }
    const notes: string[] = [];
    if (offered > allowed.size) {
      notes.push(`XDR offers ${offered - allowed.size} more response actions than a card can hold; investigate fewer IOCs at once to get their buttons.`);
    }
    if (report.rejected.length > 0) {
      const listed = report.rejected.slice(0, 5).map((r) => `${md(truncateChars(r.value, 60))} (${md(r.reason)})`).join(', ');
      notes.push(`Not investigated: ${listed}${report.rejected.length > 5 ? ` and ${report.rejected.length - 5} more` : ''}.`);
    }
    if (report.truncated) notes.push('The text was very long; only its start was read.');
    if (report.moduleErrors.length > 0) notes.push(`Some modules did not answer: ${report.moduleErrors.slice(0, 3).map(md).join('; ')}.`);
    if (opts.fromCache) notes.push(`${plural(opts.fromCache, 'answer')} reused from the last few minutes.`);
    const other = report.otherLinks.map((l) => mdLink(`${l.title} (${l.module})`, l.url)).filter((l): l is string => l !== undefined);
    if (other.length > 0) notes.push(other.slice(0, 3).join(' · '));
    for (const n of notes) body.push(tb(n, { subtle: true }));
    return { markdown: markdownOf(report, shown, more, targets), card: adaptiveCard(body) };
  });
}

/** The thread reply after a click: what will run, on what, with Confirm / Cancel. */
export function renderActionConfirmation(
  offer: { title: string; module: string; observable: { type: string; value: string } },
  confirmationId: string,
  minutes: number,
  thread?: string,
): WebexMessageContent {
  const data = (action: string) => ({ action, confirmation: confirmationId, ...(thread ? { thread } : {}) });
  const what = `**${md(offer.title)}** (${md(offer.module)}) on ${md(offer.observable.type)} ${md(truncateChars(offer.observable.value, MAX_VALUE_CHARS))}`;
  const markdown = `Run ${what}? This acts in XDR and cannot be undone from here. Confirm within ${minutes} minutes.`;
  const card = adaptiveCard(
    [heading('Confirm response action', { color: 'Warning' }), tb(markdown)],
    [submit('Confirm', data('xdr_action_confirm')), submit('Cancel', data('xdr_action_cancel'))],
  );
  return fitMessage(() => ({ markdown, card }));
}
