import type { TargetFinding } from '../../domain/types.js';
import type { HuntRef, ThreatOutcome } from '../notification.js';
import { adaptiveCard, code, factSet, heading, md, mdLink, openUrl, safeUrl, textBlock } from './elements.js';
import { noTargetsSentence } from './hunt-finished.js';
import { andMore, cutList, fitMessage, type WebexMessageContent } from './limits.js';
import { targetLabel } from './target-found.js';

/** Stated explicitly, so silence never has to be read as "nothing found". */
export function renderThreatNoTargets(hunt: HuntRef, threat: ThreatOutcome): WebexMessageContent {
  const counts: [string, string][] = [
    ['Observables', String(threat.observables)],
    ['Clean dropped', String(threat.clean)],
    ['Rejected', String(threat.rejected)],
  ];
  const markdown =
    `No targets associated with the IOCs of threat **${md(threat.name)}** have been found in your environment (${md(hunt.label)}).\n\n` +
    counts.map(([k, v]) => `- ${k}: ${v}`).join('\n');
  const card = adaptiveCard([
    heading(`No targets found: ${threat.name}`, { color: 'Good' }),
    textBlock(`${noTargetsSentence(threat.name)} (${hunt.label})`),
    factSet(counts),
  ]);
  return fitMessage(() => ({ markdown, card }));
}

/**
 * When a threat hits more machines than we post cards for, the rest are listed
 * in one message (with "and N more" and the casebook link) instead of flooding the room.
 */
export function renderRemainingTargets(hunt: HuntRef, threat: ThreatOutcome, remaining: TargetFinding[]): WebexMessageContent {
  return fitMessage((budget) => {
    const { shown, more } = cutList(remaining, budget * 2);
    const casebookMd = mdLink('open the casebook', threat.casebook?.url);
    const lines = [
      `**${remaining.length} more targets found for threat ${md(threat.name)}** (${md(hunt.label)}; ${threat.targets.length} in total)`,
      '',
      ...shown.map((t) => `- ${code(targetLabel(t))} — ${md(t.modules.join(', '))}, ${t.observables.length} observables`),
    ];
    if (more > 0) lines.push(`- ${andMore(more, casebookMd)}`);
    else if (casebookMd) lines.push('', `Casebook: ${casebookMd}`);

    const facts = shown.map((t): [string, string] => [targetLabel(t), `${t.modules.join(', ')} · ${t.observables.length} observables`]);
    if (more > 0) facts.push(['…', andMore(more)]);
    const casebookUrl = safeUrl(threat.casebook?.url);
    const card = adaptiveCard(
      [heading(`${remaining.length} more targets: ${threat.name}`, { color: 'Attention' }), factSet(facts)],
      casebookUrl ? [openUrl('Open casebook', casebookUrl)] : [],
    );
    return { markdown: lines.join('\n'), card };
  });
}
