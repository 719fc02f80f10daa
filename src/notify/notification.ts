import type { Observable, TargetFinding } from '../domain/types.js';

/**
 * Everything Sightline tells people, as data. Each channel (email, Webex) renders
 * these its own way; the domain only ever produces them.
 */
export interface HuntRef {
  id: string;
  /** The roundup's week (its Friday, YYYY-MM-DD) or the URI for a one-off hunt. */
  label: string;
  uri: string;
  dryRun?: boolean;
}

export interface ThreatSummary {
  name: string;
  description: string;
  observableCount: number;
  rejectedCount: number;
}

export interface ThreatOutcome {
  name: string;
  description: string;
  observables: number;
  clean: number;
  investigated: number;
  rejected: number;
  targets: TargetFinding[];
  casebook?: { id: string; url: string };
  /** The XDR incident the hunt filed for this threat (HUNT_XDR_OUTPUT incident or both). */
  incident?: { id: string; url: string };
  moduleErrors: string[];
  /** A Cisco-Talos/IOCs post: its blog address, linked from the hunt summary. */
  link?: string;
  error?: string;
}

export interface IncidentView {
  id: string;
  targetKey: string;
  targetType: string;
  targetValue: string;
  count: number;
  status: string;
  firstSeen: string;
  lastSeen: string;
  lastIoc?: Observable;
  lastSource?: string;
  url?: string;
  previousId?: string;
  rungsFired: string[];
}

export type Notification =
  | { kind: 'hunt_started'; hunt: HuntRef; publicationDate?: string; threats: ThreatSummary[] }
  | { kind: 'threat_targets'; hunt: HuntRef; threat: ThreatOutcome }
  | { kind: 'threat_no_targets'; hunt: HuntRef; threat: ThreatOutcome }
  | { kind: 'hunt_finished'; hunt: HuntRef; threats: ThreatOutcome[]; xdrCalls: number; durationMs: number }
  | { kind: 'not_published'; week: string; uri: string; attempts: number }
  | { kind: 'talos_nothing_new'; week: string; sources: string[] }
  | { kind: 'hunt_failed'; hunt?: HuntRef; week?: string; error: string }
  | { kind: 'incident_opened'; incident: IncidentView; roomHint?: string }
  | { kind: 'incident_updated'; incident: IncidentView; newSightings: number; crossed: string[]; replyTo?: string }
  | { kind: 'incident_closed'; incident: IncidentView; by: string; reason?: string }
  | {
      kind: 'rung_fired';
      incident: IncidentView;
      rung: string;
      /** The ladder action (notify, mention, respond, webhook): the bot's own word. */
      action: string;
      /** What the action did ("Umbrella Block in Umbrella: success"): may quote outside values, rendered inert. */
      outcome?: string | undefined;
      /** The count at which the rung fired; `incident.count` may already be higher when one delivery carries several sightings. */
      firedAtCount?: number | undefined;
      mention?: string[];
      dryRun: boolean;
    }
  | IncidentDigest;

/**
 * Storm mode (notify/storm.ts): the incidents waiting for a room, as one message. `started`
 * opens a storm, `digest` continues it, `ended` says the room is back to one card per incident.
 */
export interface IncidentDigest {
  kind: 'incident_digest';
  phase: 'started' | 'digest' | 'ended';
  /** The incidents that matter most now (highest count, then newest), at most STORM_DIGEST_TOP. */
  top: IncidentView[];
  /** Incidents in this digest beyond `top`. */
  more: number;
  newIncidents: number;
  updatedIncidents: number;
  /** Ladder rungs reached by incidents in this digest: one line each, one mention for all. */
  escalations: { rung: string; action: string; incidents: number; dryRun: boolean }[];
  mention: string[];
}

export type NotificationKind = Notification['kind'];

/** A channel turns a notification into e-mail, a Webex card, … and delivers it. Throws on failure (the outbox retries). */
export interface Channel {
  readonly name: string;
  /** Whether this channel wants this notification at all. */
  accepts(n: Notification): boolean;
  /** With `progress`, a notification of several messages starts after those already posted and records each one it posts. */
  deliver(n: Notification, progress?: DeliveryProgress): Promise<void>;
  /**
   * The queue within this channel that `n` waits in (e.g. its Webex room): queues are delivered
   * independently, in order within each, so a stuck room never holds back another. Default: one queue.
   */
  queueFor?(n: Notification): string;
  /**
   * How long a delivery started now would wait for this channel's own rate limit (ms). A
   * PostgreSQL sender lets the queue go rather than hold its transaction open that long. Absent: never.
   */
  waitMs?(): number;
}

/**
 * How far the delivery of one outbox item got, when the channel sends it as several messages (a
 * hunt's threat with several targets is a card per target). Kept where the outbox keeps the item
 * (the delivery receipts file on lowdb, a table on PostgreSQL), so a retry after a failure, a
 * crash, or on another instance posts only the messages not yet out.
 */
export interface DeliveryProgress {
  /** Messages of this item already posted. */
  readonly sent: number;
  /** Called after each message but the last is posted, with how many are out; resolves once recorded. */
  record(sent: number): Promise<void>;
}

/** The port the domain uses; the implementation stores to the outbox first, so nothing is lost. */
export interface Notifier {
  notify(n: Notification): Promise<void>;
}
