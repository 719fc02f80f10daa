import { syncStatuses } from '../domain/correlation/status-sync.js';
import type pg from 'pg';
import type { Config } from '../config/load.js';
import type { Logger } from '../core/logger.js';
import { toIncidentView } from '../domain/correlation/describe.js';
import {
  UpdateCoalescer,
  failedOutcome,
  realTimers,
  respondMessage,
  rungSteps,
  runRespond,
  runWebhook,
  type Responder,
  type RungPorts,
  type Timers,
} from '../domain/correlation/side-effects.js';
import { isClosedStatus } from '../domain/correlation/status.js';
import type { Incident } from '../domain/correlation/types.js';
import type { XdrPort } from '../domain/ports/xdr.js';
import type { IncidentView, Notification } from '../notify/notification.js';
import type { AppliedBatch, FiredRung, PostgresCorrelationStore } from '../store/postgres/correlation.js';

/**
 * What the apply loop needs of the notifier on PostgreSQL (PostgresNotifier offers it): `notifyIn`
 * queues a notification in the caller's transaction — so a card commits with the counts that made
 * it, or not at all — and returns false when `dedupeKey` was queued before (nothing queued twice).
 */
export interface TransactionalNotifier {
  notify(n: Notification): Promise<void>;
  notifyIn(tx: pg.ClientBase, n: Notification, dedupeKey?: string): Promise<boolean>;
  /**
   * Optional: many at once, in order, in one round trip (a batch opening 500 incidents queues 500
   * cards; one by one that is most of the batch's time). Without it the loop calls notifyIn per item.
   */
  notifyAllIn?(tx: pg.ClientBase, items: Array<{ notification: Notification; dedupeKey?: string }>): Promise<void>;
}

export interface SharedCorrelationDeps {
  store: PostgresCorrelationStore;
  notifier: TransactionalNotifier;
  xdr: XdrPort;
  logger: Logger;
  config: Pick<Config['correlation'], 'coalesceMs' | 'dryRun' | 'oncall' | 'responseActions' | 'webhookUrl' | 'rejectedIsClosed'>;
  /** XDR_INCIDENT_URL_TEMPLATE. */
  incidentUrlTemplate?: string | undefined;
  webhookPoster?: ((url: string, body: unknown) => Promise<void>) | undefined;
  responder?: Responder | undefined;
  timers?: Timers;
  /** Sightings claimed per transaction (default 500). */
  batchSize?: number;
  /** How often the loop looks for sightings other instances accepted (default 500 ms). */
  pollMs?: number;
  /** Longest wait between tries while the database fails (default 30 s; starts at pollMs, doubling). */
  maxBackoffMs?: number;
  /** Runs last in the claim's transaction (tests make it throw to simulate a crash before the commit). */
  beforeCommit?: (batch: AppliedBatch, tx: pg.ClientBase) => Promise<void>;
}

/**
 * Rungs whose outside actions never started (their instance stopped first) are run by the next
 * instance to start, if they fired this recently: a response action much later would surprise.
 */
export const RESUME_RUNGS_WITHIN_MS = 10 * 60_000;

/** How often a running instance looks for such rungs too (another instance may have stopped while this one runs on). */
const RESUME_RUNGS_EVERY_MS = 60_000;

/** Pause after a claim whose targets were all held elsewhere. */
const DEFERRED_PAUSE_MS = 20;

interface Sleeper {
  timer: ReturnType<typeof setTimeout>;
  resolve(): void;
}

/**
 * The correlation loop of one instance on PostgreSQL. Every instance runs one: it claims
 * accepted sightings (`applyNext`: SKIP LOCKED, so instances share the backlog and each sighting
 * is counted by one), and runs the side effects with the lowdb engine's rules (side-effects.ts):
 *
 * - in the claim's transaction: the incident_opened card of each incident the batch opened and the
 *   messages of the rungs it fired (dedupe keys `opened:<id>`, `rung:<id>:<rung>:<action>`), so a
 *   crash loses neither and a batch applied again never queues them twice;
 * - after the commit: the rungs' outside actions (respond, webhook: at most once, as in lowdb —
 *   they are not idempotent, so a crash between the commit and the call skips them; the rung's
 *   outcome then stays empty), and the incident updates, coalesced per incident in memory for
 *   CORRELATION_COALESCE_MS (a crash loses the ones waiting; the next update shows the count).
 *
 * A card queued in the transaction cannot wait for XDR's incident link as the lowdb engine's
 * does (XDR mirroring is another loop): the link shows from the first update on.
 */
export class SharedCorrelation {
  private readonly coalescer: UpdateCoalescer;
  private readonly rungPorts: RungPorts;
  private readonly batchSize: number;
  private readonly pollMs: number;
  private readonly maxBackoffMs: number;
  private running = false;
  private stopping = false;
  /** Rung actions not started yet are left to the next instance (`claimUnstartedRungs`), not run here. */
  private leaving = false;
  /** The pool is about to end: nothing more is started, not even the coalesced updates. */
  private abandoned = false;
  private loopDone: Promise<void> = Promise.resolve();
  private woken = false;
  private sleeper: Sleeper | undefined;
  private failing = false;
  private passes = 0;
  private idleWaiters: Array<{ after: number; resolve(): void }> = [];
  private effects: Promise<void> = Promise.resolve();
  /** Incidents whose coalescing wait ended, flushed together by the next task of the chain. */
  private readonly dueIds = new Set<string>();
  /** Sightings this instance applied and batches it committed (tests, figures). */
  readonly stats = { applied: 0, batches: 0 };
  /** The last claim's sightings all waited for targets held elsewhere (see `loop`). */
  private allDeferred = false;
  private lastResume = 0;

  constructor(private readonly deps: SharedCorrelationDeps) {
    this.coalescer = new UpdateCoalescer(deps.config.coalesceMs, deps.timers ?? realTimers, (id) => this.due(id));
    this.rungPorts = {
      xdr: deps.xdr,
      responseActions: deps.config.responseActions,
      responder: deps.responder,
      webhookUrl: deps.config.webhookUrl,
      webhookPoster: deps.webhookPoster,
    };
    this.batchSize = deps.batchSize ?? 500;
    this.pollMs = deps.pollMs ?? 500;
    this.maxBackoffMs = deps.maxBackoffMs ?? 30_000;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.stopping = false;
    this.leaving = false;
    this.abandoned = false;
    this.lastResume = Date.now();
    this.loopDone = this.loop();
    this.chain(() => this.resumeRungs());
  }

  /** The local intake accepted sightings: apply them now rather than at the next poll. */
  wake(): void {
    this.woken = true;
    this.sleeper?.resolve();
  }

  /**
   * Finishes the batch in flight (claims no new one) and the rung action under way, then sends the
   * coalesced updates. Rung actions not started yet are left for the next instance to start (their
   * outcome stays empty; `claimUnstartedRungs`): a backlog of response actions and webhooks would
   * outlast any shutdown budget, and ending the pool under them only made them fail.
   */
  async stop(): Promise<void> {
    this.running = false;
    this.leaving = true;
    this.wake();
    await this.loopDone;
    this.stopping = true;
    for (const w of this.idleWaiters.splice(0)) w.resolve();
    await this.settled();
    if (!this.abandoned) await this.flushCoalesced();
  }

  /**
   * The shutdown's time is up and the pool ends next: nothing more starts (rung actions are left
   * for the next instance, coalesced updates are lost as in a crash); resolves once the side
   * effect under way has finished.
   */
  async abandon(): Promise<void> {
    this.running = false;
    this.leaving = true;
    this.abandoned = true;
    this.wake();
    await this.settled();
  }

  /** Resolves once the side effects chained so far (and any chained meanwhile) have run. */
  private async settled(): Promise<void> {
    let seen: Promise<void> | undefined;
    while (seen !== this.effects) {
      seen = this.effects;
      await seen;
    }
  }

  /** Rungs another instance fired but never started (it stopped or crashed first): run here, once. */
  private async resumeRungs(): Promise<void> {
    if (this.leaving) return;
    this.lastResume = Date.now();
    const left = await this.deps.store.claimUnstartedRungs(RESUME_RUNGS_WITHIN_MS);
    if (left.length > 0) this.deps.logger.info({ rungs: left.length }, 'running ladder actions an instance left unstarted when it stopped');
    for (const { incident, fired } of left) await this.runRungActions(incident, fired, { claimed: true });
  }

  /**
   * Resolves once a pass that started after this call found nothing to claim (for this
   * instance: rows another instance holds are not seen) and the side effects so far have run.
   */
  async idle(): Promise<void> {
    if (this.running) {
      const after = this.passes;
      await new Promise<void>((resolve) => {
        this.idleWaiters.push({ after, resolve });
        this.wake();
      });
    }
    await this.settled();
  }

  /** One claim-and-apply, with its side effects queued; what the loop runs (and tests, step by step). */
  async applyOnce(): Promise<number> {
    const { claimed, result } = await this.deps.store.applyNext(this.batchSize, async (batch, tx) => {
      await this.queueInTransaction(batch, tx);
      if (this.deps.beforeCommit) await this.deps.beforeCommit(batch, tx);
    });
    this.allDeferred = claimed > 0 && result !== undefined && result.deferred.length === claimed;
    if (result) {
      this.stats.applied += result.applied.length;
      this.stats.batches++;
      this.afterCommit(result);
    }
    return claimed;
  }

  private async loop(): Promise<void> {
    let backoff = this.pollMs;
    while (this.running) {
      const pass = ++this.passes;
      this.woken = false;
      let claimed = 0;
      try {
        claimed = await this.applyOnce();
        if (this.failing) {
          this.failing = false;
          this.deps.logger.info('counting sightings again: the database answers');
        }
        backoff = this.pollMs;
      } catch (err) {
        // Once per outage, not once per try.
        if (!this.failing) this.deps.logger.error({ err }, 'counting sightings failed; they stay in the log and are tried again');
        this.failing = true;
        await this.sleep(backoff);
        backoff = Math.min(backoff * 2, this.maxBackoffMs);
        continue;
      }
      // Every sighting claimed waits for a target another transaction holds (it commits within a
      // batch's time): a short pause, not a spin on the same rows, and not "idle" either.
      if (this.allDeferred) await this.sleep(Math.min(this.pollMs, DEFERRED_PAUSE_MS));
      if (claimed > 0) continue;
      if (Date.now() - this.lastResume >= RESUME_RUNGS_EVERY_MS) this.chain(() => this.resumeRungs());
      this.idleWaiters = this.idleWaiters.filter((w) => {
        if (w.after >= pass) return true;
        w.resolve();
        return false;
      });
      if (!this.woken) await this.sleep(this.pollMs);
    }
  }

  private sleep(ms: number): Promise<void> {
    if (!this.running) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(sleeper.timer);
        if (this.sleeper === sleeper) this.sleeper = undefined;
        resolve();
      };
      const sleeper: Sleeper = { timer: setTimeout(done, ms), resolve: done };
      sleeper.timer.unref?.();
      this.sleeper = sleeper;
    });
  }

  /**
   * Cards of opened incidents, then the messages of fired rungs: queued with the counts that made
   * them. A rung with messages only is complete here, so its outcome is recorded here too.
   */
  private async queueInTransaction(batch: AppliedBatch, tx: pg.ClientBase): Promise<void> {
    const byId = new Map(batch.incidents.map((i) => [i.id, i]));
    const queue: Array<{ notification: Notification; dedupeKey?: string }> = [];
    for (const id of batch.opened) {
      const inc = byId.get(id);
      if (inc) queue.push({ notification: { kind: 'incident_opened', incident: this.view(inc) }, dedupeKey: `opened:${id}` });
    }
    const complete: Array<{ incidentId: string; rung: string; outcome: string }> = [];
    for (const f of batch.rungsFired) {
      const inc = byId.get(f.incidentId);
      if (!inc) continue;
      const steps = rungSteps(f.rung, this.view(inc), f.count, this.deps.config);
      for (const step of steps) {
        if (step.kind === 'message') queue.push({ notification: step.message, dedupeKey: `rung:${f.incidentId}:${f.rung.label}:${step.action}` });
      }
      if (steps.every((s) => s.kind === 'message')) {
        complete.push({ incidentId: f.incidentId, rung: f.rung.label, outcome: steps.map((s) => (s.kind === 'message' ? s.outcome : '')).join('; ') });
      }
    }
    const notifier = this.deps.notifier;
    if (notifier.notifyAllIn) {
      if (queue.length > 0) await notifier.notifyAllIn(tx, queue);
    } else {
      for (const q of queue) await notifier.notifyIn(tx, q.notification, q.dedupeKey);
    }
    await this.deps.store.recordRungOutcomes(complete, tx);
  }

  private afterCommit(batch: AppliedBatch): void {
    const opened = new Set(batch.opened);
    const byId = new Map(batch.incidents.map((i) => [i.id, i]));
    for (const id of opened) {
      const inc = byId.get(id);
      if (inc) this.coalescer.showed(id, inc.count);
    }
    // Per incident counted into (not opened by this batch): one update per sighting, with the rungs crossed.
    const crossed = new Map<string, string[]>();
    for (const f of [...batch.rungsFired].sort((a, b) => a.count - b.count)) crossed.set(f.incidentId, [...(crossed.get(f.incidentId) ?? []), f.rung.label]);
    const given = new Map<string, number>();
    for (const a of batch.applied) {
      if (opened.has(a.incidentId)) continue;
      const n = given.get(a.incidentId) ?? 0;
      given.set(a.incidentId, n + 1);
      this.coalescer.add(a.incidentId, crossed.get(a.incidentId)?.[n]);
    }
    for (const f of batch.rungsFired) {
      const inc = byId.get(f.incidentId);
      // Rungs with messages only were completed in the transaction.
      if (inc && f.rung.actions.some((a) => a === 'respond' || a === 'webhook')) this.chain(() => this.runRungActions(inc, f));
    }
    if (this.deps.config.coalesceMs === 0) this.chain(() => this.flushCoalesced());
  }

  /**
   * The rung's outside actions (its messages are queued already), then its outcome, in the ladder's
   * action order. Claimed first (`startRung`), so they run once across instances and crashes; not
   * started at all once this instance is stopping (left for the next one).
   */
  private async runRungActions(inc: Incident, f: FiredRung, opts: { claimed?: boolean } = {}): Promise<void> {
    const { logger, config } = this.deps;
    if (this.leaving && !opts.claimed) return;
    if (!opts.claimed && !(await this.deps.store.startRung(inc.id, f.rung.label))) return;
    const view = this.view(inc);
    const outcomes: string[] = [];
    for (const step of rungSteps(f.rung, view, f.count, config)) {
      if (step.kind === 'message') {
        if (config.dryRun && step.action !== 'notify' && step.action !== 'mention') {
          logger.info({ incident: inc.id, rung: f.rung.label, action: step.action }, 'dry run: ladder action recorded, not run');
        }
        outcomes.push(step.outcome);
        continue;
      }
      try {
        if (step.kind === 'respond') {
          const line = await runRespond(this.rungPorts, view, inc.lastIoc);
          await this.deps.notifier.notify(respondMessage(f.rung, view, line, f.count, config.dryRun));
          outcomes.push(`respond: ${line}`);
        } else {
          await runWebhook(this.rungPorts, view, f.rung, f.count);
          outcomes.push('webhook: posted');
        }
      } catch (err) {
        logger.error({ err, incident: inc.id, rung: f.rung.label, action: step.action }, 'ladder action failed; it is not retried (response actions are not idempotent)');
        outcomes.push(failedOutcome(step.action, err));
      }
    }
    await this.deps.store.recordRungOutcome(inc.id, f.rung.label, outcomes.join('; '));
  }

  /** Sends every coalesced update now (tests, shutdown). */
  async flushCoalesced(): Promise<void> {
    await this.flushIncidents(this.coalescer.waiting());
  }

  /** An incident's wait is over: flushed with the others whose wait ended meanwhile (one read for all). */
  private due(incidentId: string): void {
    if (this.abandoned) return;
    this.dueIds.add(incidentId);
    if (this.dueIds.size > 1) return;
    this.chain(() => {
      const ids = [...this.dueIds];
      this.dueIds.clear();
      return this.flushIncidents(ids);
    });
  }

  private async flushIncidents(ids: string[]): Promise<void> {
    const taken = ids.flatMap((id) => {
      const pending = this.coalescer.take(id);
      return pending ? [{ id, pending }] : [];
    });
    const notifier = this.deps.notifier;
    for (let i = 0; i < taken.length && !this.abandoned; i += 200) {
      const chunk = taken.slice(i, i + 200);
      // The view an update shows has no sightings list: read without them.
      const found = new Map((await this.deps.store.incidentsForViews(chunk.map((t) => t.id))).map((inc) => [inc.id, inc]));
      const messages: Notification[] = [];
      for (const { id, pending } of chunk) {
        const inc = found.get(id);
        if (!inc) continue;
        const message = this.coalescer.updateMessage(id, pending, inc.count, this.view(inc), inc.cardMessageId);
        if (message) messages.push(message);
      }
      // One commit for the chunk when the notifier can (a commit per update was a WAL flush each).
      const all = notifier.notifyAllIn?.bind(notifier);
      if (all && messages.length > 1) await this.deps.store.transaction('queueing incident updates', (tx) => all(tx, messages.map((notification) => ({ notification }))));
      else for (const m of messages) await notifier.notify(m);
    }
  }

  /**
   * Closes one open incident (on any instance); with `mirror` (the default) the close is queued for
   * XDR. The update still waiting for it and the incident_closed message are queued in the close's
   * transaction. Undefined when it is not open (any more).
   */
  async closeIncident(id: string, by: string, reason?: string, opts: { status?: string; mirror?: boolean } = {}): Promise<IncidentView | undefined> {
    const closed = await this.deps.store.close(id, by, reason, {
      ...opts,
      inTx: async (inc, tx) => {
        const pending = this.coalescer.take(id);
        const update = pending && this.coalescer.updateMessage(id, pending, inc.count, this.view(inc), inc.cardMessageId);
        if (update) await this.deps.notifier.notifyIn(tx, update);
        await this.deps.notifier.notifyIn(tx, { kind: 'incident_closed', incident: this.view(inc), by, ...(reason ? { reason } : {}) }, `closed:${id}`);
      },
    });
    if (!closed) return undefined;
    this.coalescer.forget(id);
    return this.view(closed);
  }

  /**
   * For the leader: respects closes made in the XDR console. Open incidents with an XDR id whose
   * XDR status says closed are closed here (not mirrored back); another status is recorded.
   */
  syncStatuses(): Promise<{ checked: number; closed: number }> {
    return syncStatuses({
      xdr: this.deps.xdr,
      logger: this.deps.logger,
      openMirrored: () => this.openMirrored(),
      isClosed: (status) => this.isClosed(status),
      stopping: () => this.stopping,
      close: async (id, status) => (await this.closeIncident(id, 'XDR', undefined, { status, mirror: false })) !== undefined,
      setStatus: async (id, status) => void (await this.deps.store.setStatus(id, status)),
    });
  }

  /** Open incidents that have an XDR id, page by page. */
  private async *openMirrored(): AsyncGenerator<Incident> {
    let after: string | undefined;
    for (let n = 0; n < 10_000; n++) {
      const page = await this.deps.store.openIncidents({ limit: 200, ...(after ? { after } : {}) });
      for (const inc of page.items) if (inc.xdrId && !this.isClosed(inc.status)) yield inc;
      if (!page.next) return;
      after = page.next;
    }
  }

  /** The Webex channel's hook: the message id of an incident_opened card, for threaded updates. */
  recordCardMessage(incidentId: string, messageId: string): Promise<void> {
    return this.deps.store.recordCardMessage(incidentId, messageId);
  }

  view(inc: Incident): IncidentView {
    return toIncidentView(inc, this.deps.incidentUrlTemplate);
  }

  isClosed(status: string): boolean {
    return isClosedStatus(status, { rejectedIsClosed: this.deps.config.rejectedIsClosed });
  }

  /** Side effects after commits run one after another, behind the counting. */
  private chain(work: () => Promise<void>): void {
    this.effects = this.effects.then(work).catch((err: unknown) => this.deps.logger.error({ err }, 'correlation side effects failed'));
  }
}
