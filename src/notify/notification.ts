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
  | { kind: 'rung_fired'; incident: IncidentView; rung: string; action: string; mention?: string[]; dryRun: boolean };

export type NotificationKind = Notification['kind'];

/** A channel turns a notification into e-mail, a Webex card, … and delivers it. Throws on failure (the outbox retries). */
export interface Channel {
  readonly name: string;
  /** Whether this channel wants this notification at all. */
  accepts(n: Notification): boolean;
  deliver(n: Notification): Promise<void>;
}

/** The port the domain uses; the implementation stores to the outbox first, so nothing is lost. */
export interface Notifier {
  notify(n: Notification): Promise<void>;
}
