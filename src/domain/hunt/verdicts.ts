import type { Observable, Verdict } from '../types.js';

/**
 * Which observables count as Clean (disposition 1) across modules.
 * - `any`: one module saying Clean is enough (what the Python predecessor did).
 * - `unless-malicious` (default): Clean from some module and Malicious from none,
 *   so one optimistic module cannot hide a hash another module convicts.
 */
export type CleanRule = 'any' | 'unless-malicious';

export const observableKey = (o: Observable): string => `${o.type}:${o.value}`;

export function cleanKeys(verdicts: Verdict[], rule: CleanRule): Set<string> {
  const clean = new Set<string>();
  const malicious = new Set<string>();
  for (const v of verdicts) {
    const k = observableKey(v.observable);
    if (v.disposition === 1) clean.add(k);
    if (v.disposition === 2) malicious.add(k);
  }
  if (rule === 'unless-malicious') for (const k of malicious) clean.delete(k);
  return clean;
}

export function splitClean(observables: Observable[], verdicts: Verdict[], rule: CleanRule): { clean: Observable[]; rest: Observable[] } {
  const keys = cleanKeys(verdicts, rule);
  const clean: Observable[] = [];
  const rest: Observable[] = [];
  for (const o of observables) (keys.has(observableKey(o)) ? clean : rest).push(o);
  return { clean, rest };
}
