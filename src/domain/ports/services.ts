import type { IncidentView } from '../../notify/notification.js';

/**
 * Services the chat commands drive. The hunt and correlation parts implement
 * them; commands depend on nothing else.
 */
export interface HuntStatus {
  /** `onAnotherInstance` (PostgreSQL mode): another instance holds the hunt; its progress is in that instance's memory. */
  running?: { id: string; label: string; startedAt: string; threatsDone: number; threatsTotal: number; onAnotherInstance?: boolean };
  last?: { id: string; label: string; status: string; startedAt: string; finishedAt?: string; summary?: string };
  nextRun?: string;
  pendingRetry?: { week: string; attempt: number; maxAttempts: number; nextAttemptAt: string };
  cursorUrlId?: number;
  /** XDR changes refused for good (dead letters), for the admins to look at. */
  xdrDeadLetters?: { total: number; latest: { incidentId: string; target: string; kind: string; reason: string; at: string }[] };
  /** Each Talos source the weekly hunt reads, with where it stands. */
  sources?: Array<{ name: string; cursor: string }>;
}

export interface HuntService {
  /** Starts this week's hunt in the background; `alreadyRunning` when one is under way. */
  runThisWeek(requestedBy: string): Promise<{ started: true; huntId: string } | { started: false; alreadyRunning: HuntStatus['running'] }>;
  /** Starts a hunt of one roundup URI; throws UriRefusedError for hosts outside the allow-list. */
  runUri(uri: string, requestedBy: string): Promise<{ started: true; huntId: string } | { started: false; alreadyRunning: HuntStatus['running'] }>;
  /** Sync for one process; PostgreSQL mode asks the database (a hunt held by another instance, XDR dead letters). */
  status(): HuntStatus | Promise<HuntStatus>;
}

export type IncidentFilter = 'open' | 'closed' | 'all';

/**
 * What a card's Close button did: closed the incident the card shows, or found it
 * already closed — with the target's open incident, if there is one, for the
 * analyst to choose separately (never closed on their behalf).
 */
export type CloseByIdResult = { closed: true; incident: IncidentView } | { closed: false; incident: IncidentView; open?: IncidentView };

export interface IncidentPageView {
  items: IncidentView[];
  /** Over everything the store keeps under the filter (PostgreSQL: all history until retention). */
  total: number;
}

export interface IncidentSightingLine {
  observedAt: string;
  ioc: string;
  source: string;
}

/** Reads answer synchronously from the lowdb state in memory, asynchronously from PostgreSQL: callers await. */
export interface IncidentService {
  list(filter: IncidentFilter, page: number, pageSize: number): IncidentPageView | Promise<IncidentPageView>;
  /** Closes the open incident of a target (given as typed by the analyst). Throws NotFoundError if none is open. */
  close(target: string, by: string, reason?: string): Promise<IncidentView>;
  /** Closes exactly this incident (local id or XDR id), for the card's button. Throws NotFoundError for an unknown id. */
  closeById(incidentId: string, by: string, reason?: string): Promise<CloseByIdResult>;
  /** Sightings of one incident, newest first, for the "Show sightings" button. */
  sightings(incidentId: string, limit: number): IncidentSightingLine[] | Promise<IncidentSightingLine[]>;
}
