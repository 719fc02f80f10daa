import type { ModuleSighting, Observable, SightingTarget, TargetFinding } from '../types.js';
import { targetIdentity } from './target-identity.js';

/**
 * Which module sightings mean "seen in OUR environment": they have targets, do not
 * come from a threat-intel module (configurable list, seeds.md §4 #229), are not
 * explicitly `internal: false`, and were not created by Sightline itself (loop
 * prevention: our own mirrored sightings carry "sightline" in their source).
 */
export interface SightingFilter {
  excludedModules: string[];
}

export type SkipReason = 'excluded module' | 'not internal' | 'no targets' | 'created by Sightline';

export function skipReason(s: ModuleSighting, filter: SightingFilter): SkipReason | undefined {
  const excluded = filter.excludedModules.map((m) => m.toLowerCase());
  if (excluded.includes(s.module.toLowerCase())) return 'excluded module';
  if (s.sighting.internal === false) return 'not internal';
  if (!s.sighting.targets || s.sighting.targets.length === 0) return 'no targets';
  if (isOwnSighting(s.sighting.source)) return 'created by Sightline';
  return undefined;
}

export function isOwnSighting(source: string | undefined): boolean {
  return typeof source === 'string' && /sightline|sxo-sighting/i.test(source);
}

/** One entry per (sighting, target) that passed the filter. */
export interface TargetSighting {
  module: string;
  target: SightingTarget;
  observables: Observable[];
  observedAt?: string;
  sourceUri?: string;
  sighting: ModuleSighting['sighting'];
}

export function targetSightings(sightings: ModuleSighting[], filter: SightingFilter): { kept: TargetSighting[]; skipped: Record<SkipReason, number> } {
  const skipped: Record<SkipReason, number> = { 'excluded module': 0, 'not internal': 0, 'no targets': 0, 'created by Sightline': 0 };
  const kept: TargetSighting[] = [];
  for (const s of sightings) {
    const reason = skipReason(s, filter);
    if (reason) {
      skipped[reason]++;
      continue;
    }
    for (const target of s.sighting.targets ?? []) {
      kept.push({
        module: s.module,
        target,
        observables: s.sighting.observables ?? [],
        observedAt: target.observed_time?.start_time ?? s.sighting.observed_time?.start_time,
        sourceUri: s.sighting.source_uri,
        sighting: s.sighting,
      });
    }
  }
  return { kept, skipped };
}

/**
 * Groups target sightings into one finding per target (never one per module
 * sighting): modules, observables and the first/last time merged.
 */
export function groupByTarget(items: TargetSighting[]): TargetFinding[] {
  const byKey = new Map<string, TargetFinding>();
  for (const it of items) {
    const id = targetIdentity(it.target);
    let f = byKey.get(id.key);
    if (!f) {
      f = { key: id.key, type: it.target.type, identifiers: [], modules: [], observables: [], sourceUris: [] };
      byKey.set(id.key, f);
    }
    for (const o of it.target.observables) addUnique(f.identifiers, o);
    if (!f.modules.includes(it.module)) f.modules.push(it.module);
    for (const o of it.observables) addUnique(f.observables, o);
    if (it.sourceUri && !f.sourceUris.includes(it.sourceUri)) f.sourceUris.push(it.sourceUri);
    if (it.observedAt) {
      if (!f.firstSeen || it.observedAt < f.firstSeen) f.firstSeen = it.observedAt;
      if (!f.lastSeen || it.observedAt > f.lastSeen) f.lastSeen = it.observedAt;
    }
  }
  return [...byKey.values()].sort((a, b) => a.key.localeCompare(b.key));
}

function addUnique(list: Observable[], o: Observable): void {
  if (!list.some((x) => x.type === o.type && x.value === o.value)) list.push({ type: o.type, value: o.value });
}
