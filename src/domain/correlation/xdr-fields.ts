import { globalScore, parseSeverityRule, severityFor, ttpScore, type SeverityRule } from './severity.js';
import { DEFAULT_INCIDENT_SEVERITY } from '../../config/schema.js';
import type { Incident } from './types.js';

/**
 * The fields Cisco XDR ranks and describes its incident queue by (xdr-api.md
 * §4.3, §7), for a correlated incident: severity and scores from the count and
 * the ladder rungs reached, `promotion_method: "Automated"`, the modules that
 * reported as `detection_sources`, and MITRE tactics/techniques when sightings
 * carried them.
 */
export const DEFAULT_SEVERITY_RULE: SeverityRule = parseSeverityRule(DEFAULT_INCIDENT_SEVERITY);

/** MITRE ids kept per incident; a sighting rarely carries more than a few. */
export const MAX_MITRE_IDS = 50;

export function xdrIncidentFields(inc: Incident, rule: SeverityRule = DEFAULT_SEVERITY_RULE): Record<string, unknown> {
  const severity = severityFor(rule, inc.count, inc.rungsFired.flatMap((r) => r.actions));
  return {
    severity,
    scores: { ttp: ttpScore(severity), global: globalScore(severity, inc.count) },
    promotion_method: 'Automated',
    detection_sources: Object.keys(inc.sources),
    ...(inc.tactics?.length ? { tactics: inc.tactics } : {}),
    ...(inc.techniques?.length ? { techniques: inc.techniques } : {}),
  };
}

/**
 * Adds the MITRE tactics (`TA0001`) and techniques (`T1059`, `T1059.001`) a CTIM
 * sighting carries (`tactics` / `techniques` string arrays) to the incident.
 * Returns whether anything was new. Runs inside store.update.
 */
export function recordMitre(inc: Incident, ctim: Record<string, unknown> | undefined): boolean {
  if (!ctim) return false;
  const tactics = mitreIds(ctim.tactics, /^TA\d{4}$/);
  const techniques = mitreIds(ctim.techniques, /^T\d{4}(\.\d{3})?$/);
  const added = merge(inc, 'tactics', tactics) + merge(inc, 'techniques', techniques);
  return added > 0;
}

function mitreIds(v: unknown, shape: RegExp): string[] {
  if (!Array.isArray(v)) return [];
  return v.filter((x): x is string => typeof x === 'string').map((x) => x.trim().toUpperCase()).filter((x) => shape.test(x));
}

function merge(inc: Incident, key: 'tactics' | 'techniques', ids: string[]): number {
  let added = 0;
  for (const id of ids) {
    const list = (inc[key] ??= []);
    if (list.includes(id) || list.length >= MAX_MITRE_IDS) continue;
    list.push(id);
    added++;
  }
  return added;
}
