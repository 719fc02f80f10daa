import { ConfigError } from '../../core/errors.js';
import { LADDER_ACTIONS, type LadderAction } from './ladder.js';

/**
 * The severity Sightline gives its XDR incidents (XDR ranks its queue by it).
 *
 * Rule (XDR_INCIDENT_SEVERITY): `<entry>; <entry>…`, each entry either
 * `<N> -> <Severity>` (the incident has at least N sightings) or
 * `<ladder action> -> <Severity>` (a ladder rung with that action has fired on it).
 * Every matching entry is a candidate and the highest severity wins, so the
 * severity only ever goes up as sightings arrive. No match → `Low`.
 */
export const SEVERITY_ORDER = ['Info', 'Low', 'Medium', 'High', 'Critical'] as const;
export type Severity = (typeof SEVERITY_ORDER)[number];

export type SeverityEntry = { kind: 'count'; atLeast: number; severity: Severity } | { kind: 'action'; action: LadderAction; severity: Severity };

export interface SeverityRule {
  entries: SeverityEntry[];
}

const VARIABLE = 'XDR_INCIDENT_SEVERITY';

export function parseSeverityRule(spec: string): SeverityRule {
  const problems: string[] = [];
  const entries: SeverityEntry[] = [];
  for (const part of spec.split(';').map((p) => p.trim()).filter(Boolean)) {
    const m = /^(\S+)\s*->\s*(\S+)$/.exec(part);
    const severity = m ? SEVERITY_ORDER.find((s) => s.toLowerCase() === m[2]!.toLowerCase()) : undefined;
    if (!m || !severity) {
      problems.push(`${VARIABLE} entry "${part}" is not "<count|ladder action> -> <${SEVERITY_ORDER.join('|')}>" (e.g. "3 -> High")`);
      continue;
    }
    const key = m[1]!.toLowerCase();
    if (/^\d+$/.test(key) && Number(key) >= 1) entries.push({ kind: 'count', atLeast: Number(key), severity });
    else if ((LADDER_ACTIONS as readonly string[]).includes(key)) entries.push({ kind: 'action', action: key as LadderAction, severity });
    else problems.push(`${VARIABLE} entry "${part}" must start with a count of at least 1 or a ladder action (${LADDER_ACTIONS.join(', ')})`);
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return { entries };
}

/** The severity for an incident with `count` sightings whose fired rungs had `actionsFired`. */
export function severityFor(rule: SeverityRule, count: number, actionsFired: Iterable<string>): Severity {
  const fired = new Set(actionsFired);
  let best: Severity = 'Low';
  let matched = false;
  for (const e of rule.entries) {
    const hit = e.kind === 'count' ? count >= e.atLeast : fired.has(e.action);
    if (!hit) continue;
    if (!matched || rank(e.severity) > rank(best)) best = e.severity;
    matched = true;
  }
  return best;
}

export function rank(s: Severity): number {
  return SEVERITY_ORDER.indexOf(s);
}

/**
 * `scores.ttp`: the detection risk XDR ranks by, 0–100, read off the severity
 * (Info 10, Low 30, Medium 50, High 70, Critical 90).
 */
export function ttpScore(severity: Severity): number {
  return 10 + 20 * rank(severity);
}

/**
 * `scores.global`: the TTP score plus 2 per extra sighting (or target, for a
 * hunt), capped at 100 — two incidents of one severity rank by how much was seen.
 * No `scores.asset`: that is XDR's own asset value, which Sightline does not know.
 */
export function globalScore(severity: Severity, seen: number): number {
  return Math.min(100, ttpScore(severity) + 2 * Math.max(0, seen - 1));
}
