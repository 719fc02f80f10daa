import type { IncidentDigest, IncidentView, Notification } from './notification.js';

/**
 * Storm mode (issue 13), as rules over numbers and notifications, with no I/O: the outbox asks
 * `stormStep` what a room's queue should do now, and `buildDigest` turns the waiting incident
 * notifications into one digest. A storm starts when more incident news waits for a room than
 * it can show in `enterDepth` messages (its chat rate × a few minutes); it posts at most one
 * digest per `digestMs`; it ends at the first digest time when little enough is left.
 */
export interface StormPolicy {
  /** Waiting incident notifications that start a storm. */
  enterDepth: number;
  /** At a digest time, this many or fewer left waiting ends the storm (they go as cards). */
  exitDepth: number;
  digestMs: number;
  /** Incidents listed by name per digest. */
  topN: number;
}

export interface StormState {
  active: boolean;
  startedAt?: number;
  lastDigestAt?: number;
  /** After a digest that could not be delivered (transient), when to try again. */
  retryAt?: number;
  /** The queue it belongs to (the outbox wakes an empty storm queue to say the storm is over). */
  channel?: string;
  key?: string;
}

export type StormStep =
  | { do: 'normal' }
  | { do: 'digest'; phase: 'started' | 'digest' }
  | { do: 'end' }
  /** In a storm between digests: incident news waits; everything else is delivered as usual. */
  | { do: 'wait'; untilMs: number };

/** The notifications a storm gathers into digests; closes (an analyst's own action) and hunt news are never held. */
export const STORM_KINDS: ReadonlySet<Notification['kind']> = new Set(['incident_opened', 'incident_updated', 'rung_fired']);

export function stormPolicyFor(opts: { messagesPerMinute: number; thresholdMinutes: number; digestSeconds: number; topN?: number }): StormPolicy {
  const perMinute = Math.max(1, opts.messagesPerMinute);
  return {
    enterDepth: Math.max(2, Math.ceil(perMinute * opts.thresholdMinutes)),
    // What the room shows in a quarter of a digest interval: a short tail goes out as cards.
    exitDepth: Math.max(1, Math.floor((perMinute * opts.digestSeconds) / 60 / 4)),
    digestMs: opts.digestSeconds * 1000,
    topN: opts.topN ?? 25,
  };
}

export function stormStep(state: StormState, waiting: number, nowMs: number, policy: StormPolicy): StormStep {
  if (state.retryAt !== undefined && nowMs < state.retryAt) return { do: 'wait', untilMs: state.retryAt };
  if (!state.active) return waiting >= policy.enterDepth ? { do: 'digest', phase: 'started' } : { do: 'normal' };
  const due = (state.lastDigestAt ?? 0) + policy.digestMs;
  if (nowMs < due) return { do: 'wait', untilMs: due };
  return waiting > policy.exitDepth ? { do: 'digest', phase: 'digest' } : { do: 'end' };
}

/** The state after a step's message was delivered. */
export function afterStep(state: StormState, step: StormStep, nowMs: number): StormState {
  if (step.do === 'digest') return { active: true, startedAt: state.active ? state.startedAt : nowMs, lastDigestAt: nowMs };
  if (step.do === 'end') return { active: false };
  return state;
}

type StormNews = Extract<Notification, { kind: 'incident_opened' | 'incident_updated' | 'rung_fired' }>;

/** Highest sighting count first, then the newest (first seen latest). */
export function byImportance(a: IncidentView, b: IncidentView): number {
  return b.count - a.count || Date.parse(b.firstSeen) - Date.parse(a.firstSeen) || a.targetValue.localeCompare(b.targetValue);
}

/** One digest from the waiting incident notifications (oldest first); the latest view of each incident wins. */
export function buildDigest(news: readonly Notification[], phase: 'started' | 'digest', topN: number): IncidentDigest {
  const latest = new Map<string, IncidentView>();
  const opened = new Set<string>();
  const updated = new Set<string>();
  const escalations = new Map<string, { rung: string; action: string; incidents: Set<string>; dryRun: boolean }>();
  const mention = new Set<string>();
  for (const n of news) {
    if (!STORM_KINDS.has(n.kind)) continue;
    const item = n as StormNews;
    const seen = latest.get(item.incident.id);
    if (!seen || item.incident.count >= seen.count) latest.set(item.incident.id, item.incident);
    if (item.kind === 'incident_opened') opened.add(item.incident.id);
    if (item.kind === 'incident_updated') updated.add(item.incident.id);
    if (item.kind === 'rung_fired') {
      // "respond (isolated host-7)" names its incident: the digest counts the action, not each line.
      const action = item.action.replace(/\s*\(.*\)\s*$/, '');
      const key = `${item.rung}\u0000${action}`;
      const e = escalations.get(key) ?? { rung: item.rung, action, incidents: new Set<string>(), dryRun: item.dryRun };
      e.incidents.add(item.incident.id);
      escalations.set(key, e);
      for (const m of item.mention ?? []) mention.add(m);
    }
  }
  const ranked = [...latest.values()].sort(byImportance);
  return {
    kind: 'incident_digest',
    phase,
    top: ranked.slice(0, topN),
    more: Math.max(0, ranked.length - topN),
    newIncidents: opened.size,
    updatedIncidents: [...updated].filter((id) => !opened.has(id)).length,
    escalations: [...escalations.values()].map((e) => ({ rung: e.rung, action: e.action, incidents: e.incidents.size, dryRun: e.dryRun })),
    mention: [...mention],
  };
}

export function endOfStorm(): IncidentDigest {
  return { kind: 'incident_digest', phase: 'ended', top: [], more: 0, newIncidents: 0, updatedIncidents: 0, escalations: [], mention: [] };
}
