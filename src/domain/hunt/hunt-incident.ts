import type { XdrPort } from '../ports/xdr.js';
import type { Clock } from '../../core/clock.js';
import { globalScore, ttpScore, type Severity } from '../correlation/severity.js';
import type { Observable, TargetFinding, Threat, Verdict } from '../types.js';
import { casebookExternalId } from './casebook.js';
import { createOnce } from './create-once.js';
import { observableKey } from './verdicts.js';

/**
 * HUNT_XDR_OUTPUT=incident|both: a threat with targets becomes one XDR incident
 * ("Talos – <threat>") in the queue XDR's analysts work from. Its targets are
 * linked through one CTIA sighting per target (the non-Clean IOCs it sighted on
 * it, `member-of` the incident), and with `both` the casebook is `related-to` it.
 * Everything carries an external id, so a resumed hunt finds what an earlier run
 * made instead of making it twice.
 */
export const HUNT_SOURCE = 'Talos hunt - sightline';
const MAX_DESCRIPTION = 5000;

export function huntIncidentExternalId(huntKey: string, threatName: string): string {
  return casebookExternalId(huntKey, threatName).replace(/^sightline-talos-/, 'sightline-talos-incident-');
}

/**
 * Severity from the verdicts of the IOCs sighted on targets: any Malicious → High,
 * any Suspicious → Medium, otherwise (Unknown / Common) → Low. Critical stays for
 * the correlator's ladder: a one-off hunt match is not yet an outbreak.
 */
export function huntSeverity(verdicts: Verdict[], sighted: Observable[]): Severity {
  const keys = new Set(sighted.map(observableKey));
  const relevant = verdicts.filter((v) => keys.has(observableKey(v.observable)));
  if (relevant.some((v) => v.disposition === 2)) return 'High';
  if (relevant.some((v) => v.disposition === 3)) return 'Medium';
  return 'Low';
}

export function draftHuntIncident(args: {
  threat: Threat;
  suspicious: Observable[];
  targets: TargetFinding[];
  verdicts: Verdict[];
  huntKey: string;
  now: string;
}): Record<string, unknown> {
  const { threat, suspicious, targets, verdicts, huntKey, now } = args;
  const sighted = uniqueObservables(targets.flatMap((t) => t.observables));
  const severity = huntSeverity(verdicts, sighted);
  const firstSeen = targets.map((t) => t.firstSeen).filter((t): t is string => !!t).sort()[0];
  const title = `Talos – ${threat.name}`;
  const description = clip(
    [
      `Sightline's weekly Talos hunt found IOCs of the Talos Threat Roundup threat **${threat.name}** on ${targets.length} target(s) in your environment.`,
      '',
      `**Threat description:** ${threat.description}`,
      '',
      `**Targets (${targets.length}):**`,
      ...targets.map((t) => `- **${t.identifiers.map((i) => i.value).join(' / ')}** seen by ${t.modules.join(', ')}: ${t.observables.map((o) => o.value).join(', ')}`),
      '',
      `**Non-Clean observables (${suspicious.length}):** ${suspicious.map((o) => `${o.type}:${o.value}`).join(', ')}`,
    ].join('\n'),
    MAX_DESCRIPTION,
  );
  return {
    type: 'incident',
    source: 'sightline',
    title,
    short_description: title,
    description,
    incident_time: { opened: now, ...(firstSeen ? { discovered: firstSeen } : {}) },
    status: 'New',
    confidence: 'High',
    tlp: 'amber',
    severity,
    scores: { ttp: ttpScore(severity), global: globalScore(severity, targets.length) },
    promotion_method: 'Automated',
    detection_sources: [...new Set(targets.flatMap((t) => t.modules))].sort(),
    categories: ['Malicious Code'],
    discovery_method: 'Monitoring Service',
    external_ids: [huntIncidentExternalId(huntKey, threat.name)],
    meta: { talos_threat: threat.name, target_count: targets.length, hunt: huntKey },
  };
}

/** The CTIA sighting that links one target (and the IOCs it sighted) to the incident. */
export function targetSighting(incidentExternalId: string, threat: Threat, t: TargetFinding, now: string): Record<string, unknown> {
  const start = t.firstSeen ?? now;
  return {
    type: 'sighting',
    source: HUNT_SOURCE,
    title: `${threat.name} IOC(s) seen on ${t.identifiers[0]?.value ?? t.key}`,
    confidence: 'High',
    count: Math.max(1, t.observables.length),
    internal: true,
    observables: t.observables.map(({ type, value }) => ({ type, value })),
    targets: [{ type: t.type || 'endpoint', observables: t.identifiers.map(({ type, value }) => ({ type, value })), observed_time: { start_time: start } }],
    observed_time: { start_time: start, ...(t.lastSeen ? { end_time: t.lastSeen } : {}) },
    tlp: 'amber',
    external_ids: [`${incidentExternalId}-target-${t.key}`.toLowerCase().replace(/[^a-z0-9._-]+/g, '-')],
  };
}

/**
 * Finds the threat's incident by external id or creates it, then links every
 * target (and the casebook, when given). Each step looks its external id up
 * first, and a 5xx / dropped connection retries the whole step, never a blind
 * second POST.
 */
export async function fileHuntIncident(
  xdr: XdrPort,
  clock: Clock,
  draft: Record<string, unknown>,
  links: { threat: Threat; targets: TargetFinding[]; casebookId?: string },
): Promise<string> {
  const externalId = (draft.external_ids as string[])[0]!;
  const incident = await createOnce(clock, async () => (await xdr.findIncidentsByExternalId(externalId))[0] ?? (await xdr.createIncident(draft)));
  const now = clock.now().toISOString();
  for (const t of links.targets) {
    const body = targetSighting(externalId, links.threat, t, now);
    const sightingExt = (body.external_ids as string[])[0]!;
    const sighting = await createOnce(clock, async () => (await xdr.findSightingsByExternalId?.(sightingExt))?.[0] ?? (await xdr.createSighting(body)));
    await relate(xdr, clock, sighting.id, incident.id, 'member-of', `${sightingExt}-member-of`);
  }
  if (links.casebookId) await relate(xdr, clock, links.casebookId, incident.id, 'related-to', `${externalId}-casebook`);
  return incident.id;
}

async function relate(xdr: XdrPort, clock: Clock, source: string, target: string, type: string, externalId: string): Promise<void> {
  await createOnce(clock, async () => {
    const found = await xdr.findRelationshipsByExternalId?.(externalId);
    if (found && found.length > 0) return found[0]!;
    return xdr.createRelationship({ source_ref: source, target_ref: target, relationship_type: type, tlp: 'amber', source: 'sightline', external_ids: [externalId] });
  });
}

function uniqueObservables(list: Observable[]): Observable[] {
  const seen = new Map<string, Observable>();
  for (const o of list) seen.set(observableKey(o), o);
  return [...seen.values()];
}

function clip(s: string, max: number): string {
  return s.length <= max ? s : `${s.slice(0, max - 1)}…`;
}
