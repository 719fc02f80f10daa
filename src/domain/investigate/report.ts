import { cleanKeys, observableKey, type CleanRule } from '../hunt/verdicts.js';
import { DISPOSITIONS, type Disposition, type ModuleError, type ModuleSighting, type Observable, type RejectedValue, type Verdict } from '../types.js';
import { groupByTarget, targetSightings } from './sightings.js';

/**
 * What one `investigate` found, built from XDR's answers with no I/O: per
 * observable its verdict per module and the targets in OUR environment that
 * sighted it (the hunt's rules: threat-intel modules, `internal: false` and
 * targetless sightings do not count), plus the modules' links and the response
 * actions XDR offered. The card renders this; nothing here talks to anyone.
 */
export type VerdictName = (typeof DISPOSITIONS)[Disposition];

export interface ModuleVerdict {
  module: string;
  verdict: VerdictName;
}

export interface OfferedAction {
  /** Our own id for the button (the card never carries XDR's ids, so a click cannot be forged into another action). */
  offerId: string;
  title: string;
  module: string;
}

export interface LinkView {
  module: string;
  title: string;
  url: string;
}

export interface TargetView {
  key: string;
  /** e.g. "DESKTOP-AU3IP5K" — the identifying value shown to people. */
  label: string;
  type: string;
  modules: string[];
  lastSeen?: string;
  /** The open Sightline incident for this target, if any. */
  incident?: { id: string; count: number; url?: string };
  actions: OfferedAction[];
}

export interface ObservableView {
  observable: Observable;
  /** The overall verdict: Malicious if any module says so, then Suspicious, Clean (by XDR_CLEAN_RULE), Common, Unknown. */
  verdict: VerdictName;
  modules: ModuleVerdict[];
  /** Keys of the targets (see `targets`) that sighted it. */
  sightedOn: string[];
  links: LinkView[];
  actions: OfferedAction[];
}

export interface InvestigationReport {
  observables: ObservableView[];
  targets: TargetView[];
  rejected: RejectedValue[];
  /** Links XDR gave that name no observable of this message; shown once, at the end. */
  otherLinks: LinkView[];
  moduleErrors: string[];
  truncated: boolean;
}

export interface ReportInput {
  observables: Observable[];
  verdicts: Verdict[];
  sightings: ModuleSighting[];
  links: { module: string; title: string; url: string }[];
  errors: ModuleError[];
  rejected?: RejectedValue[];
  truncated?: boolean;
  excludedModules: string[];
  cleanRule: CleanRule;
  /** Offered actions by observable key (`type:value`), from the response-action offers. */
  actionsFor?: (o: Observable) => OfferedAction[];
  incidentFor?: (targetKey: string) => TargetView['incident'];
}

const RANK: Record<VerdictName, number> = { Malicious: 0, Suspicious: 1, Clean: 3, Common: 2, Unknown: 4 };

export function overallVerdict(o: Observable, verdicts: Verdict[], clean: Set<string>): VerdictName {
  const mine = verdicts.filter((v) => sameObservable(v.observable, o));
  if (mine.some((v) => v.disposition === 2)) return 'Malicious';
  if (mine.some((v) => v.disposition === 3)) return 'Suspicious';
  if (clean.has(observableKey(o))) return 'Clean';
  if (mine.some((v) => v.disposition === 4)) return 'Common';
  return 'Unknown';
}

/** Worst first (Malicious, Suspicious, Common, Clean, Unknown), then in the order the analyst wrote them. */
export function byVerdict(a: ObservableView, b: ObservableView): number {
  return RANK[a.verdict] - RANK[b.verdict];
}

export function buildReport(input: ReportInput): InvestigationReport {
  const clean = cleanKeys(input.verdicts, input.cleanRule);
  const { kept } = targetSightings(input.sightings, { excludedModules: input.excludedModules });
  const findings = groupByTarget(kept);
  const targets: TargetView[] = findings.map((f) => {
    const label = f.identifiers.find((i) => i.type === 'hostname')?.value ?? f.identifiers[0]?.value ?? f.key;
    const actions = f.identifiers.flatMap((i) => input.actionsFor?.(i) ?? []);
    const view: TargetView = { key: f.key, label, type: f.type, modules: f.modules, actions: dedupeActions(actions) };
    if (f.lastSeen) view.lastSeen = f.lastSeen;
    const incident = input.incidentFor?.(f.key);
    if (incident) view.incident = incident;
    return view;
  });
  // Indexed by observable once, so a 200-observable paste stays linear.
  const verdictsOf = groupBy(input.verdicts, (v) => keyOf(v.observable));
  const linksOf = new Map<string, LinkView[]>();
  const owners = new Map<number, Observable | undefined>();
  const seenUrls = new Set<string>();
  input.links.forEach((l, i) => {
    if (seenUrls.has(l.url)) return; // the same link from two lookups is one link
    seenUrls.add(l.url);
    const owner = linkOwner(l, input.observables);
    owners.set(i, owner);
    if (owner) linksOf.set(keyOf(owner), [...(linksOf.get(keyOf(owner)) ?? []), { module: l.module, title: l.title, url: l.url }]);
  });
  const sightedOnOf = new Map<string, string[]>();
  for (const f of findings) for (const o of f.observables) sightedOnOf.set(keyOf(o), [...(sightedOnOf.get(keyOf(o)) ?? []), f.key]);
  const observables = input.observables
    .map((o): ObservableView => {
      const mine = verdictsOf.get(keyOf(o)) ?? [];
      const modules = mine.map((v) => ({ module: v.module, verdict: DISPOSITIONS[v.disposition] }));
      return {
        observable: o,
        verdict: overallVerdict(o, mine, clean),
        modules: uniqueModules(modules),
        sightedOn: [...new Set(sightedOnOf.get(keyOf(o)) ?? [])],
        links: linksOf.get(keyOf(o)) ?? [],
        actions: input.actionsFor?.(o) ?? [],
      };
    })
    .sort(byVerdict);
  const otherLinks = [...owners]
    .filter(([, owner]) => owner === undefined)
    .map(([i]) => input.links[i]!)
    .map((l) => ({ module: l.module, title: l.title, url: l.url }));
  return {
    observables,
    targets,
    rejected: input.rejected ?? [],
    otherLinks,
    moduleErrors: describeErrors(input.errors),
    truncated: input.truncated ?? false,
  };
}

/** Counts per overall verdict, for the summary line and the "and N more" tail. */
export function verdictCounts(views: readonly ObservableView[]): Partial<Record<VerdictName, number>> {
  const counts: Partial<Record<VerdictName, number>> = {};
  for (const v of views) counts[v.verdict] = (counts[v.verdict] ?? 0) + 1;
  return counts;
}

function sameObservable(a: Observable, b: Observable): boolean {
  return a.type === b.type && a.value.toLowerCase() === b.value.toLowerCase();
}

const keyOf = (o: Observable): string => `${o.type}:${o.value.toLowerCase()}`;

function groupBy<T>(items: readonly T[], key: (t: T) => string): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const it of items) {
    const k = key(it);
    const list = out.get(k);
    if (list) list.push(it);
    else out.set(k, [it]);
  }
  return out;
}

/**
 * Refer answers do not say which observable a link is for (the `Ref` schema has no
 * observable), so a link belongs to the observable its address names — the most
 * specific one when it names several (a URL's link names its host too).
 */
export function linkOwner(link: { url: string }, observables: readonly Observable[]): Observable | undefined {
  let url = link.url;
  try {
    url = decodeURIComponent(url);
  } catch {
    // a malformed escape: compare the raw text
  }
  const text = url.toLowerCase();
  let best: Observable | undefined;
  for (const o of observables) if (text.includes(o.value.toLowerCase()) && (!best || o.value.length > best.value.length)) best = o;
  return best;
}

function uniqueModules(list: ModuleVerdict[]): ModuleVerdict[] {
  const seen = new Set<string>();
  return list.filter((m) => {
    const k = `${m.module}|${m.verdict}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

function dedupeActions(list: OfferedAction[]): OfferedAction[] {
  const seen = new Set<string>();
  return list.filter((a) => (seen.has(a.offerId) ? false : (seen.add(a.offerId), true)));
}

function describeErrors(errors: ModuleError[]): string[] {
  const seen = new Set<string>();
  for (const e of errors) seen.add(`${e.module ?? 'a module'}: ${e.message} (${e.code})`);
  return [...seen];
}
