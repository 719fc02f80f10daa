import type { IncidentView } from '../notification.js';
import { adaptiveCard, code, factSet, heading, md, mdLink, openUrl, safeUrl, submit, type CardAction } from './elements.js';
import { fitMessage, type WebexMessageContent } from './limits.js';

export type IncidentCardMode = 'opened' | 'updated';

/** What a card button sends back; the command layer parses these with zod. */
export interface CloseIncidentData {
  action: 'close_incident';
  /** The incident this card shows: the button acts on it, never on its target re-parsed. */
  incidentId: string;
}
export interface ShowSightingsData {
  action: 'show_sightings';
  incidentId: string;
}

/** Whether a card shows a closed incident (its Close button is left out). */
export function isClosed(status: string): boolean {
  return /^(closed|rejected)/i.test(status);
}

function iocText(incident: IncidentView): string | undefined {
  return incident.lastIoc ? `${incident.lastIoc.type}: ${incident.lastIoc.value}` : undefined;
}

/** The new-incident / updated-incident card: the seed's message (§1.7) plus the buttons an analyst needs. */
export function renderIncidentCard(incident: IncidentView, mode: IncidentCardMode, crossed: string[] = []): WebexMessageContent {
  const title = mode === 'opened' ? 'New correlated incident for target' : 'Incident updated for target';
  const thresholds = [...new Set([...crossed, ...incident.rungsFired])];
  const link = mdLink('open in XDR', incident.url);

  const lines = [
    `## ${title}: ${code(incident.targetValue)}`,
    '',
    `- Current number of security events: ${code(String(incident.count))}`,
  ];
  if (incident.lastSource) lines.push(`- Event observed by: **${md(incident.lastSource)}**`);
  if (incident.lastIoc) lines.push(`- Indicator observed: ${md(incident.lastIoc.type)} ${code(incident.lastIoc.value)}`);
  if (thresholds.length > 0) lines.push(`- Thresholds crossed: ${thresholds.map(md).join(', ')}`);
  if (incident.previousId) lines.push(`- Follows closed incident ${code(incident.previousId)}`);
  if (link) lines.push(`- Review details here: ${link}`);

  const actions: CardAction[] = [];
  const url = safeUrl(incident.url);
  if (url) actions.push(openUrl('Open in XDR', url));
  if (!isClosed(incident.status)) {
    const close: CloseIncidentData = { action: 'close_incident', incidentId: incident.id };
    actions.push(submit('Close incident', { ...close }));
  }
  const show: ShowSightingsData = { action: 'show_sightings', incidentId: incident.id };
  actions.push(submit('Show sightings', { ...show }));

  const card = adaptiveCard(
    [
      heading(`${title}: ${incident.targetValue}`, { color: mode === 'opened' ? 'Attention' : 'Warning' }),
      factSet([
        ['Target', `${incident.targetType}: ${incident.targetValue}`],
        ['Security events', String(incident.count)],
        ['Last indicator', iocText(incident)],
        ['Observed by', incident.lastSource],
        ['First seen', incident.firstSeen],
        ['Last seen', incident.lastSeen],
        ['Status', incident.status],
        ['Thresholds crossed', thresholds.length > 0 ? thresholds.join(', ') : undefined],
        ['Previous incident', incident.previousId],
        ['Incident id', incident.id],
      ]),
    ],
    actions,
  );
  return fitMessage(() => ({ markdown: lines.join('\n'), card }));
}

/** The short threaded reply under the first incident card when the count goes up. */
export function renderIncidentCountUpdate(incident: IncidentView, newSightings: number, crossed: string[]): WebexMessageContent {
  const parts = [
    `**${incident.count}** security events for ${code(incident.targetValue)} (+${newSightings} new).`,
  ];
  if (incident.lastIoc) {
    const by = incident.lastSource ? ` by **${md(incident.lastSource)}**` : '';
    parts.push(`Last indicator ${code(incident.lastIoc.value)} seen${by} at ${md(incident.lastSeen)}.`);
  }
  if (crossed.length > 0) parts.push(`Thresholds crossed: **${crossed.map(md).join(', ')}**.`);
  return fitMessage(() => ({ markdown: parts.join(' ') }));
}

export function renderIncidentClosed(incident: IncidentView, by: string, reason?: string): WebexMessageContent {
  const why = reason ? `: ${md(reason)}` : '.';
  const markdown =
    `**Incident closed** for target ${code(incident.targetValue)} by ${md(by)} after ${incident.count} security events${why}` +
    ` A new sighting on this target opens a new incident.`;
  return fitMessage(() => ({ markdown }));
}
