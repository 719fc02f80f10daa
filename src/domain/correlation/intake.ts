import type { Observable, SightingTarget } from '../types.js';

/**
 * A sighting of an IOC on a target, from any module (webhook, RSS, X, hunt),
 * validated and normalised at the edge. The correlator takes only these.
 */
export interface IncomingSighting {
  /** Idempotency key: the sender's id / external id, or a content hash when none. */
  dedupeKey: string;
  target: SightingTarget;
  ioc: Observable;
  /** Module or sender that reported it (e.g. "AMP for Endpoints", "webhook", "rss:<feed>"). */
  source: string;
  /** When it was observed on the target (not when we processed it). */
  observedAt: string;
  /** The CTIM sighting to mirror into XDR (id removed). */
  ctim?: Record<string, unknown>;
}

export interface SightingIntake {
  /** Durably accepts sightings; resolves once they are stored (the 202 point). Returns how many were new. */
  accept(items: IncomingSighting[]): Promise<{ accepted: number; duplicates: number }>;
}
