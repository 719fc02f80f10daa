import { targetIdentity } from '../investigate/target-identity.js';
import { correlationInterner, type Interner } from './intern.js';
import type { Rung } from './ladder.js';
import { rungToFire } from './ladder.js';
import { isClosedStatus } from './status.js';
import {
  MAX_IOCS,
  MAX_RECENT_SIGHTINGS,
  MAX_SOURCES,
  type CorrelationState,
  type Incident,
  type SequencedSighting,
  type SightingRecord,
} from './types.js';

export interface ApplyOptions {
  rungs: readonly Rung[];
  rejectedIsClosed: boolean;
  dryRun: boolean;
  /** New local incident ids; must not repeat (checked). */
  newId: () => string;
  /** Shares repeated strings (default: the process's one table). */
  interner?: Interner;
}

export interface ApplyResult {
  incident: Incident;
  created: boolean;
  /** The closed incident this one follows, when there was one. */
  previous?: Incident;
  /** The ladder rung this sighting crossed (already recorded on the incident). */
  rung?: Rung;
}

/**
 * Counts one sighting into its target's one open incident, or opens a new one
 * (linked to the previous, closed one). Synchronous and free of I/O: it runs
 * inside `store.update`, so concurrent deliveries are applied one after the
 * other and can never open two incidents for one target. It changes `state` in
 * place (copying the whole map per sighting would cost more than it protects).
 */
export function applySighting(state: CorrelationState, sighting: SequencedSighting, now: Date, opts: ApplyOptions): ApplyResult {
  const identity = targetIdentity(sighting.target);
  // Interned: the state keeps up to 50 records per incident, and each sighting arrives with its own copies.
  const intern = opts.interner ?? correlationInterner;
  const record: SightingRecord = {
    seq: sighting.seq,
    observedAt: observedTime(sighting.observedAt, now),
    ioc: intern.ioc(sighting.ioc.type, sighting.ioc.value),
    source: intern.string(sighting.source),
  };
  const openId = state.openByTarget[identity.key];
  const open = openId ? state.incidents[openId] : undefined;
  let incident: Incident;
  let created = false;
  let previous: Incident | undefined;
  if (open && !isClosedStatus(open.status, opts)) {
    incident = open;
    countInto(incident, record);
  } else {
    const prevId = state.latestByTarget[identity.key];
    previous = prevId ? state.incidents[prevId] : undefined;
    incident = newIncident(state, { ...identity, type: intern.string(identity.type) }, record, now, opts.newId, previous?.id);
    state.incidents[incident.id] = incident;
    state.openByTarget[identity.key] = incident.id;
    state.latestByTarget[identity.key] = incident.id;
    created = true;
  }
  state.lastAppliedSeq = Math.max(state.lastAppliedSeq, sighting.seq);
  const rung = rungToFire(incident.count, opts.rungs, incident.rungsFired.map((r) => r.rung));
  if (rung) {
    // Recorded BEFORE any action runs, in the same state write as the count: once means once, also after a restart.
    incident.rungsFired.push({ rung: rung.label, count: incident.count, at: now.toISOString(), actions: [...rung.actions], dryRun: opts.dryRun });
  }
  return { incident, created, ...(previous ? { previous } : {}), ...(rung ? { rung } : {}) };
}

function newIncident(
  state: CorrelationState,
  identity: { key: string; type: string; value: string },
  first: SightingRecord,
  now: Date,
  newId: () => string,
  previousIncidentId: string | undefined,
): Incident {
  let id = newId();
  for (let i = 0; state.incidents[id] && i < 10; i++) id = newId();
  if (state.incidents[id]) throw new Error(`incident id generator repeated "${id}"`);
  const incident: Incident = {
    id,
    ordinal: state.nextOrdinal++,
    targetKey: identity.key,
    targetType: identity.type,
    targetValue: identity.value,
    status: 'New',
    count: 1,
    revision: 1,
    firstSeen: first.observedAt,
    lastSeen: first.observedAt,
    openedAt: now.toISOString(),
    initial: first,
    recentSightings: [],
    lastIoc: first.ioc,
    lastSource: first.source,
    iocs: [{ ...first.ioc, count: 1, lastSeen: first.observedAt }],
    iocsTotal: 1,
    sources: { [first.source]: 1 },
    rungsFired: [],
    xdrSync: { pending: [], dropped: 0 },
  };
  if (previousIncidentId) incident.previousIncidentId = previousIncidentId;
  return incident;
}

function countInto(incident: Incident, record: SightingRecord): void {
  incident.count += 1;
  incident.revision += 1;
  if (record.observedAt < incident.initial.observedAt) {
    // An earlier observation arrived late: it becomes the initial event.
    pushRecent(incident, incident.initial);
    incident.initial = record;
  } else {
    pushRecent(incident, record);
  }
  if (record.observedAt < incident.firstSeen) incident.firstSeen = record.observedAt;
  if (record.observedAt >= incident.lastSeen) {
    incident.lastSeen = record.observedAt;
    incident.lastIoc = record.ioc;
    incident.lastSource = record.source;
  }
  const known = incident.iocs.findIndex((i) => i.type === record.ioc.type && i.value === record.ioc.value);
  const seen = known >= 0 ? incident.iocs.splice(known, 1)[0]! : { ...record.ioc, count: 0, lastSeen: record.observedAt };
  if (known < 0) incident.iocsTotal += 1;
  seen.count += 1;
  if (record.observedAt > seen.lastSeen) seen.lastSeen = record.observedAt;
  incident.iocs.unshift(seen);
  incident.iocs.length = Math.min(incident.iocs.length, MAX_IOCS);
  if (record.source in incident.sources || Object.keys(incident.sources).length < MAX_SOURCES) {
    incident.sources[record.source] = (incident.sources[record.source] ?? 0) + 1;
  }
}

function pushRecent(incident: Incident, record: SightingRecord): void {
  incident.recentSightings.push(record);
  if (incident.recentSightings.length > MAX_RECENT_SIGHTINGS) incident.recentSightings.splice(0, incident.recentSightings.length - MAX_RECENT_SIGHTINGS);
}

/** ISO observed time; the processing time only when the sender gave none we can read. */
export function observedTime(raw: string, now: Date): string {
  const d = new Date(raw);
  return Number.isNaN(d.getTime()) ? now.toISOString() : d.toISOString();
}
