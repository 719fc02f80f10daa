import type { Observable } from '../types.js';
import type { IncomingSighting } from './intake.js';
import type { State } from '../../store/state.js';

/**
 * The correlator's section of the state file. Everything per incident is
 * BOUNDED (see the MAX_* constants) so the file grows per incident, not per
 * sighting: lowdb rewrites the whole file on every update.
 */

/** Sightings kept per incident for the description bullets and "Show sightings". */
export const MAX_RECENT_SIGHTINGS = 50;
/** Distinct IOCs kept per incident (most recently seen first). */
export const MAX_IOCS = 25;
/** Distinct sources kept per incident. */
export const MAX_SOURCES = 20;
/** Closed incidents kept once they have nothing left to sync; older ones are pruned. */
export const MAX_CLOSED_INCIDENTS = 500;

export interface SightingRecord {
  seq: number;
  observedAt: string;
  ioc: Observable;
  source: string;
}

export interface SeenIoc extends Observable {
  count: number;
  lastSeen: string;
}

export interface RungRecord {
  /** The rung's label as configured, e.g. "gte 3". */
  rung: string;
  /** The count that crossed it. */
  count: number;
  at: string;
  /** Actions of the rung, e.g. ["notify", "webhook"]. */
  actions: string[];
  dryRun: boolean;
  /** What happened once the actions ran (set after the fact; absent if Sightline stopped first). */
  outcome?: string;
}

/** One step of mirroring an incident into XDR; removed from the queue only once done. */
export type XdrOp =
  | { id: number; kind: 'create_incident'; attempts: number; lastError?: string }
  | {
      id: number;
      kind: 'sighting';
      seq: number;
      /** The CTIM sighting to POST (id removed, source marked as Sightline's). */
      ctim: Record<string, unknown>;
      /** Set once XDR stored the sighting, so a retry only re-tries the relationship. */
      xdrSightingId?: string;
      attempts: number;
      lastError?: string;
    }
  /** Description/count/confidence; one at most per incident (rendered from data when it runs). */
  | { id: number; kind: 'patch'; attempts: number; lastError?: string }
  | { id: number; kind: 'relate_previous'; previousIncidentId: string; attempts: number; lastError?: string }
  | { id: number; kind: 'status'; status: string; attempts: number; lastError?: string };

/** An op XDR refused for good: kept (newest MAX_DEAD_LETTERS per incident) so it is never lost in silence. */
export interface XdrDeadLetter {
  opId: number;
  kind: XdrOp['kind'];
  /** The journal seq of the sighting, for a sighting op. */
  seq?: number;
  /** XDR's answer, as the error said it. */
  reason: string;
  attempts: number;
  at: string;
}

export interface XdrSyncState {
  pending: XdrOp[];
  /** Ops given up on after repeated permanent (4xx) failures. */
  dropped: number;
  /** The latest of those, with XDR's reason (shown in `hunt status`). */
  deadLetters?: XdrDeadLetter[];
  /**
   * Sightings not copied into XDR one by one because more than MAX_PENDING_SIGHTINGS were
   * waiting for this incident (a burst, or XDR down): the incident's count and description
   * still include them. Keeps the queue — and the state file — bounded whatever the rate.
   */
  unmirrored?: number;
  lastError?: string;
  lastSyncedAt?: string;
}

export interface Incident {
  /** Local id, e.g. "inc-3f9a2c1d"; what analysts see and what commands take. */
  id: string;
  /** Creation order, so XDR mirroring creates previous incidents first. */
  ordinal: number;
  /** XDR long id once the incident exists there. */
  xdrId?: string;
  targetKey: string;
  targetType: string;
  targetValue: string;
  status: string;
  /** Sightings counted into this incident (never bounded). */
  count: number;
  /** Bumped on every change that alters the XDR description. */
  revision: number;
  /** OBSERVED times (min / max over all sightings), not processing times. */
  firstSeen: string;
  lastSeen: string;
  openedAt: string;
  closedAt?: string;
  closedBy?: string;
  closeReason?: string;
  /** The earliest-observed sighting: the description's "Initial Detected Security Event". */
  initial: SightingRecord;
  /** The last MAX_RECENT_SIGHTINGS sightings other than `initial`, in arrival order. */
  recentSightings: SightingRecord[];
  lastIoc: Observable;
  lastSource: string;
  iocs: SeenIoc[];
  /** IOCs added to the list so far (exact while the list has not overflowed). */
  iocsTotal: number;
  sources: Record<string, number>;
  previousIncidentId?: string;
  /** MITRE tactic / technique ids the sightings carried (bounded), for the XDR incident. */
  tactics?: string[];
  techniques?: string[];
  rungsFired: RungRecord[];
  /** The Webex card of incident_opened, for threaded updates. */
  cardMessageId?: string;
  xdrSync: XdrSyncState;
}

export interface CorrelationState {
  incidents: Record<string, Incident>;
  /** targetKey → id of its one open incident. */
  openByTarget: Record<string, string>;
  /** targetKey → id of its most recent incident, open or closed (the "previous" of the next one). */
  latestByTarget: Record<string, string>;
  /** Highest intake sequence number applied; replays at or below it are ignored. */
  lastAppliedSeq: number;
  nextOrdinal: number;
  nextOpId: number;
}

export function emptyCorrelationState(): CorrelationState {
  return { incidents: {}, openByTarget: {}, latestByTarget: {}, lastAppliedSeq: 0, nextOrdinal: 1, nextOpId: 1 };
}

/** The correlation section for writing (inside store.update); created on first use. */
export function correlationOf(state: State): CorrelationState {
  if (!isCorrelationState(state.correlation)) state.correlation = { ...emptyCorrelationState(), ...(state.correlation as object | undefined) };
  return state.correlation as CorrelationState;
}

/** The correlation section for reading; an empty one if nothing was stored yet. */
export function readCorrelation(state: Readonly<State>): CorrelationState {
  return isCorrelationState(state.correlation) ? state.correlation : emptyCorrelationState();
}

function isCorrelationState(v: unknown): v is CorrelationState {
  if (typeof v !== 'object' || v === null) return false;
  const c = v as Partial<CorrelationState>;
  return (
    typeof c.incidents === 'object' &&
    typeof c.openByTarget === 'object' &&
    typeof c.latestByTarget === 'object' &&
    typeof c.lastAppliedSeq === 'number' &&
    typeof c.nextOrdinal === 'number' &&
    typeof c.nextOpId === 'number'
  );
}

/** A sighting as the engine applies it: the intake's record plus its journal sequence number. */
export type SequencedSighting = IncomingSighting & { seq: number };
