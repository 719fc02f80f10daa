import type { IncidentView } from '../../notify/notification.js';
import { shortIdOf } from '../ports/xdr.js';
import type { Incident, SightingRecord } from './types.js';

/**
 * The XDR incident text, rendered FROM DATA every time in the seed's format
 * (seeds.md §1.5) so analysts see what they are used to. It is never parsed
 * back: the count lives in the state and in `meta.sighting_count`.
 */

/** CTIM `description` limit (xdr-api.md §4.1). */
export const DESCRIPTION_LIMIT = 5000;
/** Bullets shown before older ones are summarised as "… and N earlier events". */
export const MAX_BULLETS = 25;
/** Long IOC values (URLs) are cut so one bullet cannot eat the whole budget. */
const MAX_VALUE_CHARS = 200;

export function incidentTitle(targetValue: string): string {
  return `Correlated incident for: ${targetValue} [by Sightline]`;
}

export function renderDescription(incident: Incident): string {
  const header = renderHeader(incident);
  // Newest observed first is what an analyst scans for; the seed appended in arrival order,
  // which for out-of-order arrivals is misleading, so bullets are ordered by observed time.
  const events = [...incident.recentSightings].sort((a, b) => a.observedAt.localeCompare(b.observedAt));
  // Sightings beyond what the state keeps still count as "earlier".
  const notKept = Math.max(0, incident.count - 1 - events.length);
  for (let keep = Math.min(MAX_BULLETS, events.length); keep >= 0; keep--) {
    const shown = events.slice(events.length - keep);
    const earlier = notKept + events.length - keep;
    const text = header + renderBullets(incident, shown, earlier);
    if (text.length <= DESCRIPTION_LIMIT) return text;
  }
  return header.slice(0, DESCRIPTION_LIMIT);
}

function renderHeader(incident: Incident): string {
  const first = incident.initial;
  return (
    `## Initial Detected Security Event:\n\n` +
    `On **${ctimTime(first.observedAt)}**, a target **${md(incident.targetValue)}** of type [${md(incident.targetType)}] ` +
    `had the first security event due to IoC **${md(first.ioc.value)}** of type [${md(first.ioc.type)}].\n\n` +
    `## Current Amount of Security Events for Target: \`${incident.count}\`\n\n` +
    `## Subsequent Security Events:\n\n`
  );
}

function renderBullets(incident: Incident, shown: SightingRecord[], earlier: number): string {
  const lines: string[] = [];
  if (earlier > 0) lines.push(`* … and ${earlier} earlier event${earlier === 1 ? '' : 's'}`);
  for (const s of shown) {
    lines.push(
      `* On **${ctimTime(s.observedAt)}**, target **${md(incident.targetValue)}** had another security event ` +
        `due to IoC **${md(s.ioc.value)}** of type [${md(s.ioc.type)}].`,
    );
  }
  return lines.length === 0 ? '' : lines.join('\n\n') + '\n';
}

/** The seed's `%Y-%m-%dT%H:%M:%SZ`; anything unparseable is shown as given. */
export function ctimTime(iso: string): string {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** Keeps `**bold**` and backticks intact whatever the value holds, and cuts long values. */
function md(value: string): string {
  const cut = value.length > MAX_VALUE_CHARS ? `${value.slice(0, MAX_VALUE_CHARS)}…` : value;
  return cut.replace(/[*`\\]/g, (c) => `\\${c}`).replace(/\s+/g, ' ');
}

/** The notification / chat view of an incident. `{shortId}`, `{uuid}` and `{id}` fill the URL template. */
export function toIncidentView(incident: Incident, incidentUrlTemplate?: string): IncidentView {
  const view: IncidentView = {
    id: incident.id,
    targetKey: incident.targetKey,
    targetType: incident.targetType,
    targetValue: incident.targetValue,
    count: incident.count,
    status: incident.status,
    firstSeen: incident.firstSeen,
    lastSeen: incident.lastSeen,
    lastIoc: incident.lastIoc,
    lastSource: incident.lastSource,
    rungsFired: incident.rungsFired.map((r) => r.rung),
  };
  if (incident.previousIncidentId) view.previousId = incident.previousIncidentId;
  if (incident.xdrId && incidentUrlTemplate) view.url = incidentUrl(incidentUrlTemplate, incident.xdrId);
  return view;
}

export function incidentUrl(template: string, xdrLongId: string): string {
  const shortId = shortIdOf(xdrLongId);
  const uuid = shortId.replace(/^incident-/, '');
  return template
    .replaceAll('{shortId}', encodeURIComponent(shortId))
    .replaceAll('{uuid}', encodeURIComponent(uuid))
    .replaceAll('{id}', encodeURIComponent(xdrLongId));
}
