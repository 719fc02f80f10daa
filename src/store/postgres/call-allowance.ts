import type pg from 'pg';
import type { Clock } from '../../core/clock.js';
import type { Logger } from '../../core/logger.js';
import { defaultBurst, type MirrorAllowance } from '../../domain/correlation/call-allowance.js';
import { poolError } from './pool.js';

/**
 * XDR_MIRROR_CALLS_PER_HOUR shared by every instance on one database (migration 11): the same
 * token bucket as the one-process allowance (domain/correlation/call-allowance.ts), kept in one
 * row. XDR's budget is the organisation's: per-instance buckets let N instances spend N times the
 * share. Why leases: the mirror asks "may an op start?" synchronously, once per op, and a round
 * trip per XDR call would cost more than the call's bookkeeping. So before each pass the instance
 * takes up to `lease` calls from the shared bucket (one statement) and spends them locally; an
 * instance that dies loses at most one lease, and an op's overspend is paid back at the next one.
 * A 429 seen by any instance holds every instance until its Retry-After (the row's `held_until`).
 */
export class PostgresCallAllowance implements MirrorAllowance {
  readonly burst: number;
  private readonly lease: number;
  /** Calls taken from the shared bucket and not spent yet (below zero: owed). */
  private local = 0;
  /** What the shared bucket held at the last refresh, before this instance's lease. */
  private available = 0;
  private heldUntil = 0;
  private refreshedAt = Number.NEGATIVE_INFINITY;
  /** The shared bucket was left empty: nothing can be granted before this (it refills at a known rate). */
  private emptyUntil = 0;

  constructor(
    private readonly pool: pg.Pool,
    readonly perHour: number,
    private readonly clock: Clock,
    private readonly logger: Logger,
    opts: { burst?: number; lease?: number } = {},
  ) {
    this.burst = opts.burst ?? defaultBurst(perHour);
    // A pass's worth, at most: small enough that instances share a burst, large enough for one statement a pass.
    this.lease = Math.max(1, Math.min(this.burst, opts.lease ?? DEFAULT_LEASE));
  }

  hasRoom(): boolean {
    return this.clock.now().getTime() >= this.heldUntil && this.local >= 1;
  }

  spend(): void {
    this.local -= 1;
  }

  holdFor(ms: number): void {
    const until = this.clock.now().getTime() + Math.max(0, ms);
    if (until <= this.heldUntil) return;
    this.heldUntil = until;
    // Every instance waits, not only the one XDR answered: the budget XDR refused is everyone's.
    this.pool.query(HOLD_SQL, [new Date(until)]).catch((err: unknown) => this.logger.warn({ err: poolError(this.pool, err, 'sharing an XDR rate-limit hold') }, 'XDR mirror: could not tell the other instances to wait for XDR; they will find out from XDR'));
  }

  isFull(): boolean {
    return this.clock.now().getTime() >= this.heldUntil && this.available >= this.burst;
  }

  waitMs(): number {
    const now = this.clock.now().getTime();
    // With nothing at hand: until the bucket, as last seen after this instance's lease, has refilled a call.
    const short = this.local >= 1 ? 0 : this.emptyUntil - now;
    return Math.max(short, this.heldUntil - now, 0);
  }

  /** Tops this instance's lease up from the shared bucket (and learns of another instance's 429 hold). */
  async refresh(): Promise<void> {
    // One statement a pass would be one a batch in a flood (the apply loop wakes a pass after each):
    // ask only when it can change something. Another instance's 429 hold is learnt within a second.
    const now = this.clock.now().getTime();
    if (now < this.heldUntil || now < this.emptyUntil) return;
    if (this.local >= this.lease / 2 && now - this.refreshedAt < REFRESH_EVERY_MS) return;
    const want = Math.max(0, Math.ceil(this.lease - this.local));
    let row: { granted: number; available: number; held_until_ms: number } | undefined;
    try {
      const res = await this.pool.query<{ granted: number; available: number; held_until_ms: number }>(LEASE_SQL, [this.burst, this.perHour / 3_600, new Date(now), want]);
      row = res.rows[0];
    } catch (err) {
      throw poolError(this.pool, err, 'reading the XDR mirror allowance');
    }
    if (!row) return; // the row is made by migration 11; without it nothing is granted
    this.local += Number(row.granted);
    this.available = Number(row.available);
    this.heldUntil = Math.max(this.heldUntil, Number(row.held_until_ms));
    this.refreshedAt = now;
    const left = this.available - Number(row.granted);
    this.emptyUntil = left >= 1 ? 0 : now + Math.ceil((1 - left) / (this.perHour / 3_600_000));
  }
}

/** The shared allowance for XDR_MIRROR_CALLS_PER_HOUR; none when it is 0 or unset (no limit of its own), as in one process. */
export function sharedMirrorAllowance(pool: pg.Pool, callsPerHour: number | undefined, clock: Clock, logger: Logger): PostgresCallAllowance | undefined {
  return callsPerHour && callsPerHour > 0 ? new PostgresCallAllowance(pool, callsPerHour, clock, logger) : undefined;
}

/** With a lease at hand, how often an instance asks anyway (to learn of another instance's 429 hold). */
const REFRESH_EVERY_MS = 1_000;

/** Calls one instance takes from the shared bucket at a time (or the burst, if smaller). */
const DEFAULT_LEASE = 25;

/**
 * Refills the bucket for the time since it was last refilled (a clock that went back refills
 * nothing), grants up to $4 whole calls unless a hold is in force, and keeps the rest. The row is
 * locked for the statement only. $1 burst, $2 calls a second, $3 now, $4 calls wanted.
 */
const LEASE_SQL = `
WITH cur AS (
  SELECT CASE WHEN tokens IS NULL OR refilled_at IS NULL THEN $1::float8
              ELSE least($1::float8, tokens + greatest(0, extract(epoch FROM $3::timestamptz - refilled_at))::float8 * $2::float8) END AS available,
         held_until
    FROM xdr_call_allowance WHERE id = 1 FOR UPDATE
), lease AS (
  SELECT available, held_until,
         CASE WHEN held_until > $3::timestamptz THEN 0 ELSE least($4::int, greatest(0, floor(available)))::int END AS granted
    FROM cur
)
UPDATE xdr_call_allowance a SET tokens = lease.available - lease.granted, refilled_at = greatest(a.refilled_at, $3::timestamptz)
  FROM lease WHERE a.id = 1
RETURNING lease.granted, lease.available, (extract(epoch FROM lease.held_until) * 1000)::float8 AS held_until_ms`;

const HOLD_SQL = 'UPDATE xdr_call_allowance SET held_until = greatest(held_until, $1::timestamptz) WHERE id = 1';
