import type { Clock } from '../../core/clock.js';
import type { XdrPort } from '../ports/xdr.js';

/**
 * How many XDR calls the incident mirror may make, as a token bucket refilled at
 * XDR_MIRROR_CALLS_PER_HOUR. Why: XDR gives an organisation 8,000 requests an hour, shared by
 * every integration. Without a limit of its own the mirror spent the whole hour's budget in about
 * 20 seconds of an alert flood (issue 14: ~9,600 calls in 25 s), and the Friday hunt, `investigate`
 * and the organisation's other integrations then met 429s for the rest of the hour. With it the
 * mirror keeps to its share and catches up after the flood; incidents, counts and cards do not wait
 * for XDR, only their copies there do.
 *
 * A 429 from XDR holds every mirror call until its Retry-After has passed (the budget is shared:
 * another integration may have spent it), instead of probing again on each pass.
 */
export interface MirrorAllowance {
  readonly perHour: number;
  /** Whether a new op may start: some allowance is left and XDR has not asked us to wait. */
  hasRoom(): boolean;
  /** One call made (the balance may go below zero: an op that started finishes its calls). */
  spend(): void;
  /** XDR answered 429: no mirror call until `ms` from now. */
  holdFor(ms: number): void;
  /** Whether the mirror has not needed its allowance for a while (for the "caught up" log). */
  isFull(): boolean;
  /** Milliseconds until a new op may start (0 when it may now), for status and logs. */
  waitMs(): number;
  /**
   * Brings the allowance up to date before a pass. An allowance kept in this process needs nothing;
   * one shared by several instances (PostgreSQL) asks the database here, once a pass, not once a call.
   */
  refresh?(): Promise<void>;
}

/** The allowance of one process (lowdb): a token bucket in memory. */
export class CallAllowance implements MirrorAllowance {
  private tokens: number;
  private refilledAt: number;
  private heldUntil = 0;
  private readonly perMs: number;
  readonly burst: number;

  constructor(
    readonly perHour: number,
    private readonly clock: Clock,
    /** Calls that may be made at once after a quiet spell: five minutes' worth by default. */
    burst = defaultBurst(perHour),
  ) {
    this.burst = burst;
    this.tokens = burst;
    this.perMs = perHour / 3_600_000;
    this.refilledAt = clock.now().getTime();
  }

  /** Whether a new op may start: some allowance is left and XDR has not asked us to wait. */
  hasRoom(): boolean {
    const now = this.refill();
    return now >= this.heldUntil && this.tokens >= 1;
  }

  /**
   * One call made. An op that started with allowance left finishes its calls (a create is a lookup
   * and a POST): the balance may go below zero and is paid back before the next op starts.
   */
  spend(): void {
    this.refill();
    this.tokens -= 1;
  }

  /** XDR answered 429: no mirror call until `ms` from now (or the hold already in place, if later). */
  holdFor(ms: number): void {
    this.heldUntil = Math.max(this.heldUntil, this.clock.now().getTime() + Math.max(0, ms));
  }

  /** Whether the mirror has not needed its allowance for a while: refilled to the burst and not held. */
  isFull(): boolean {
    const now = this.refill();
    return now >= this.heldUntil && this.tokens >= this.burst;
  }

  /** Milliseconds until a new op may start (0 when it may now), for status and logs. */
  waitMs(): number {
    const now = this.refill();
    const forTokens = this.tokens >= 1 ? 0 : Math.ceil((1 - this.tokens) / this.perMs);
    return Math.max(forTokens, this.heldUntil - now, 0);
  }

  private refill(): number {
    const now = this.clock.now().getTime();
    // A clock that went back (NTP) refills nothing rather than taking allowance away.
    const elapsed = Math.max(0, now - this.refilledAt);
    this.tokens = Math.min(this.burst, this.tokens + elapsed * this.perMs);
    this.refilledAt = now;
    return now;
  }
}

/** Calls that may be made at once after a quiet spell: five minutes' worth (one process or shared by instances). */
export function defaultBurst(perHour: number): number {
  return Math.max(1, Math.round(perHour / 12));
}

/** The mirror's allowance for XDR_MIRROR_CALLS_PER_HOUR; none when it is 0 or unset (no limit of its own). */
export function mirrorAllowance(callsPerHour: number | undefined, clock: Clock): CallAllowance | undefined {
  return callsPerHour && callsPerHour > 0 ? new CallAllowance(callsPerHour, clock) : undefined;
}

/** Wait after a 429 that named no Retry-After: one minute, then the allowance decides. */
export const DEFAULT_RATE_LIMIT_HOLD_MS = 60_000;

/** The XDR calls the mirror makes (xdr-ops.ts). */
export type MirrorXdr = Pick<
  XdrPort,
  'findIncidentsByExternalId' | 'createIncident' | 'patchIncident' | 'setIncidentStatus' | 'createSighting' | 'findSightingsByExternalId' | 'createRelationship' | 'findRelationshipsByExternalId'
>;

/** The mirror's XDR calls, each counted against the allowance when it is made. */
export function meteredMirrorXdr(xdr: XdrPort, allowance: MirrorAllowance): MirrorXdr {
  const metered = <A extends unknown[], R>(call: (...args: A) => Promise<R>) => (...args: A): Promise<R> => {
    allowance.spend();
    return call.apply(xdr, args);
  };
  const { findSightingsByExternalId: findSightings, findRelationshipsByExternalId: findRelationships } = xdr;
  return {
    findIncidentsByExternalId: metered(xdr.findIncidentsByExternalId),
    createIncident: metered(xdr.createIncident),
    patchIncident: metered(xdr.patchIncident),
    setIncidentStatus: metered(xdr.setIncidentStatus),
    createSighting: metered(xdr.createSighting),
    createRelationship: metered(xdr.createRelationship),
    ...(findSightings ? { findSightingsByExternalId: metered(findSightings) } : {}),
    ...(findRelationships ? { findRelationshipsByExternalId: metered(findRelationships) } : {}),
  };
}
