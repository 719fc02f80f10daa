import type { XdrPort } from '../ports/xdr.js';
import type { ThreatOutcome } from '../../notify/notification.js';
import { groupByTarget, targetSightings } from '../investigate/sightings.js';
import type { ModuleError, Observable, TargetFinding, Threat, Verdict } from '../types.js';
import { splitClean, type CleanRule } from './verdicts.js';

export interface InvestigateOptions {
  excludedModules: string[];
  cleanRule: CleanRule;
  signal?: AbortSignal;
}

export interface ThreatInvestigation {
  outcome: Omit<ThreatOutcome, 'casebook'>;
  /** Non-Clean observables: what goes into the casebook. */
  suspicious: Observable[];
  targets: TargetFinding[];
  /** Every module's verdicts on the threat's observables (a hunt incident's severity comes from them). */
  verdicts: Verdict[];
}

/**
 * deliberate → drop Clean → observe → keep sightings on our own targets.
 * Per-module errors inside 200 answers are collected for the report, not fatal.
 */
export async function investigateThreat(threat: Threat, xdr: XdrPort, opts: InvestigateOptions): Promise<ThreatInvestigation> {
  const base = {
    name: threat.name,
    description: threat.description,
    observables: threat.observables.length,
    rejected: threat.rejected.length,
  };
  if (threat.observables.length === 0) {
    return { outcome: { ...base, clean: 0, investigated: 0, targets: [], moduleErrors: [] }, suspicious: [], targets: [], verdicts: [] };
  }
  const deliberation = await xdr.deliberate(threat.observables, opts.signal);
  const { clean, rest } = splitClean(threat.observables, deliberation.verdicts, opts.cleanRule);
  const observation = rest.length > 0 ? await xdr.observe(rest, opts.signal) : { sightings: [], errors: [], calls: 0 };
  const { kept } = targetSightings(observation.sightings, { excludedModules: opts.excludedModules });
  const targets = groupByTarget(kept);
  return {
    outcome: {
      ...base,
      clean: clean.length,
      investigated: rest.length,
      targets,
      moduleErrors: describeErrors([...deliberation.errors, ...observation.errors]),
    },
    suspicious: rest,
    targets,
    verdicts: deliberation.verdicts,
  };
}

function describeErrors(errors: ModuleError[]): string[] {
  const seen = new Set<string>();
  for (const e of errors) seen.add(`${e.module ?? 'a module'}: ${e.message} (${e.code})`);
  return [...seen];
}
