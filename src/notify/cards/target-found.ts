import type { TargetFinding } from '../../domain/types.js';
import type { HuntRef } from '../notification.js';
import { adaptiveCard, code, factSet, heading, markup, md, mdLink, openUrl, safeUrl, subheading, textBlock, trusted, type CardAction } from './elements.js';
import { andMore, cutList, fitMessage, type WebexMessageContent } from './limits.js';

export interface TargetFoundInput {
  hunt: HuntRef;
  threat: { name: string; description?: string };
  target: TargetFinding;
  casebook?: { id: string; url: string };
  /** HUNT_XDR_OUTPUT incident|both: the threat's XDR incident. */
  incident?: { id: string; url: string };
}

/** One card per target per threat: who the machine is, which modules saw it, which IOCs, when, and where to look. */
export function renderTargetFound(input: TargetFoundInput): WebexMessageContent {
  return fitMessage((budget) => build(input, budget));
}

export function targetLabel(target: TargetFinding): string {
  const first = target.identifiers[0];
  return first ? first.value : target.key;
}

function build({ hunt, threat, target, casebook, incident }: TargetFoundInput, budget: number): WebexMessageContent {
  const ids = cutList(target.identifiers, Math.max(budget, 3));
  const obs = cutList(target.observables, budget);
  // Sighting source URIs come from the modules (outside): shown defanged as text, never as a link or button.
  const sources = target.sourceUris;
  const casebookMd = mdLink('open the casebook', casebook?.url);
  const modules = target.modules.join(', ');

  const lines = [
    `**Target found in your environment for threat ${md(threat.name)}** (${md(hunt.label)})`,
    '',
    `- Target: ${ids.shown.map((o) => `${md(o.type)} ${code(o.value)}`).join(' · ') || code(target.key)}${ids.more > 0 ? ` (${andMore(ids.more)})` : ''}`,
    `- Seen by: **${md(modules || 'unknown module')}**`,
  ];
  if (target.firstSeen) lines.push(`- First seen: ${md(target.firstSeen)}`);
  if (target.lastSeen) lines.push(`- Last seen: ${md(target.lastSeen)}`);
  lines.push(`- Observables sighted on it (${target.observables.length}):`);
  for (const o of obs.shown) lines.push(`  - ${md(o.type)} ${code(o.value)}`);
  if (obs.more > 0) lines.push(`  - ${andMore(obs.more, casebookMd)}`);
  if (casebookMd) lines.push('', `Casebook: ${casebookMd}`);
  const incidentMd = mdLink('open the incident', incident?.url);
  if (incidentMd) lines.push(`XDR incident: ${incidentMd}`);
  if (sources[0]) lines.push(`Sighting source: ${md(sources[0])}${sources.length > 1 ? ` (${andMore(sources.length - 1)})` : ''}`);

  const obsLines = obs.shown.map((o) => markup`- ${o.type}: ${o.value}`.markdown);
  if (obs.more > 0) obsLines.push(`- ${andMore(obs.more)}${casebook ? ' (all of them are in the casebook)' : ''}`);

  const body = [
    heading(`Target found: ${targetLabel(target)}`, { color: 'Attention' }),
    textBlock(markup`Threat **${threat.name}** (${hunt.label})`),
    factSet([
      ...ids.shown.map((o): [string, string] => [o.type, o.value]),
      ...(ids.more > 0 ? [['More identifiers', andMore(ids.more)] as [string, string]] : []),
      ['Target type', target.type],
      ['Seen by', modules],
      ['First seen', target.firstSeen],
      ['Last seen', target.lastSeen],
      ['Sighting source', sources[0]],
    ]),
    subheading(`Observables sighted on it (${target.observables.length})`),
    textBlock(trusted(obsLines.join('\n'))),
  ];
  const actions: CardAction[] = [];
  const casebookUrl = safeUrl(casebook?.url);
  if (casebookUrl) actions.push(openUrl('Open casebook', casebookUrl));
  const incidentUrl = safeUrl(incident?.url);
  if (incidentUrl) actions.push(openUrl('Open incident', incidentUrl));
  return { markdown: lines.join('\n'), card: adaptiveCard(body, actions) };
}
