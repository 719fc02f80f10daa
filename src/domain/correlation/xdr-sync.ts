import { hash } from 'node:crypto';
import type { Logger } from '../../core/logger.js';
import type { Clock } from '../../core/clock.js';
import type { XdrPort } from '../ports/xdr.js';
import type { Store } from '../../store/store.js';
import { targetIdentity } from '../investigate/target-identity.js';
import type { ApplyResult } from './correlator.js';
import { ctimForPair } from './ctim-rules.js';
import { keepDeadLetter } from './dead-letters.js';
import { correlationOf, readCorrelation, type CorrelationState, type Incident, type SequencedSighting, type XdrOp } from './types.js';
import type { SeverityRule } from './severity.js';
import { recordMitre } from './xdr-fields.js';
import { PackedSightingOp, packQueue } from './packed-sighting-op.js';
import type { MirrorAllowance } from './call-allowance.js';
import { MAX_PERMANENT_FAILURES, MIRROR_CONCURRENCY, MirrorPasses, XdrOpRunner, newPass, type OpResult, type SyncReport, type XdrOpStore } from './xdr-ops.js';
import { SOURCE } from './xdr-render.js';

export { SOURCE, incidentBody, incidentExternalId, incidentPatch, targetExternalId } from './xdr-render.js';
export { MAX_PERMANENT_FAILURES, type SyncReport } from './xdr-ops.js';

/**
 * Mirrors incidents into XDR through a durable per-incident queue of ops kept in
 * the state. Local state is always updated first; XDR catches up when it can.
 * What each op does is xdr-ops.ts (shared with the PostgreSQL mirror); this is the
 * lowdb queue: the ops live in each incident's `xdrSync.pending`.
 */
/** A module's CTIM sighting larger than this is replaced by a compact one, so the queue stays small. */
const MAX_CTIM_CHARS = 20_000;

/**
 * Queues what one applied sighting means for XDR. Runs inside store.update, next to applySighting.
 * `pack`: keep the sighting's CTIM body as text until it is sent (the lowdb state, held in memory
 * whole: packed-sighting-op.ts); a store that writes the op out at once (PostgreSQL) takes it plain.
 */
export function enqueueForSighting(state: CorrelationState, applied: ApplyResult, sighting: SequencedSighting, newest = MAX_PENDING_SIGHTINGS, opts: { pack?: boolean } = {}): void {
  const inc = applied.incident;
  recordMitre(inc, sighting.ctim);
  const q = inc.xdrSync.pending;
  if (applied.created) {
    q.push({ id: state.nextOpId++, kind: 'create_incident', attempts: 0 });
    if (applied.previous) q.push({ id: state.nextOpId++, kind: 'relate_previous', previousIncidentId: applied.previous.id, attempts: 0 });
  } else if (!q.some((op) => op.kind === 'patch')) {
    q.push({ id: state.nextOpId++, kind: 'patch', attempts: 0 });
  }
  const op = { id: state.nextOpId++, kind: 'sighting' as const, seq: sighting.seq, ctim: ctimSighting(sighting), attempts: 0 };
  q.push(opts.pack ? new PackedSightingOp(op) : op);
  // Counted, not collected: this runs once per sighting, and in a flood nearly every call drops one
  // (the waiting ops' array and the set of ids to drop were ~0.3 kB of garbage a sighting, issue 14).
  let waiting = 0;
  for (const o of q) if (isWaitingSighting(o)) waiting++;
  if (waiting > newest) {
    // Keep the newest: the oldest of a burst add least to what an analyst sees in XDR. A new array,
    // not a splice: a mirror pass may be walking the old one.
    let drop = waiting - newest;
    inc.xdrSync.pending = q.filter((o) => {
      if (drop === 0 || !isWaitingSighting(o)) return true;
      drop--;
      return false;
    });
    inc.xdrSync.unmirrored = (inc.xdrSync.unmirrored ?? 0) + (waiting - newest);
  }
}

/** A sighting op XDR has no copy of yet: only the newest MAX_PENDING_SIGHTINGS of these are kept per incident. */
export function isWaitingSighting(op: XdrOp): boolean {
  return op.kind === 'sighting' && !op.xdrSightingId;
}

/** Sightings of one incident waiting to be copied into XDR; older ones beyond this are only counted. Default of XDR_MIRROR_NEWEST_SIGHTINGS. */
export const MAX_PENDING_SIGHTINGS = 20;

/** Packs the queued sighting ops of a state read from disk (written by this version or an older one). */
export function packQueues(state: CorrelationState): void {
  for (const inc of Object.values(state.incidents)) packQueue(inc.xdrSync.pending);
}

export function enqueueStatus(state: CorrelationState, inc: Incident, status: string): void {
  inc.xdrSync.pending.push({ id: state.nextOpId++, kind: 'status', status, attempts: 0 });
}

/** The CTIM sighting to POST: the module's own (id removed) or a compact one built from the data. */
export function ctimSighting(s: SequencedSighting): Record<string, unknown> {
  // One-shot hash, not createHash: each Hash object is a weak handle every young-generation GC must visit (issue 14).
  const externalId = `sightline-sighting-${hash('sha256', s.dedupeKey, 'hex').slice(0, 32)}`;
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

export class XdrMirror {
  private readonly passes: MirrorPasses;
  private readonly runner: XdrOpRunner;

  /** Ops with a lower id were queued by an earlier process (which may have died mid-create). */
  private readonly firstOpIdOfThisProcess: number;

  constructor(private readonly deps: { store: Store; xdr: XdrPort; clock: Clock; logger: Logger; severity?: SeverityRule; allowance?: MirrorAllowance | undefined }) {
    this.firstOpIdOfThisProcess = readCorrelation(deps.store.get()).nextOpId;
    this.passes = new MirrorPasses(
      () => this.syncOnce(),
      () => ({ done: 0, failed: 0, pending: this.pendingCount() }),
    );
    this.runner = new XdrOpRunner({ xdr: deps.xdr, logger: deps.logger, severity: deps.severity, allowance: deps.allowance, stopping: () => this.passes.stopping });
  }

  /**
   * Runs every queued op it can. Single-flight: a call during a pass gets the NEXT
   * pass (which sees its ops); all such calls share that one, so a caller waits
   * for at most two passes however busy the intake is.
   */
  syncPending(): Promise<SyncReport> {
    return this.passes.next();
  }

  /** Shutdown: a running pass finishes the XDR calls under way and starts no more; none starts after. */
  stop(): Promise<void> {
    return this.passes.stop();
  }

  /** Resolves once no sync pass is running or queued (shutdown waits for it before closing the store). */
  idle(): Promise<void> {
    return this.passes.idle();
  }

  private async syncOnce(): Promise<SyncReport> {
    const report: SyncReport = { done: 0, failed: 0, pending: 0 };
    // Held back (allowance spent, or XDR's Retry-After): no pass, and no sorting of the queue, which a
    // flood asks for after every applied batch that opens an incident.
    if (!this.runner.mayStartPass()) return { ...report, pending: this.pendingCount() };
    const queued = Object.values(readCorrelation(this.deps.store.get()).incidents)
      .filter((i) => i.xdrSync.pending.length > 0)
      .sort((a, b) => a.ordinal - b.ordinal);
    const pass = newPass();
    let next = 0;
    // A few incidents at once (each incident's ops stay in order): one slow or failing XDR call
    // must not hold up every other incident, and the XDR client's own limit bounds the total.
    const worker = async (): Promise<void> => {
      while (this.runner.goesOn(pass) && next < queued.length) {
        const id = queued[next++]!.id;
        await this.runner.syncIncident(this.opStore(id), id, pass, report);
      }
    };
    await Promise.all(Array.from({ length: Math.min(MIRROR_CONCURRENCY, queued.length) }, worker));
    report.pending = this.pendingCount();
    return report;
  }

  private pendingCount(): number {
    return Object.values(readCorrelation(this.deps.store.get()).incidents).reduce((n, i) => n + i.xdrSync.pending.length, 0);
  }

  private current(incidentId: string): Incident | undefined {
    return readCorrelation(this.deps.store.get()).incidents[incidentId];
  }

  /** The ops of one incident as the lowdb state holds them (in its `xdrSync.pending`). */
  private opStore(incidentId: string): XdrOpStore {
    return {
      incident: () => this.current(incidentId),
      pending: () => this.current(incidentId)?.xdrSync.pending ?? [],
      finish: (op, result) => this.finish(incidentId, op, result),
      recordSightingId: async (op, xdrSightingId) => {
        // Not awaited to disk: a crash in the next second may create this one sighting twice
        // in XDR (CTIA creates are not idempotent); the incident and its count are unaffected.
        await this.deps.store.update((s) => {
          const o = correlationOf(s).incidents[incidentId]?.xdrSync.pending.find((p) => p.id === op.id);
          if (o?.kind === 'sighting') o.xdrSightingId = xdrSightingId;
        }, { durable: false });
      },
      mayHaveCreated: (op) => op.id < this.firstOpIdOfThisProcess || op.attempts > 0 || op.lastError !== undefined,
      xdrIdOf: async (id) => {
        const prev = this.current(id);
        return prev ? (prev.xdrId ?? null) : undefined;
      },
      // Left as it is: the next pass looks again.
      blocked: async () => undefined,
      failed: (op, failure) => this.recordFailure(incidentId, op, failure.message, failure.permanent),
    };
  }

  /** Applies the result and removes the op (unless a sighting was counted meanwhile) in one write. */
  private async finish(incidentId: string, op: XdrOp, result: OpResult): Promise<void> {
    const now = this.deps.clock.now().toISOString();
    await this.deps.store.update((s) => {
      const i = correlationOf(s).incidents[incidentId];
      if (!i) return;
      let remove = true;
      if (result.kind === 'created') {
        i.xdrId = result.xdrId;
        // The create carried the current description: a patch queued meanwhile has nothing left to say.
        if (result.carriedRevision !== undefined && i.revision === result.carriedRevision) i.xdrSync.pending = i.xdrSync.pending.filter((o) => o.kind !== 'patch');
      }
      // A sighting counted while the patch was in flight keeps the op for one more round.
      if (result.kind === 'patched') remove = i.revision === result.revision;
      if (remove) i.xdrSync.pending = i.xdrSync.pending.filter((o) => o.id !== op.id);
      i.xdrSync.lastSyncedAt = now;
      delete i.xdrSync.lastError;
    }, { durable: false });
  }

  private async recordFailure(incidentId: string, op: XdrOp, message: string, permanent: boolean): Promise<'waiting' | 'dead'> {
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
    return dropped ? 'dead' : 'waiting';
  }
}
