import { UpstreamError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import { shortIdOf, type XdrPort } from '../ports/xdr.js';
import { DEFAULT_RATE_LIMIT_HOLD_MS, meteredMirrorXdr, type MirrorAllowance, type MirrorXdr } from './call-allowance.js';
import type { SeverityRule } from './severity.js';
import type { Incident, XdrOp } from './types.js';
import { SOURCE, incidentBody, incidentExternalId, incidentPatch } from './xdr-render.js';

/**
 * What each XDR op does, whatever store queued it: lowdb's XdrMirror and the PostgreSQL mirror
 * both run an incident's ops through `XdrOpRunner.syncIncident`, over an `XdrOpStore` that
 * reads and records in their own store. Every op is safe to run again: incidents are looked up
 * by their external id before being created, relationships too (when the port can), sightings
 * when an earlier run may have created them, and the patch is rendered from the incident when it
 * runs, so repeated patches collapse into one.
 */

/** A 4xx op is retried this many times (the data may have been fixed meanwhile), then dropped. */
export const MAX_PERMANENT_FAILURES = 3;

/**
 * XDR writes per pass. Passes come every few seconds, so this caps the XDR call rate a burst
 * of sightings can cause (XDR allows an organisation 8,000 requests an hour, shared by all its
 * integrations) and the CPU the mirror takes from the intake; the rest waits for later passes.
 */
export const MAX_OPS_PER_PASS = 200;

/** Incidents mirrored at the same time within a pass. */
export const MIRROR_CONCURRENCY = 4;

/** Tries of one op within a pass when XDR answers 5xx or drops the connection. */
export const OP_TRIES = 3;

/** Retryable failures in a row (5xx, dropped connections) that end a pass: XDR is struggling or down. */
export const MAX_CONSECUTIVE_FAILURES = 3;

export interface SyncReport {
  done: number;
  failed: number;
  pending: number;
}

/** One pass over the queue: what it may still spend, and whether XDR told it to stop. */
export interface MirrorPass {
  budget: number;
  consecutiveFailures: number;
  stopped: boolean;
}

export function newPass(budget = MAX_OPS_PER_PASS): MirrorPass {
  return { budget, consecutiveFailures: 0, stopped: false };
}

/** What XDR did with an op, for the store to record; the op then leaves the queue unless said otherwise. */
export type OpResult =
  /** `carriedRevision`: the create carried the description of this revision (unset when an earlier create was found), so a patch queued up to it has nothing left to say. */
  | { kind: 'created'; xdrId: string; carriedRevision?: number }
  /** The patch carried this revision: a sighting counted since keeps the op for one more round. */
  | { kind: 'patched'; revision: number }
  | { kind: 'done' };

export interface OpFailure {
  message: string;
  /** XDR refused it for good (a 4xx): counts towards the dead letter. */
  permanent: boolean;
  /** XDR answered 429: the pass stops. */
  rateLimited: boolean;
  /** What XDR asked for (Retry-After), when it did. */
  retryAfterMs?: number;
}

/** One incident's ops, as the store holding them sees them. */
export interface XdrOpStore {
  /** The incident as it is now (an earlier op may have changed it); undefined when no longer kept. */
  incident(): Incident | undefined;
  /** Its waiting ops, in order (an op already finished is no longer in it). */
  pending(): readonly XdrOp[];
  finish(op: XdrOp, result: OpResult): Promise<void>;
  /** XDR stored this sighting: record its id before anything else, so a retry does not create it again. */
  recordSightingId(op: XdrOp, xdrSightingId: string): Promise<void>;
  /** Whether an earlier run (this process's or a crashed one's) may have created this sighting without recording its id. */
  mayHaveCreated(op: XdrOp): boolean;
  /** Called just before a sighting is created, for a store that can note it (a crash after the POST is then known). */
  creatingSighting?(op: XdrOp): Promise<void>;
  /** Another incident's XDR id (for related-to): null when not mirrored yet, undefined when no longer kept. */
  xdrIdOf(incidentId: string): Promise<string | null | undefined>;
  /** The op cannot run yet (its incident, or the previous one, is not in XDR yet): the incident waits. */
  blocked(op: XdrOp): Promise<void>;
  /** The op failed: the store keeps it waiting, or dead-letters it after MAX_PERMANENT_FAILURES refusals. */
  failed(op: XdrOp, failure: OpFailure): Promise<'waiting' | 'dead'>;
}

type OpOutcome = 'done' | 'blocked';

export interface XdrOpRunnerDeps {
  xdr: XdrPort;
  logger: Logger;
  severity?: SeverityRule | undefined;
  /** True once shutdown began: no new XDR call (the ones under way finish). */
  stopping: () => boolean;
  /** XDR_MIRROR_CALLS_PER_HOUR: the mirror's share of the organisation's XDR budget (none: no limit of its own). */
  allowance?: MirrorAllowance | undefined;
}

export class XdrOpRunner {
  private readonly xdr: MirrorXdr;
  /** Set while the allowance holds the mirror back, so the engineer is told once per spell, not once per pass. */
  private heldBack = false;

  constructor(private readonly deps: XdrOpRunnerDeps) {
    this.xdr = deps.allowance ? meteredMirrorXdr(deps.xdr, deps.allowance) : deps.xdr;
  }

  /** Whether a pass may start another op: not told to stop, and the allowance (and XDR's Retry-After) permit it. */
  goesOn(pass: MirrorPass): boolean {
    return !pass.stopped && !this.deps.stopping() && pass.budget > 0 && (this.deps.allowance?.hasRoom() ?? true);
  }

  /**
   * Whether a pass may start at all (the mirrors ask before reading their queue). Logs once when the
   * allowance or XDR's Retry-After starts holding the mirror back, and once when the allowance has
   * refilled whole (the backlog is gone): a backlog spends each call as it refills, and logging
   * every time room came back would be a line a second for as long as it lasts.
   */
  mayStartPass(): boolean {
    const { allowance, logger } = this.deps;
    if (!allowance) return true;
    const room = allowance.hasRoom();
    if (!room && !this.heldBack) {
      this.heldBack = true;
      logger.warn(
        { callsPerHour: allowance.perHour, resumeInMs: allowance.waitMs() },
        'XDR mirror is holding back: it has used its share of the XDR budget (XDR_MIRROR_CALLS_PER_HOUR) or XDR asked it to wait; incidents keep counting and their XDR copies catch up at that rate',
      );
    } else if (this.heldBack && allowance.isFull()) {
      this.heldBack = false;
      logger.info({ callsPerHour: allowance.perHour }, 'XDR mirror has caught up within its share of the XDR budget');
    }
    return room;
  }

  /** Runs one incident's ops in order until it is done, blocked, fails, or the pass ends. */
  async syncIncident(store: XdrOpStore, incidentId: string, pass: MirrorPass, report: SyncReport): Promise<void> {
    for (const op of [...store.pending()]) {
      if (!this.goesOn(pass)) return;
      // An earlier op of this pass may have retired this one (a create makes a queued patch moot).
      if (!store.pending().some((p) => p.id === op.id)) continue;
      pass.budget--;
      try {
        const outcome = await this.runWithRetries(store, op);
        if (outcome === 'blocked') {
          await store.blocked(op);
          return;
        }
        report.done++;
        pass.consecutiveFailures = 0;
      } catch (err) {
        report.failed++;
        const failure = await this.recordFailure(store, incidentId, op, err);
        if (failure === 'retryable') pass.consecutiveFailures++;
        // XDR asked us to slow down, or keeps failing: leave the rest for the next pass rather
        // than hammer it. A lone 5xx or dropped connection only moves on to the next incident.
        if (failure === 'rate_limited' || pass.consecutiveFailures >= MAX_CONSECUTIVE_FAILURES) pass.stopped = true;
        return;
      }
    }
  }

  /**
   * Every op is safe to run again (creates look up their external id first when retried), so a
   * 5xx or a dropped connection is retried here at once, up to OP_TRIES times. The HTTP client
   * cannot do this itself for the POSTs: to it, a create is not idempotent.
   */
  private async runWithRetries(store: XdrOpStore, op: XdrOp): Promise<OpOutcome> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.run(store, op, attempt > 1);
      } catch (err) {
        // Not a 429 (XDR asked us to wait) nor a refused connection (the HTTP client already retried it).
        const again = err instanceof UpstreamError && (err.status === undefined ? !err.connectionRefused : err.status >= 500);
        if (attempt >= OP_TRIES || !again || this.deps.stopping()) throw err;
      }
    }
  }

  private async run(store: XdrOpStore, op: XdrOp, retrying: boolean): Promise<OpOutcome> {
    const { xdr } = this;
    const { severity } = this.deps;
    const inc = store.incident();
    if (!inc) return 'blocked';
    if (op.kind === 'create_incident') {
      const revision = inc.revision;
      const existing = (await xdr.findIncidentsByExternalId(incidentExternalId(inc)))[0];
      const xdrId = existing?.id ?? (await xdr.createIncident(incidentBody(inc, severity))).id;
      await store.finish(op, { kind: 'created', xdrId, ...(existing ? {} : { carriedRevision: revision }) });
      return 'done';
    }
    if (!inc.xdrId) return 'blocked';
    const shortId = shortIdOf(inc.xdrId);
    switch (op.kind) {
      case 'patch': {
        const revision = inc.revision;
        await xdr.patchIncident(shortId, incidentPatch(inc, severity));
        await store.finish(op, { kind: 'patched', revision });
        return 'done';
      }
      case 'sighting': {
        let sightingId = op.xdrSightingId;
        if (!sightingId) {
          // An op queued by an earlier process, or tried before, may have been created in XDR just
          // before a crash: look it up by its external id first (CTIA creates are not idempotent).
          const maybeCreated = retrying || store.mayHaveCreated(op);
          const externalId = sightingExternalId(op.ctim);
          if (maybeCreated && externalId && xdr.findSightingsByExternalId) sightingId = (await xdr.findSightingsByExternalId(externalId))[0]?.id;
        }
        let created = false;
        if (!sightingId) {
          await store.creatingSighting?.(op);
          sightingId = (await xdr.createSighting(op.ctim)).id;
          created = true;
          await store.recordSightingId(op, sightingId);
        }
        // A sighting XDR created a moment ago has no relationship yet (its external id names the new
        // sighting's id), so the lookup is skipped: one call of three per mirrored sighting (issue 14).
        await this.relate(sightingId, inc.xdrId, 'member-of', `sightline-member-of-${shortIdOf(sightingId)}`, { fresh: created });
        await store.finish(op, { kind: 'done' });
        return 'done';
      }
      case 'relate_previous': {
        const previousXdrId = await store.xdrIdOf(op.previousIncidentId);
        if (previousXdrId === undefined) {
          this.deps.logger.warn({ incident: inc.id, previous: op.previousIncidentId }, 'previous incident no longer kept; related-to link skipped');
          await store.finish(op, { kind: 'done' });
          return 'done';
        }
        if (!previousXdrId) return 'blocked';
        await this.relate(previousXdrId, inc.xdrId, 'related-to', `sightline-related-to-${op.previousIncidentId}-${inc.id}`);
        await store.finish(op, { kind: 'done' });
        return 'done';
      }
      case 'status':
        await xdr.setIncidentStatus(shortId, op.status);
        await store.finish(op, { kind: 'done' });
        return 'done';
    }
  }

  private async relate(sourceRef: string, targetRef: string, type: string, externalId: string, opts: { fresh?: boolean } = {}): Promise<void> {
    const { xdr } = this;
    if (!opts.fresh && xdr.findRelationshipsByExternalId && (await xdr.findRelationshipsByExternalId(externalId)).length > 0) return;
    await xdr.createRelationship({ source_ref: sourceRef, target_ref: targetRef, relationship_type: type, tlp: 'amber', source: SOURCE, external_ids: [externalId] });
  }

  private async recordFailure(store: XdrOpStore, incidentId: string, op: XdrOp, err: unknown): Promise<'permanent' | 'retryable' | 'rate_limited'> {
    const upstream = err instanceof UpstreamError ? err : undefined;
    const permanent = upstream !== undefined && !upstream.retryable;
    const rateLimited = upstream?.status === 429;
    const message = err instanceof Error ? err.message : String(err);
    // The budget is the organisation's: hold every mirror call, not only this incident's, until XDR's time.
    if (rateLimited) this.deps.allowance?.holdFor(upstream?.retryAfterMs ?? DEFAULT_RATE_LIMIT_HOLD_MS);
    const outcome = await store.failed(op, { message, permanent, rateLimited, ...(upstream?.retryAfterMs !== undefined ? { retryAfterMs: upstream.retryAfterMs } : {}) });
    const log = { incident: incidentId, op: op.kind, err: message, ...(op.kind === 'sighting' ? { seq: op.seq } : {}) };
    if (outcome === 'dead') this.deps.logger.error(log, 'XDR refused this change for good; it is kept as a dead letter (hunt status shows it). The local incident is unaffected.');
    else this.deps.logger.warn(log, 'XDR sync deferred; it will be retried');
    if (permanent) return 'permanent';
    return rateLimited ? 'rate_limited' : 'retryable';
  }
}

function sightingExternalId(ctim: Record<string, unknown>): string | undefined {
  const ids = Array.isArray(ctim.external_ids) ? ctim.external_ids : [];
  return ids.findLast((e): e is string => typeof e === 'string' && e.startsWith('sightline-sighting-'));
}

/**
 * The mirrors' passes, single-flight: a call during a pass gets the NEXT pass (which sees the ops
 * queued meanwhile); all such calls share that one, so a caller waits for at most two passes
 * however busy the intake is. After `stop()` no pass starts, and the running one starts no new
 * XDR call (its runner asks `stopping`).
 */
export class MirrorPasses {
  private pass: Promise<SyncReport> | undefined;
  private queued: Promise<SyncReport> | undefined;
  private stopped = false;

  constructor(
    private readonly runPass: () => Promise<SyncReport>,
    private readonly report: () => Promise<SyncReport> | SyncReport,
  ) {}

  get stopping(): boolean {
    return this.stopped;
  }

  next(): Promise<SyncReport> {
    if (!this.pass) return this.startPass();
    this.queued ??= this.pass
      .catch(() => undefined)
      .then(() => {
        this.queued = undefined;
        return this.startPass();
      });
    return this.queued;
  }

  /** Shutdown: a running pass finishes the XDR calls under way and starts no more; none starts after. */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.idle();
  }

  /** Resolves once no pass is running or queued. */
  async idle(): Promise<void> {
    while (this.pass || this.queued) await (this.queued ?? this.pass)!.catch(() => undefined);
  }

  private startPass(): Promise<SyncReport> {
    if (this.stopped) return Promise.resolve(this.report());
    const pass: Promise<SyncReport> = this.runPass().finally(() => {
      if (this.pass === pass) this.pass = undefined;
    });
    this.pass = pass;
    return pass;
  }
}
