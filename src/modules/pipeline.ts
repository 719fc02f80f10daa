import { createHash } from 'node:crypto';
import type { XdrPort } from '../domain/ports/xdr.js';
import { systemClock, type Clock } from '../core/clock.js';
import type { IncomingSighting } from '../domain/correlation/intake.js';
import { targetSightings, type SkipReason, type TargetSighting } from '../domain/investigate/sightings.js';
import { identityOf, targetIdentity } from '../domain/investigate/target-identity.js';
import { extractIocs, plainText } from '../domain/ioc/extract.js';
import type { Observable, RejectedValue, Verdict } from '../domain/types.js';
import type { SightingIntake } from '../domain/correlation/intake.js';
import type { Logger } from '../core/logger.js';
import type { Store } from '../store/store.js';

/**
 * The module pipeline of seeds.md §1.9, as one function over ports: free text →
 * indicators → verdicts → drop Clean → observe → sightings on OUR targets →
 * one IncomingSighting per (target, sighted indicator). Unlike the seed it
 * batches deliberate/observe, keeps every target type, and never crashes on a
 * target without a hostname.
 */
export type CleanRule = 'any' | 'unless-malicious';

/** What every text-mining module (RSS, X) needs: XDR, the correlator's intake, the store and the cleaning policy. */
export interface ModuleDeps {
  xdr: Pick<XdrPort, 'deliberate' | 'observe' | 'inspect'>;
  intake: SightingIntake;
  store: Store;
  logger: Logger;
  clock: Clock;
  excludedModules: string[];
  cleanRule: CleanRule;
  useInspect?: boolean;
}

export interface InvestigateTextInput {
  text: string;
  /** Where the text came from, e.g. "rss:https://blog.example/feed" or "x:#opendir". */
  source: string;
  xdr: Pick<XdrPort, 'deliberate' | 'observe' | 'inspect'>;
  excludedModules: string[];
  cleanRule: CleanRule;
  /** Also ask IROH inspect for indicators (merged with the local ones): finds types the local extractor does not. */
  useInspect?: boolean;
  /** Used only when XDR gives no observation time at all. */
  clock?: Clock;
  signal?: AbortSignal;
}

export interface InvestigateStats {
  extracted: number;
  rejected: number;
  clean: number;
  investigated: number;
  moduleSightings: number;
  skipped: Record<SkipReason, number>;
  /** Target sightings whose observables were none of the ones we asked about. */
  unmatched: number;
  moduleErrors: number;
}

export interface InvestigateResult {
  sightings: IncomingSighting[];
  rejected: RejectedValue[];
  stats: InvestigateStats;
}

/** Appended to the source of every sighting we mirror, so modules never ingest their own output (isOwnSighting). */
export const OWN_SOURCE_SUFFIX = ' - via Sightline';
/** IROH inspect works best on short texts (xdr-api.md §3.1; exact limit unverified). */
const INSPECT_CHUNK_CHARS = 2_000;
const INSPECT_MAX_CHUNKS = 20;

/** investigateText() with a module's own XDR, cleaning policy and clock. */
export function investigateModuleText(deps: ModuleDeps, text: string, source: string): Promise<InvestigateResult> {
  return investigateText({ text, source, xdr: deps.xdr, excludedModules: deps.excludedModules, cleanRule: deps.cleanRule, useInspect: deps.useInspect, clock: deps.clock });
}

export async function investigateText(input: InvestigateTextInput): Promise<InvestigateResult> {
  const local = extractIocs(input.text);
  const observables = input.useInspect ? merge(local.observables, await inspectChunks(input)) : local.observables;
  const stats: InvestigateStats = {
    extracted: observables.length,
    rejected: local.rejected.length,
    clean: 0,
    investigated: 0,
    moduleSightings: 0,
    skipped: { 'excluded module': 0, 'not internal': 0, 'no targets': 0, 'created by Sightline': 0 },
    unmatched: 0,
    moduleErrors: 0,
  };
  const done = (sightings: IncomingSighting[]): InvestigateResult => ({ sightings, rejected: local.rejected, stats });
  if (observables.length === 0) return done([]);

  const deliberation = await input.xdr.deliberate(observables, input.signal);
  const suspects = observables.filter((o) => !isClean(o, deliberation.verdicts, input.cleanRule));
  stats.clean = observables.length - suspects.length;
  stats.investigated = suspects.length;
  stats.moduleErrors += deliberation.errors.length;
  if (suspects.length === 0) return done([]);

  const observation = await input.xdr.observe(suspects, input.signal);
  stats.moduleSightings = observation.sightings.length;
  stats.moduleErrors += observation.errors.length;
  const { kept, skipped } = targetSightings(observation.sightings, { excludedModules: input.excludedModules });
  stats.skipped = skipped;

  const asked = new Map(suspects.map((o) => [observableKey(o), o]));
  const now = (input.clock ?? systemClock).now().toISOString();
  const out = new Map<string, IncomingSighting>();
  for (const ts of kept) {
    const sighted = ts.observables.map((o) => asked.get(observableKey(o))).filter((o): o is Observable => o !== undefined);
    // A module may describe the sighting by a related observable only; with one question the answer is unambiguous.
    if (sighted.length === 0 && suspects.length === 1) sighted.push(suspects[0]!);
    if (sighted.length === 0) {
      stats.unmatched++;
      continue;
    }
    for (const ioc of dedupe(sighted)) {
      const incoming = toIncoming(ts, ioc, input.source, now);
      out.set(incoming.dedupeKey, incoming);
    }
  }
  return done([...out.values()]);
}

/** `any`: one module saying Clean is enough (seed B2). `unless-malicious`: Clean from some module and Malicious from none. */
export function isClean(o: Observable, verdicts: Verdict[], rule: CleanRule): boolean {
  const key = observableKey(o);
  const mine = verdicts.filter((v) => observableKey(v.observable) === key);
  const someClean = mine.some((v) => v.disposition === 1);
  if (rule === 'any') return someClean;
  return someClean && !mine.some((v) => v.disposition === 2);
}

function toIncoming(ts: TargetSighting, ioc: Observable, source: string, now: string): IncomingSighting {
  const { id, ...rest } = ts.sighting;
  const ctim: Record<string, unknown> = { ...rest, source: `${rest.source ?? ts.module}${OWN_SOURCE_SUFFIX}` };
  // `transient:` ids are minted per enrichment answer (xdr-api.md §3.3), so they cannot dedupe across polls; hash the content instead.
  const sightingRef = id && !id.startsWith('transient:') ? id : contentHash(rest);
  const target = targetIdentity(ts.target);
  const iocKey = identityOf(ioc).key;
  return {
    dedupeKey: `${ts.module}|${sightingRef}|${target.key}|${iocKey}`,
    target: ts.target,
    ioc: { type: ioc.type, value: ioc.value },
    source: `${ts.module} via ${source}`,
    observedAt: ts.observedAt ?? now,
    ctim,
  };
}

async function inspectChunks(input: InvestigateTextInput): Promise<Observable[]> {
  const found: Observable[] = [];
  for (const chunk of chunkText(plainText(input.text), INSPECT_CHUNK_CHARS).slice(0, INSPECT_MAX_CHUNKS)) {
    found.push(...(await input.xdr.inspect(chunk)));
  }
  return found;
}

/** Splits at whitespace near the limit so an indicator is rarely cut in two. */
export function chunkText(text: string, size: number): string[] {
  const chunks: string[] = [];
  let at = 0;
  while (at < text.length) {
    let end = Math.min(text.length, at + size);
    if (end < text.length) {
      const space = text.lastIndexOf(' ', end);
      if (space > at + size / 2) end = space;
    }
    const chunk = text.slice(at, end).trim();
    if (chunk) chunks.push(chunk);
    at = end;
  }
  return chunks;
}

function merge(a: Observable[], b: Observable[]): Observable[] {
  return dedupe([...a, ...b]);
}

function dedupe(list: Observable[]): Observable[] {
  const byKey = new Map<string, Observable>();
  for (const o of list) if (!byKey.has(observableKey(o))) byKey.set(observableKey(o), o);
  return [...byKey.values()];
}

function observableKey(o: Observable): string {
  return `${o.type}|${o.value.trim().toLowerCase()}`;
}

/** Stable hash of a JSON value: object keys sorted, so key order in the answer does not matter. */
export function contentHash(value: unknown): string {
  return createHash('sha256').update(stableJson(value)).digest('hex').slice(0, 32);
}

function stableJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${stableJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}
