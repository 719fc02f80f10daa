import type { Logger } from '../core/logger.js';
import type { XdrPort } from '../domain/ports/xdr.js';
import type { SeverityRule } from '../domain/correlation/severity.js';
import type { XdrOp } from '../domain/correlation/types.js';
import type { MirrorAllowance } from '../domain/correlation/call-allowance.js';
import { MIRROR_CONCURRENCY, MirrorPasses, XdrOpRunner, newPass, type OpResult, type SyncReport, type XdrOpStore } from '../domain/correlation/xdr-ops.js';
import type { PostgresXdrQueue, XdrClaim } from '../store/postgres/xdr-queue.js';

/**
 * Mirrors incidents into XDR on PostgreSQL: any instance runs one, and `PostgresXdrQueue.claimNext`
 * hands each incident (an advisory lock, tried) to one of them at a time. What each op does is the
 * lowdb mirror's own code (domain/correlation/xdr-ops.ts); this is only the loop and the queue.
 *
 * A crash between an XDR create and the claim's commit leaves the op queued: the incident is
 * looked up by its external id before it is created again, a sighting too (it was noted as
 * being sent), so nothing is created twice.
 */
export interface PostgresXdrMirrorDeps {
  queue: PostgresXdrQueue;
  xdr: XdrPort;
  logger: Logger;
  severity?: SeverityRule;
  /** Wait before an op XDR failed (5xx, 429, 4xx) is tried again; XDR's Retry-After wins when longer. Default 5,000 ms (a pass). */
  retryDelayMs?: number;
  /** Wait before an op that needs another incident's XDR id (related-to) is looked at again. Default 1,000 ms. */
  blockedDelayMs?: number;
  /**
   * No new op of a claim starts after this long (default 10,000 ms): what the claim did is recorded
   * only when it ends. The ops left stay due for the next claim.
   */
  maxClaimMs?: number;
  /**
   * XDR_MIRROR_CALLS_PER_HOUR: the allowance shared by every instance (store/postgres/call-allowance.ts),
   * refreshed before each pass; any other MirrorAllowance works too (tests use the in-memory one).
   */
  allowance?: MirrorAllowance | undefined;
}

const DEFAULT_RETRY_DELAY_MS = 5_000;
const DEFAULT_BLOCKED_DELAY_MS = 1_000;
const DEFAULT_MAX_CLAIM_MS = 10_000;

export class PostgresXdrMirror {
  private readonly passes: MirrorPasses;
  private readonly runner: XdrOpRunner;
  private timer: NodeJS.Timeout | undefined;
  private readonly log: Logger;
  private allowanceUnread = false;

  constructor(private readonly deps: PostgresXdrMirrorDeps) {
    this.log = deps.logger.child({ component: 'xdr-mirror' });
    this.passes = new MirrorPasses(
      () => this.syncOnce(),
      async () => ({ done: 0, failed: 0, pending: await deps.queue.pending() }),
    );
    this.runner = new XdrOpRunner({ xdr: deps.xdr, logger: this.log, severity: deps.severity, allowance: deps.allowance, stopping: () => this.passes.stopping });
  }

  /**
   * Runs the ops due that no other instance holds, within the lowdb pass's limits (ops per pass,
   * incidents at once, a 429 or three failures in a row end it). Single-flight: a call during a
   * pass gets the next one.
   */
  async syncPending(): Promise<SyncReport> {
    const report = await this.passes.next();
    // Counted for the caller who asked, not at the end of every pass: the apply loop wakes a pass
    // after each batch, and a count(*) of xdr_ops in a flood took 130 ms a call (6 % of PostgreSQL's
    // time with two instances in the bench) for a figure nobody read.
    return { ...report, pending: await this.deps.queue.pending() };
  }

  /** A pass now and then every `intervalSeconds` (catch-up after failures and after other instances' backlogs). */
  start(intervalSeconds: number): void {
    if (this.timer || this.passes.stopping) return;
    this.timer = setInterval(() => this.wake(), intervalSeconds * 1000);
    this.timer.unref();
    this.wake();
  }

  /** For the correlation loop after it applied sightings: their ops are mirrored by the next pass, not at the next tick. */
  wake(): void {
    if (this.passes.stopping) return;
    this.passes.next().catch((err: unknown) => this.log.error({ err }, 'XDR mirror pass failed; the ops stay queued'));
  }

  /** Shutdown: no new XDR call; the calls under way finish and their claims commit. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.passes.stop();
  }

  /** Resolves once no pass is running or queued. */
  idle(): Promise<void> {
    return this.passes.idle();
  }

  private async syncOnce(): Promise<SyncReport> {
    const report: SyncReport = { done: 0, failed: 0, pending: 0 };
    await this.refreshAllowance();
    // Held back (allowance spent, or XDR's Retry-After): no claim is taken.
    if (!this.runner.mayStartPass()) return report;
    const pass = newPass();
    const worker = async (): Promise<void> => {
      while (this.runner.goesOn(pass)) {
        try {
          let moved = false;
          const claimed = await this.deps.queue.claimNext((claim) => this.runner.syncIncident(this.opStore(claim, () => (moved = true)), claim.incident.id, pass, report));
          // A claim that recorded nothing leaves its incident due: taking it again at once would spin.
          if (!claimed || !moved) return;
        } catch (err) {
          // The database (or this instance's connection) failed: the claim rolled back and its ops
          // stay queued for a later pass, here or on another instance.
          this.log.error({ err }, 'XDR mirror could not finish a claim; its ops stay queued');
          pass.stopped = true;
          return;
        }
      }
    };
    await Promise.all(Array.from({ length: MIRROR_CONCURRENCY }, worker));
    return report; // `pending` is counted by syncPending, for its caller only
  }

  /**
   * The allowance shared with the other instances is brought up to date before each pass (it asks
   * the database only when the answer can change). When the database does not
   * answer, the pass goes on with what this instance already holds (the claim fails soon anyway);
   * said once per outage, not once per pass.
   */
  private async refreshAllowance(): Promise<void> {
    try {
      await this.deps.allowance?.refresh?.();
      if (this.allowanceUnread) this.log.info('XDR mirror: its shared allowance can be read again');
      this.allowanceUnread = false;
    } catch (err) {
      if (!this.allowanceUnread) this.log.warn({ err }, 'XDR mirror: could not read its shared allowance; going on with the calls this instance holds');
      this.allowanceUnread = true;
    }
  }

  /** One claimed incident as the op runner sees it. */
  private opStore(claim: XdrClaim, moved: () => void): XdrOpStore {
    const finished = new Set<number>();
    const until = Date.now() + (this.deps.maxClaimMs ?? DEFAULT_MAX_CLAIM_MS);
    const done = async (op: XdrOp, xdrId?: string): Promise<void> => {
      moved();
      await claim.done(op, xdrId ? { xdrId } : undefined);
      finished.add(op.id);
    };
    const retryDelayMs = this.deps.retryDelayMs ?? DEFAULT_RETRY_DELAY_MS;
    return {
      incident: () => claim.incident,
      // Past the claim's time, nothing is left to start: the runner skips the rest and the claim commits.
      pending: () => (Date.now() < until ? claim.ops.filter((o) => !finished.has(o.id)) : []),
      finish: async (op: XdrOp, result: OpResult) => {
        await done(op, result.kind === 'created' ? result.xdrId : undefined);
        // The create carried the description of the incident as read: a patch waiting behind it has
        // nothing left to say — unless a sighting was counted since, which `done` checks (the
        // incident's revision), leaving the patch for the next claim.
        if (result.kind === 'created' && result.carriedRevision === claim.incident.revision) {
          for (const p of claim.ops) if (p.kind === 'patch' && !finished.has(p.id)) await done(p);
        }
      },
      // When XDR can be asked for a sighting by its external id, the id waits for the claim's one
      // commit: the op was marked as being sent, so a crash before it costs a lookup, not a duplicate.
      recordSightingId: (op, xdrSightingId) => claim.recordSightingId(op, xdrSightingId, { untilFlush: this.deps.xdr.findSightingsByExternalId !== undefined }),
      // Any instance may have run it before and died mid-create: `sendingSighting` leaves a last_error behind.
      mayHaveCreated: (op) => op.attempts > 0 || op.lastError !== undefined,
      creatingSighting: (op) => claim.sendingSighting(op),
      xdrIdOf: (incidentId) => claim.xdrIdOf(incidentId),
      blocked: (op) => (moved(), claim.defer(op, this.deps.blockedDelayMs ?? DEFAULT_BLOCKED_DELAY_MS)),
      failed: (op, failure) => (moved(), claim.failed(op, { message: failure.message, permanent: failure.permanent, retryAfterMs: Math.max(failure.retryAfterMs ?? 0, retryDelayMs) })),
    };
  }
}
