import type { HuntRef, ThreatOutcome } from '../notification.js';
import { adaptiveCard, container, factSet, heading, markup, md, mdLink, plural, textBlock, trusted, type CardElement } from './elements.js';
import { dryRunNote } from './hunt-started.js';
import { andMore, cutList, fitMessage, truncateChars, type WebexMessageContent } from './limits.js';

export interface HuntFinishedInput {
  hunt: HuntRef;
  threats: ThreatOutcome[];
  xdrCalls: number;
  durationMs: number;
}

export function formatDuration(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${s % 60}s`;
  return `${Math.floor(m / 60)}h ${m % 60}m`;
}

export function noTargetsSentence(threatName: string): string {
  return `No targets associated with the IOCs of threat ${threatName} have been found in your environment.`;
}

/** One line per threat: the verdict counts, the targets, the casebook — or the explicit "no targets found". */
export function threatOutcomeLine(t: ThreatOutcome): string {
  const postLink = mdLink('blog post', t.link);
  const post = postLink ? ` (${postLink})` : '';
  if (t.error) return `**${md(t.name)}**: investigation failed — ${md(t.error)}`;
  const counts = `${t.observables} observables, ${t.clean} clean dropped, ${t.rejected} rejected`;
  const moduleErrors = t.moduleErrors.length > 0 ? `, ${plural(t.moduleErrors.length, 'module error')}` : '';
  if (t.targets.length === 0) return `**${md(t.name)}**${post}: ${counts}${moduleErrors} — no targets found for ${md(t.name)}`;
  const casebook = mdLink('casebook', t.casebook?.url);
  const incident = mdLink('incident', t.incident?.url);
  return `**${md(t.name)}**${post}: ${counts}${moduleErrors} — **${plural(t.targets.length, 'target')}**${casebook ? ` — ${casebook}` : ''}${incident ? ` — ${incident}` : ''}`;
}

export function renderHuntFinished(input: HuntFinishedInput): WebexMessageContent {
  return fitMessage((budget) => build(input, budget));
}

function totals(threats: ThreatOutcome[]) {
  const sum = (f: (t: ThreatOutcome) => number) => threats.reduce((acc, t) => acc + f(t), 0);
  return {
    observables: sum((t) => t.observables),
    clean: sum((t) => t.clean),
    rejected: sum((t) => t.rejected),
    targets: sum((t) => t.targets.length),
    withTargets: threats.filter((t) => t.targets.length > 0).length,
    failed: threats.filter((t) => t.error).length,
  };
}

function build({ hunt, threats, xdrCalls, durationMs }: HuntFinishedInput, budget: number): WebexMessageContent {
  const sum = totals(threats);
  // Threats with targets or errors first: they are what an analyst must act on.
  const ordered = [...threats].sort((a, b) => rank(b) - rank(a));
  const { shown, more } = cutList(ordered, Math.max(budget, 1));
  const headline = `Talos Roundup investigation finished for ${hunt.label}${dryRunNote(hunt)}`;
  const summary =
    `${plural(threats.length, 'threat')}: ${sum.withTargets} with targets, ${plural(sum.targets, 'target')} in total; ` +
    `${sum.observables} observables, ${sum.clean} clean dropped, ${sum.rejected} rejected` +
    `${sum.failed > 0 ? `; ${sum.failed} failed` : ''}. ${xdrCalls} XDR calls in ${formatDuration(durationMs)}.`;

  const lines = [`**${md(headline)}**`, '', md(summary), '', ...shown.map((t) => `- ${threatOutcomeLine(t)}`)];
  if (more > 0) lines.push(`- ${andMore(more)}`);

  const body: CardElement[] = [
    heading('Talos Roundup investigation finished', { color: sum.targets > 0 ? 'Attention' : 'Good' }),
    textBlock(`${hunt.label}${dryRunNote(hunt)}`, { subtle: true }),
    textBlock(summary),
    ...shown.map((t) => threatContainer(t, budget)),
  ];
  if (more > 0) body.push(textBlock(andMore(more)));
  return { markdown: lines.join('\n'), card: adaptiveCard(body) };
}

function rank(t: ThreatOutcome): number {
  return (t.error ? 2 : 0) + (t.targets.length > 0 ? 1 : 0);
}

function threatContainer(t: ThreatOutcome, budget: number): CardElement {
  // The blog post's link is one the bot builds from the Talos file's observed-data address (talosintelligence.com only).
  const postLink = mdLink(t.name, t.link);
  const items: CardElement[] = [textBlock(postLink ? trusted(`**${postLink}**`) : markup`**${t.name}**`)];
  if (t.error) {
    items.push(textBlock(`Investigation failed: ${truncateChars(t.error, 500)}`, { color: 'Attention' }));
    return container(items, { separator: true });
  }
  items.push(
    factSet([
      ['Observables', String(t.observables)],
      ['Clean dropped', String(t.clean)],
      ['Rejected', String(t.rejected)],
      ['Targets', String(t.targets.length)],
      ['Module errors', t.moduleErrors.length > 0 ? String(t.moduleErrors.length) : undefined],
    ]),
  );
  if (t.targets.length === 0) items.push(textBlock(`No targets found for ${t.name}.`, { color: 'Good' }));
  else {
    const names = cutList(t.targets.map((x) => x.identifiers[0]?.value ?? x.key), Math.min(budget, 10));
    if (names.shown.length > 0) items.push(textBlock(`Targets: ${names.shown.join(', ')}${names.more > 0 ? `, ${andMore(names.more)}` : ''}`));
    const casebook = mdLink('Open casebook', t.casebook?.url);
    if (casebook) items.push(textBlock(trusted(casebook)));
    const incident = mdLink('Open incident', t.incident?.url);
    if (incident) items.push(textBlock(trusted(incident)));
  }
  return container(items, { separator: true });
}
