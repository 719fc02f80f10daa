import { createHash } from 'node:crypto';
import type { Logger } from '../../core/logger.js';
import type { Clock } from '../../core/clock.js';
import { UpstreamError } from '../../core/errors.js';
import { shortIdOf, type XdrPort } from '../ports/xdr.js';
import type { Store } from '../../store/store.js';
import { targetIdentity } from '../investigate/target-identity.js';
import type { ApplyResult } from './correlator.js';
import { ctimForPair } from './ctim-rules.js';
import { incidentTitle, renderDescription } from './describe.js';
import { keepDeadLetter } from './dead-letters.js';
import { correlationOf, readCorrelation, type CorrelationState, type Incident, type SequencedSighting, type XdrOp } from './types.js';
import type { SeverityRule } from './severity.js';
import { DEFAULT_SEVERITY_RULE, recordMitre, xdrIncidentFields } from './xdr-fields.js';

/**
 * Mirrors incidents into XDR through a durable per-incident queue of ops kept in
 * the state. Local state is always updated first; XDR catches up when it can.
 * Every op is safe to run again: incidents are looked up by their external id
 * before being created, relationships too (when the port can), and the patch is
 * rendered from data when it runs, so repeated patches collapse into one.
 */
export const SOURCE = 'sightline';
/** A 4xx op is retried this many times (the data may have been fixed meanwhile), then dropped. */
const MAX_PERMANENT_FAILURES = 3;
/** A module's CTIM sighting larger than this is replaced by a compact one, so the queue stays small. */
const MAX_CTIM_CHARS = 20_000;

export function targetExternalId(i: Pick<Incident, 'targetType' | 'targetValue'>): string {
  return `sightline-target-${i.targetType}-${i.targetValue}`;
}

export function incidentExternalId(i: Pick<Incident, 'id'>): string {
  return `sightline-incident-${i.id}`;
}

/** Queues what one applied sighting means for XDR. Runs inside store.update, next to applySighting. */
export function enqueueForSighting(state: CorrelationState, applied: ApplyResult, sighting: SequencedSighting, newest = MAX_PENDING_SIGHTINGS): void {
  const inc = applied.incident;
  recordMitre(inc, sighting.ctim);
  const q = inc.xdrSync.pending;
  if (applied.created) {
    q.push({ id: state.nextOpId++, kind: 'create_incident', attempts: 0 });
    if (applied.previous) q.push({ id: state.nextOpId++, kind: 'relate_previous', previousIncidentId: applied.previous.id, attempts: 0 });
  } else if (!q.some((op) => op.kind === 'patch')) {
    q.push({ id: state.nextOpId++, kind: 'patch', attempts: 0 });
  }
  q.push({ id: state.nextOpId++, kind: 'sighting', seq: sighting.seq, ctim: ctimSighting(sighting), attempts: 0 });
  const waiting = q.filter((op) => op.kind === 'sighting' && !op.xdrSightingId);
  if (waiting.length > newest) {
    // Keep the newest: the oldest of a burst add least to what an analyst sees in XDR.
    const drop = new Set(waiting.slice(0, waiting.length - newest).map((op) => op.id));
    inc.xdrSync.pending = q.filter((op) => !drop.has(op.id));
    inc.xdrSync.unmirrored = (inc.xdrSync.unmirrored ?? 0) + drop.size;
  }
}

/**
 * XDR writes per pass. Passes come every few seconds, so this caps the XDR call rate a burst
 * of sightings can cause (XDR allows an organisation 8,000 requests an hour, shared by all its
 * integrations) and the CPU the mirror takes from the intake; the rest waits for later passes.
 */
const MAX_OPS_PER_PASS = 200;

/** Incidents mirrored at the same time within a pass. */
const MIRROR_CONCURRENCY = 4;

/** Tries of one op within a pass when XDR answers 5xx or drops the connection. */
const OP_TRIES = 3;

/** Retryable failures in a row (5xx, dropped connections) that end a pass: XDR is struggling or down. */
const MAX_CONSECUTIVE_FAILURES = 3;

interface PassState {
  budget: number;
  consecutiveFailures: number;
  stopped: boolean;
  next: number;
}

/** Sightings of one incident waiting to be copied into XDR; older ones beyond this are only counted. Default of XDR_MIRROR_NEWEST_SIGHTINGS. */
export const MAX_PENDING_SIGHTINGS = 20;

export function enqueueStatus(state: CorrelationState, inc: Incident, status: string): void {
  inc.xdrSync.pending.push({ id: state.nextOpId++, kind: 'status', status, attempts: 0 });
}

export function incidentBody(inc: Incident, severity: SeverityRule = DEFAULT_SEVERITY_RULE): Record<string, unknown> {
  const title = incidentTitle(inc.targetValue);
  return {
    type: 'incident',
    source: SOURCE,
    title,
    short_description: title,
    description: renderDescription(inc),
    incident_time: { discovered: inc.firstSeen, opened: inc.openedAt },
    status: 'New',
    confidence: confidenceOf(inc),
    tlp: 'amber',
    external_ids: [targetExternalId(inc), incidentExternalId(inc)],
    meta: { sighting_count: inc.count, sightline_target: inc.targetKey },
    ...xdrIncidentFields(inc, severity),
  };
}

export function incidentPatch(inc: Incident, severity: SeverityRule = DEFAULT_SEVERITY_RULE): Record<string, unknown> {
  return {
    description: renderDescription(inc),
    confidence: confidenceOf(inc),
    meta: { sighting_count: inc.count, sightline_target: inc.targetKey },
    ...xdrIncidentFields(inc, severity),
  };
}

/** The seed's two levels: Medium when opened, High once a second event arrives. */
function confidenceOf(inc: Incident): string {
  return inc.count > 1 ? 'High' : 'Medium';
}

/** The CTIM sighting to POST: the module's own (id removed) or a compact one built from the data. */
export function ctimSighting(s: SequencedSighting): Record<string, unknown> {
  const externalId = `sightline-sighting-${createHash('sha256').update(s.dedupeKey).digest('hex').slice(0, 32)}`;
  const own = s.ctim ? ctimForPair(s.ctim, s) : undefined;
  const given = own && JSON.stringify(own).length <= MAX_CTIM_CHARS ? own : undefined;
  const base: Record<string, unknown> = given ?? {
    type: 'sighting',
    title: `${s.ioc.type} ${s.ioc.value} seen on ${targetIdentity(s.target).value}`,
    confidence: 'High',
    count: 1,
    internal: true,
    observables: [{ type: s.ioc.type, value: s.ioc.value }],
    targets: [{ type: s.target.type || 'endpoint', observables: s.target.observables, observed_time: { start_time: s.observedAt } }],
    tlp: 'amber',
  };
  delete base.id;
  base.type = 'sighting';
  if (!base.observed_time) base.observed_time = { start_time: s.observedAt };
  const source = typeof base.source === 'string' && base.source ? base.source : s.source;
  // Marked as ours, so an observe that finds it again does not feed it back in (loop prevention).
  base.source = /sightline/i.test(source) ? source : `${source} - ${SOURCE}`;
  const ext = Array.isArray(base.external_ids) ? (base.external_ids as unknown[]).filter((e) => typeof e === 'string') : [];
  base.external_ids = [...ext, externalId];
  return base;
}

export interface SyncReport {
  done: number;
  failed: number;
  pending: number;
}

type OpOutcome = 'done' | 'blocked';

export class XdrMirror {
  private pass: Promise<SyncReport> | undefined;
  private queued: Promise<SyncReport> | undefined;
  private stopping = false;

  /** Ops with a lower id were queued by an earlier process (which may have died mid-create). */
  private readonly firstOpIdOfThisProcess: number;

  constructor(private readonly deps: { store: Store; xdr: XdrPort; clock: Clock; logger: Logger; severity?: SeverityRule }) {
    this.firstOpIdOfThisProcess = readCorrelation(deps.store.get()).nextOpId;
  }

  /**
   * Runs every queued op it can. Single-flight: a call during a pass gets the NEXT
   * pass (which sees its ops); all such calls share that one, so a caller waits
   * for at most two passes however busy the intake is.
   */
  syncPending(): Promise<SyncReport> {
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
    this.stopping = true;
    await this.idle();
  }

  /** Resolves once no sync pass is running or queued (shutdown waits for it before closing the store). */
  async idle(): Promise<void> {
    while (this.pass || this.queued) await (this.queued ?? this.pass)!.catch(() => undefined);
  }

  private startPass(): Promise<SyncReport> {
    if (this.stopping) return Promise.resolve({ done: 0, failed: 0, pending: this.pendingCount() });
    const pass: Promise<SyncReport> = this.syncOnce().finally(() => {
      if (this.pass === pass) this.pass = undefined;
    });
    this.pass = pass;
    return pass;
  }

  private async syncOnce(): Promise<SyncReport> {
    const report: SyncReport = { done: 0, failed: 0, pending: 0 };
    const queued = Object.values(readCorrelation(this.deps.store.get()).incidents)
      .filter((i) => i.xdrSync.pending.length > 0)
      .sort((a, b) => a.ordinal - b.ordinal);
    const pass = { budget: MAX_OPS_PER_PASS, consecutiveFailures: 0, stopped: false, next: 0 };
    // A few incidents at once (each incident's ops stay in order): one slow or failing XDR call
    // must not hold up every other incident, and the XDR client's own limit bounds the total.
    const worker = async (): Promise<void> => {
      while (!pass.stopped && !this.stopping && pass.budget > 0 && pass.next < queued.length) {
        await this.syncIncident(queued[pass.next++]!.id, pass, report);
      }
    };
    await Promise.all(Array.from({ length: Math.min(MIRROR_CONCURRENCY, queued.length) }, worker));
    report.pending = this.pendingCount();
    return report;
  }

  private pendingCount(): number {
    return Object.values(readCorrelation(this.deps.store.get()).incidents).reduce((n, i) => n + i.xdrSync.pending.length, 0);
  }

  /** Runs one incident's ops in order until it is done, blocked, fails, or the pass ends. */
  private async syncIncident(incidentId: string, pass: PassState, report: SyncReport): Promise<void> {
    for (const op of [...(this.current(incidentId)?.xdrSync.pending ?? [])]) {
      if (pass.stopped || this.stopping || pass.budget <= 0) return;
      // An earlier op of this pass may have retired this one (a create makes a queued patch moot).
      if (!this.current(incidentId)?.xdrSync.pending.some((p) => p.id === op.id)) continue;
      pass.budget--;
      try {
        const outcome = await this.runWithRetries(incidentId, op);
        if (outcome === 'blocked') return;
        report.done++;
        pass.consecutiveFailures = 0;
      } catch (err) {
        report.failed++;
        const failure = await this.recordFailure(incidentId, op, err);
        if (failure === 'retryable') pass.consecutiveFailures++;
        // XDR asked us to slow down, or keeps failing: leave the rest for the next pass rather
        // than hammer it. A lone 5xx or dropped connection only moves on to the next incident.
        if (failure === 'rate_limited' || pass.consecutiveFailures >= MAX_CONSECUTIVE_FAILURES) pass.stopped = true;
        return;
      }
    }
  }

  private current(incidentId: string): Incident | undefined {
    return readCorrelation(this.deps.store.get()).incidents[incidentId];
  }

  /**
   * Every op is safe to run again (creates look up their external id first when retried), so a
   * 5xx or a dropped connection is retried here at once, up to OP_TRIES times. The HTTP client
   * cannot do this itself for the POSTs: to it, a create is not idempotent.
   */
  private async runWithRetries(incidentId: string, op: XdrOp): Promise<OpOutcome> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.run(incidentId, op, attempt > 1);
      } catch (err) {
        // Not a 429 (XDR asked us to wait) nor a refused connection (the HTTP client already retried it).
        const again = err instanceof UpstreamError && (err.status === undefined ? !err.connectionRefused : err.status >= 500);
        if (attempt >= OP_TRIES || !again || this.stopping) throw err;
      }
    }
  }

  private async run(incidentId: string, op: XdrOp, retrying = false): Promise<OpOutcome> {
    const { xdr } = this.deps;
    const inc = this.current(incidentId);
    if (!inc) return 'blocked';
    if (op.kind === 'create_incident') {
      const revision = inc.revision;
      const existing = (await xdr.findIncidentsByExternalId(incidentExternalId(inc)))[0];
      const xdrId = existing?.id ?? (await xdr.createIncident(incidentBody(inc, this.deps.severity))).id;
      await this.finish(incidentId, op, (i) => {
        i.xdrId = xdrId;
        // The create carried the current description: a patch queued meanwhile has nothing left to say.
        if (!existing && i.revision === revision) i.xdrSync.pending = i.xdrSync.pending.filter((o) => o.kind !== 'patch');
      });
      return 'done';
    }
    if (!inc.xdrId) return 'blocked';
    const shortId = shortIdOf(inc.xdrId);
    switch (op.kind) {
      case 'patch': {
        const revision = inc.revision;
        await xdr.patchIncident(shortId, incidentPatch(inc, this.deps.severity));
        // A sighting counted while the patch was in flight keeps the op for one more round.
        await this.finish(incidentId, op, () => undefined, (i) => i.revision === revision);
        return 'done';
      }
      case 'sighting': {
        let sightingId = op.xdrSightingId;
        if (!sightingId) {
          // An op queued by an earlier process, or tried before, may have been created in XDR just
          // before a crash: look it up by its external id first (CTIA creates are not idempotent).
          const maybeCreated = retrying || op.id < this.firstOpIdOfThisProcess || op.attempts > 0 || op.lastError !== undefined;
          const externalId = sightingExternalId(op.ctim);
          if (maybeCreated && externalId && xdr.findSightingsByExternalId) sightingId = (await xdr.findSightingsByExternalId(externalId))[0]?.id;
        }
        if (!sightingId) {
          sightingId = (await xdr.createSighting(op.ctim)).id;
          const recorded = sightingId;
          // Not awaited to disk: a crash in the next second may create this one sighting twice
          // in XDR (CTIA creates are not idempotent); the incident and its count are unaffected.
          await this.deps.store.update((s) => {
            const o = correlationOf(s).incidents[incidentId]?.xdrSync.pending.find((p) => p.id === op.id);
            if (o?.kind === 'sighting') o.xdrSightingId = recorded;
          }, { durable: false });
        }
        await this.relate(sightingId, inc.xdrId, 'member-of', `sightline-member-of-${shortIdOf(sightingId)}`);
        await this.finish(incidentId, op, () => undefined);
        return 'done';
      }
      case 'relate_previous': {
        const prev = this.current(op.previousIncidentId);
        if (!prev) {
          this.deps.logger.warn({ incident: incidentId, previous: op.previousIncidentId }, 'previous incident no longer kept; related-to link skipped');
          await this.finish(incidentId, op, () => undefined);
          return 'done';
        }
        if (!prev.xdrId) return 'blocked';
        await this.relate(prev.xdrId, inc.xdrId, 'related-to', `sightline-related-to-${prev.id}-${inc.id}`);
        await this.finish(incidentId, op, () => undefined);
        return 'done';
      }
      case 'status':
        await xdr.setIncidentStatus(shortId, op.status);
        await this.finish(incidentId, op, () => undefined);
        return 'done';
    }
  }

  private async relate(sourceRef: string, targetRef: string, type: string, externalId: string): Promise<void> {
    const { xdr } = this.deps;
    if (xdr.findRelationshipsByExternalId && (await xdr.findRelationshipsByExternalId(externalId)).length > 0) return;
    await xdr.createRelationship({ source_ref: sourceRef, target_ref: targetRef, relationship_type: type, tlp: 'amber', source: SOURCE, external_ids: [externalId] });
  }

  /** Applies the result and removes the op (unless `remove` says to keep it) in one durable write. */
  private async finish(incidentId: string, op: XdrOp, apply: (i: Incident) => void, remove: (i: Incident) => boolean = () => true): Promise<void> {
    const now = this.deps.clock.now().toISOString();
    await this.deps.store.update((s) => {
      const i = correlationOf(s).incidents[incidentId];
      if (!i) return;
      apply(i);
      if (remove(i)) i.xdrSync.pending = i.xdrSync.pending.filter((o) => o.id !== op.id);
      i.xdrSync.lastSyncedAt = now;
      delete i.xdrSync.lastError;
    }, { durable: false });
  }

  private async recordFailure(incidentId: string, op: XdrOp, err: unknown): Promise<'permanent' | 'retryable' | 'rate_limited'> {
    const upstream = err instanceof UpstreamError ? err : undefined;
    const permanent = upstream !== undefined && !upstream.retryable;
    const message = err instanceof Error ? err.message : String(err);
    let dropped = false;
    await this.deps.store.update((s) => {
      const i = correlationOf(s).incidents[incidentId];
      const o = i?.xdrSync.pending.find((p) => p.id === op.id);
      if (!i || !o) return;
      o.lastError = message;
      i.xdrSync.lastError = message;
      if (permanent) o.attempts += 1;
      if (permanent && o.attempts >= MAX_PERMANENT_FAILURES) {
        i.xdrSync.pending = i.xdrSync.pending.filter((p) => p.id !== op.id);
        i.xdrSync.dropped += 1;
        keepDeadLetter(i, o, message, this.deps.clock.now().toISOString());
        dropped = true;
      }
    }, { durable: false });
    const log = { incident: incidentId, op: op.kind, err: message, ...(op.kind === 'sighting' ? { seq: op.seq } : {}) };
    if (dropped) this.deps.logger.error(log, 'XDR refused this change for good; it is kept as a dead letter (hunt status shows it). The local incident is unaffected.');
    else this.deps.logger.warn(log, 'XDR sync deferred; it will be retried');
    if (permanent) return 'permanent';
    return upstream?.status === 429 ? 'rate_limited' : 'retryable';
  }
}

function sightingExternalId(ctim: Record<string, unknown>): string | undefined {
  const ids = Array.isArray(ctim.external_ids) ? ctim.external_ids : [];
  return ids.findLast((e): e is string => typeof e === 'string' && e.startsWith('sightline-sighting-'));
}
