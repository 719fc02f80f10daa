import type { Incident } from './types.js';
import { incidentTitle, renderDescription } from './describe.js';
import type { SeverityRule } from './severity.js';
import { DEFAULT_SEVERITY_RULE, xdrIncidentFields } from './xdr-fields.js';

/**
 * What an incident looks like in XDR: the create body, the description patch and the external
 * ids every op looks itself up by. Rendered from the incident when the op runs (whichever store
 * it was read from), so a patch always says the latest.
 */
export const SOURCE = 'sightline';

export function targetExternalId(i: Pick<Incident, 'targetType' | 'targetValue'>): string {
  return `sightline-target-${i.targetType}-${i.targetValue}`;
}

export function incidentExternalId(i: Pick<Incident, 'id'>): string {
  return `sightline-incident-${i.id}`;
}

export function incidentBody(inc: Incident, severity: SeverityRule = DEFAULT_SEVERITY_RULE): Record<string, unknown> {
  const title = incidentTitle(inc.targetValue);
  return {
    type: 'incident',
    source: SOURCE,
    title,
    short_description: title,
    description: renderDescription(inc),
    incident_time: { discovered: inc.firstSeen, opened: inc.openedAt },
    status: 'New',
    confidence: confidenceOf(inc),
    tlp: 'amber',
    external_ids: [targetExternalId(inc), incidentExternalId(inc)],
    meta: { sighting_count: inc.count, sightline_target: inc.targetKey },
    ...xdrIncidentFields(inc, severity),
  };
}

export function incidentPatch(inc: Incident, severity: SeverityRule = DEFAULT_SEVERITY_RULE): Record<string, unknown> {
  return {
    description: renderDescription(inc),
    confidence: confidenceOf(inc),
    meta: { sighting_count: inc.count, sightline_target: inc.targetKey },
    ...xdrIncidentFields(inc, severity),
  };
}

/** The seed's two levels: Medium when opened, High once a second event arrives. */
function confidenceOf(inc: Incident): string {
  return inc.count > 1 ? 'High' : 'Medium';
}
