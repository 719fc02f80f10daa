import { randomUUID } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import type { Clock } from '../../core/clock.js';
import type { Logger } from '../../core/logger.js';
import type { Config } from '../../config/load.js';
import type { XdrPort } from '../ports/xdr.js';
import type { IncidentView, Notification, Notifier } from '../../notify/notification.js';
import type { Store } from '../../store/store.js';
import { applySighting, type ApplyResult } from './correlator.js';
import { toIncidentView } from './describe.js';
import { parseLadder, type Rung } from './ladder.js';
import { compactCorrelation } from './intern.js';
import { isClosedStatus } from './status.js';
import { parseSeverityRule } from './severity.js';
import { MAX_CLOSED_INCIDENTS, correlationOf, readCorrelation, type CorrelationState, type Incident, type SequencedSighting } from './types.js';
import { XdrMirror, enqueueForSighting, enqueueStatus, packQueues, type SyncReport } from './xdr-sync.js';
import { syncStatuses } from './status-sync.js';
import { mirrorAllowance } from './call-allowance.js';
import { UpdateCoalescer, failedOutcome, realTimers, respondMessage, rungSteps, runRespond, runWebhook, type Responder, type RungPorts, type Timers } from './side-effects.js';

export type { Responder, Timers } from './side-effects.js';
export { actionMatches } from './side-effects.js';

export interface CorrelationEngineDeps {
  store: Store;
  xdr: XdrPort;
  notifier: Notifier;
  clock: Clock;
  logger: Logger;
  config: Config['correlation'];
  /** XDR_INCIDENT_URL_TEMPLATE, e.g. `https://…/incidents?q=id:{shortId}#summary`. */
  incidentUrlTemplate?: string;
  webhookPoster?: (url: string, body: unknown) => Promise<void>;
  responder?: Responder;
  timers?: Timers;
  /** New local incident ids (tests pass a deterministic one). */
  newId?: () => string;
  /** `ingest` waits for the side effects too (tests that assert on them right after ingest). */
  awaitSideEffects?: boolean;
}

/** How long a new incident's card waits for XDR to hand out the incident link. */
const OPENED_CARD_WAIT_MS = 2000;

/**
 * The correlator's orchestration: applies sightings to the state (durably, with
 * the applied sequence number, so a replay after a crash counts each exactly
 * once), then runs the side effects — XDR mirroring, notifications, ladder
 * actions. All I/O goes through the injected ports.
 */
export class CorrelationEngine {
  readonly rungs: readonly Rung[];
  private readonly mirror: XdrMirror;
  /** Updates waiting CORRELATION_COALESCE_MS, and the count each incident's last message showed (this process). */
  private readonly coalescer: UpdateCoalescer;
  private readonly rungPorts: RungPorts;
  private stopping = false;
  private readonly newId: () => string;
  private effects: Promise<void> = Promise.resolve();
  private readonly sending = new Set<Promise<void>>();
  private durableSeq: number;

  constructor(private readonly deps: CorrelationEngineDeps) {
    const loaded = readCorrelation(deps.store.get());
    this.durableSeq = loaded.lastAppliedSeq;
    // A state read from disk holds a copy of every repeated IOC, source and time: share them once (issue 14).
    compactCorrelation(loaded);
    // Queued CTIM bodies are kept as text until sent (issue 14: they were most of a flood's live heap).
    packQueues(loaded);
    this.rungs = parseLadder(deps.config.ladder, { webhookUrl: deps.config.webhookUrl });
    this.mirror = new XdrMirror({
      store: deps.store,
      xdr: deps.xdr,
      clock: deps.clock,
      logger: deps.logger,
      ...(deps.config.xdrSeverity ? { severity: parseSeverityRule(deps.config.xdrSeverity) } : {}),
      allowance: mirrorAllowance(deps.config.mirrorCallsPerHour, deps.clock),
    });
    this.coalescer = new UpdateCoalescer(deps.config.coalesceMs, deps.timers ?? realTimers, (id) => void this.flushIncident(id));
    this.rungPorts = {
      xdr: deps.xdr,
      responseActions: deps.config.responseActions,
      responder: deps.responder,
      webhookUrl: deps.config.webhookUrl,
      webhookPoster: deps.webhookPoster,
    };
    this.newId = deps.newId ?? (() => `inc-${randomUUID().slice(0, 8)}`);
  }

  /**
   * The highest seq whose effects are on disk. The intake replays the journal after it on
   * start-up and compacts the journal up to it, so it must never run ahead of the disk.
   */
  lastAppliedSeq(): number {
    return this.durableSeq;
  }

  /**
   * Applies the items (in seq order; anything at or below lastAppliedSeq is a replay
   * and ignored), then runs their side effects. Callers must hand items over in the
   * order of their sequence numbers, as the intake journal does.
   */
  async ingest(items: SequencedSighting[]): Promise<void> {
    // In a method of its own: the closures below wait behind every earlier batch's side effects
    // (in a flood, thousands of batches), and whatever this scope holds waits with them. Holding
    // the items kept every sighting of a flood (its CTIM and all) in memory until the effects
    // caught up: a heap snapshot a minute after a 30 s flood found all 35,000 of them.
    const { applied, last } = await this.applyBatch(items);
    const durable = this.deps.store.flush().then(() => {
      if (last > this.durableSeq) this.durableSeq = last;
    });
    durable.catch(() => undefined); // a failed write is reported by the store (readyz); the chain below skips the effects
    if (applied.length === 0) {
      if (this.deps.awaitSideEffects) await durable;
      return;
    }
    // Side effects (XDR, chat, ladder actions) run behind the intake, in order, once the counts
    // and rung decisions they act on are on disk — so an action never fires for a decision a
    // crash could undo — and a slow or unreachable XDR never holds back counting.
    const run = this.effects.then(async () => {
      await durable;
      await this.afterApply(applied);
    });
    this.effects = run.catch((err: unknown) => this.deps.logger.error({ err }, 'correlation side effects failed'));
    if (this.deps.awaitSideEffects) await run;
  }

  /** Counts the items into the state (in memory; written with the next state write). */
  private async applyBatch(items: SequencedSighting[]): Promise<{ applied: ApplyResult[]; last: number }> {
    const sorted = [...items].sort((a, b) => a.seq - b.seq);
    const now = this.deps.clock.now();
    const opts = { rungs: this.rungs, rejectedIsClosed: this.deps.config.rejectedIsClosed, dryRun: this.deps.config.dryRun, newId: this.newId };
    const applied = await this.deps.store.update((state) => {
      const cs = correlationOf(state);
      const out: ApplyResult[] = [];
      for (const item of sorted) {
        if (item.seq <= cs.lastAppliedSeq) continue;
        const result = applySighting(cs, item, now, opts);
        enqueueForSighting(cs, result, item, this.deps.config.mirrorNewestSightings, { pack: true });
        out.push(result);
      }
      return out;
      // Not awaited to disk here: the sightings are safe in the journal, and a crash before the
      // next write only means they are applied again from it (lastAppliedSeq stays behind until
      // then). Waiting for every write would make counting as slow as writing the whole state.
    }, { durable: false });
    return { applied, last: sorted.at(-1)?.seq ?? 0 };
  }

  /** Resolves when the side effects of everything ingested so far have run. */
  async idle(): Promise<void> {
    let seen: Promise<void> | undefined;
    while (seen !== this.effects || this.sending.size > 0) {
      seen = this.effects;
      await seen;
      await Promise.all([...this.sending]);
    }
  }

  private async afterApply(applied: ApplyResult[]): Promise<void> {
    const opened = new Set(applied.filter((r) => r.created).map((r) => r.incident.id));
    // XDR first, so the opened card can carry the incident link — but a backlog or an
    // outage of XDR must not keep the card from the room for long.
    // A pass now only when a card waits for its link; other changes reach XDR with the periodic
    // pass (the composition root runs one every few seconds), so a burst of sightings costs a
    // few passes, not one per batch.
    if (opened.size > 0) await Promise.race([this.syncPending(), delay(OPENED_CARD_WAIT_MS, undefined, { ref: false })]);
    if (this.deps.awaitSideEffects) await this.syncPending();
    for (const id of opened) {
      const inc = this.incident(id);
      if (!inc) continue;
      this.coalescer.showed(id, inc.count);
      await this.send({ kind: 'incident_opened', incident: this.view(inc) });
    }
    for (const r of applied) {
      if (!opened.has(r.incident.id)) this.bufferUpdate(r.incident.id, r.rung?.label);
      if (r.rung) await this.fireRung(r.incident.id, r.rung);
    }
    if (this.deps.config.coalesceMs === 0) await this.flushCoalesced();
  }

  /** Pushes queued XDR changes; the composition root also calls it on a timer. */
  syncPending(): Promise<SyncReport> {
    return this.mirror.syncPending().catch((err: unknown) => {
      this.deps.logger.error({ err }, 'XDR sync pass failed; it will run again');
      return { done: 0, failed: 1, pending: -1 };
    });
  }

  /** Respects closes made in the XDR console: open incidents XDR says are closed are closed here too. */
  syncStatuses(): Promise<{ checked: number; closed: number }> {
    return syncStatuses({
      xdr: this.deps.xdr,
      logger: this.deps.logger,
      openMirrored: () => Object.values(readCorrelation(this.deps.store.get()).incidents).filter((i) => i.xdrId && !this.isClosed(i.status)),
      isClosed: (status) => this.isClosed(status),
      stopping: () => this.stopping,
      close: async (id, status) => (await this.closeIncident(id, 'XDR', undefined, { status, mirror: false })) !== undefined,
      // Not one state write per status: an analyst changing a thousand incidents in XDR made the sync
      // wait for a thousand writes. A crash before the flush only means the next sync reads them again.
      setStatus: (id, status) =>
        this.deps.store.update(
          (s) => {
            const i = correlationOf(s).incidents[id];
            if (i && !this.isClosed(i.status)) i.status = status;
          },
          { durable: false },
        ),
      flush: () => this.deps.store.flush(),
    });
  }

  /**
   * Closes one incident locally; with `mirror` (the default) the close is queued for
   * XDR too. Returns undefined when it is not open (any more).
   */
  async closeIncident(id: string, by: string, reason?: string, opts: { status?: string; mirror?: boolean } = {}): Promise<IncidentView | undefined> {
    const status = opts.status ?? 'Closed';
    const now = this.deps.clock.now().toISOString();
    const closed = await this.deps.store.update((s) => {
      const cs = correlationOf(s);
      const inc = cs.incidents[id];
      if (!inc || this.isClosed(inc.status)) return undefined;
      inc.status = status;
      inc.closedAt = now;
      inc.closedBy = by;
      if (reason) inc.closeReason = reason;
      if (cs.openByTarget[inc.targetKey] === id) delete cs.openByTarget[inc.targetKey];
      if (opts.mirror !== false) enqueueStatus(cs, inc, status);
      // Only closing makes closed incidents, so only closing needs to prune them (not every ingest).
      pruneClosed(cs);
      return inc;
    });
    if (!closed) return undefined;
    await this.flushIncident(id);
    this.coalescer.forget(id);
    const view = this.view(closed);
    await this.send({ kind: 'incident_closed', incident: view, by, ...(reason ? { reason } : {}) });
    if (opts.mirror !== false) await this.syncPending();
    return this.view(this.incident(id) ?? closed);
  }

  /** The Webex channel calls this with the message id of the incident_opened card, for threaded updates. */
  async recordCardMessage(incidentId: string, messageId: string): Promise<void> {
    await this.deps.store.update((s) => {
      const inc = correlationOf(s).incidents[incidentId];
      if (inc) inc.cardMessageId = messageId;
    });
  }

  /** Sends every coalesced update now (tests, shutdown). */
  async flushCoalesced(): Promise<void> {
    for (const id of this.coalescer.waiting()) await this.flushIncident(id);
  }

  /**
   * Shutdown, first step: no new XDR call from the mirror or the status sync (what is still
   * queued for XDR is in the state and goes out after the restart); the calls under way finish.
   */
  async stopXdr(): Promise<void> {
    this.stopping = true;
    await this.mirror.stop();
  }

  /** Shutdown: runs what is pending (its cards go to the outbox); call before closing the store. */
  async stop(): Promise<void> {
    // The side effects below then send their cards without waiting for an XDR pass.
    await this.stopXdr();
    await this.idle();
    await this.flushCoalesced();
    await Promise.all([...this.sending]);
  }

  view(inc: Incident): IncidentView {
    return toIncidentView(inc, this.deps.incidentUrlTemplate);
  }

  incident(id: string): Incident | undefined {
    return readCorrelation(this.deps.store.get()).incidents[id];
  }

  state(): CorrelationState {
    return readCorrelation(this.deps.store.get());
  }

  isClosed(status: string): boolean {
    return isClosedStatus(status, { rejectedIsClosed: this.deps.config.rejectedIsClosed });
  }

  private bufferUpdate(incidentId: string, crossed?: string): void {
    this.coalescer.add(incidentId, crossed);
  }

  private async flushIncident(incidentId: string): Promise<void> {
    const pending = this.coalescer.take(incidentId);
    if (!pending) return;
    const inc = this.incident(incidentId);
    if (!inc) return;
    const message = this.coalescer.updateMessage(incidentId, pending, inc.count, this.view(inc), inc.cardMessageId);
    if (message) await this.send(message);
  }

  /** The rung is already recorded on the incident; this runs its actions once and records the outcome. */
  private async fireRung(incidentId: string, rung: Rung): Promise<void> {
    const inc = this.incident(incidentId);
    if (!inc) return;
    const { config, logger } = this.deps;
    const dryRun = config.dryRun;
    const outcomes: string[] = [];
    // One delivery may carry several sightings and cross several rungs: each message says the
    // count at which its rung fired (recorded by applySighting), not the count after the batch.
    const firedAtCount = inc.rungsFired.find((r) => r.rung === rung.label)?.count;
    const view = this.view(inc);
    for (const step of rungSteps(rung, view, firedAtCount, { dryRun, oncall: config.oncall })) {
      try {
        if (step.kind === 'message') {
          if (dryRun && step.action !== 'notify' && step.action !== 'mention') {
            logger.info({ incident: inc.id, rung: rung.label, action: step.action }, 'dry run: ladder action recorded, not run');
          }
          await this.send(step.message);
          outcomes.push(step.outcome);
        } else if (step.kind === 'respond') {
          const line = await runRespond(this.rungPorts, view, inc.lastIoc);
          await this.send(respondMessage(rung, view, line, firedAtCount, dryRun));
          outcomes.push(`respond: ${line}`);
        } else {
          await runWebhook(this.rungPorts, view, rung, firedAtCount);
          outcomes.push('webhook: posted');
        }
      } catch (err) {
        logger.error({ err, incident: inc.id, rung: rung.label, action: step.action }, 'ladder action failed; it is not retried (response actions are not idempotent)');
        outcomes.push(failedOutcome(step.action, err));
      }
    }
    // The firing itself was recorded durably before the actions ran; its outcome is informational.
    await this.deps.store.update((s) => {
      const rec = correlationOf(s).incidents[incidentId]?.rungsFired.find((r) => r.rung === rung.label);
      if (rec) rec.outcome = outcomes.join('; ');
    }, { durable: false });
  }

  /**
   * Queues a notification without holding up the side-effect chain: the outbox makes it
   * durable on its next write (seconds on a large state), and the chain must not wait that
   * long per message or it falls behind the intake. Notifications keep their order (the
   * store applies updates in call order); `idle()` and `stop()` wait for them.
   */
  private async send(n: Notification): Promise<void> {
    const queued: Promise<void> = this.deps.notifier.notify(n).then(
      () => undefined,
      (err: unknown) => this.deps.logger.error({ err, kind: n.kind }, 'notification could not be queued'),
    );
    this.sending.add(queued);
    void queued.finally(() => this.sending.delete(queued));
  }
}

/** Keeps the state file bounded: the oldest closed incidents with nothing left to sync go first. */
function pruneClosed(cs: CorrelationState): void {
  const open = new Set(Object.values(cs.openByTarget));
  const latest = new Set(Object.values(cs.latestByTarget));
  const closed = Object.values(cs.incidents).filter((i) => !open.has(i.id) && i.closedAt);
  if (closed.length <= MAX_CLOSED_INCIDENTS) return;
  const prunable = closed
    .filter((i) => !latest.has(i.id) && i.xdrSync.pending.length === 0)
    .sort((a, b) => (a.closedAt ?? '').localeCompare(b.closedAt ?? ''));
  for (const i of prunable.slice(0, closed.length - MAX_CLOSED_INCIDENTS)) delete cs.incidents[i.id];
}
