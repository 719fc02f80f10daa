import { randomUUID } from 'node:crypto';
import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import type { DeadLetter, OutboxItem } from '../store/state.js';
import type { Store } from '../store/store.js';
import type { Channel, DeliveryProgress, Notification, Notifier } from './notification.js';
import type { DeliveryReceipts } from './receipts.js';
import { laneOf, pickHead, subjectOf, type QueueStats } from './queues.js';
import { afterStep, buildDigest, endOfStorm, STORM_KINDS, stormStep, type StormPolicy, type StormState } from './storm.js';
import { UndeliverableError } from './undeliverable.js';

const MAX_KEYS = 2000;
const MAX_BACKOFF_MS = 5 * 60_000;
/** A queue whose loop was interrupted (the store closing under it) is tried again after this. */
const INTERRUPTED_RETRY_MS = 1000;
/** Receipts kept before the file is trimmed (each trim waits for one state write). */
const RECEIPTS_TO_KEEP = 200;
/** Dead letters kept in the state (oldest dropped first); each holds its payload for a later look. */
const DEAD_LETTERS_TO_KEEP = 100;

/**
 * Durable notifications. `notify` first writes one outbox item per interested
 * channel to the store, then a worker delivers them: per queue (a channel's room, see
 * `Channel.queueFor`) in order, retried with backoff until the channel recovers, across
 * restarts. A Webex outage during a hunt therefore loses no card, and a room that is
 * stuck holds back only itself. A refusal for good (`UndeliverableError`) moves the item
 * to the dead letters with its reason, so one bad item never blocks the ones behind it.
 * Within a queue a new incident's card goes before waiting updates of older incidents.
 *
 * Delivery is once, as far as a chat API without idempotency keys allows: a delivered
 * item's id goes to the delivery receipts (receipts.ts) before it leaves the queue, and
 * `recover()` drops the receipted items a crash left in the state. Only a crash between
 * the channel's answer and that one-line write can still repeat an item. Idempotency keys
 * stop the same notification from being queued twice (e.g. by a resumed hunt).
 */
export class Outbox implements Notifier {
  private readonly channels = new Map<string, Channel>();
  /** One delivery loop per queue ("channel:queue"). */
  private readonly running = new Map<string, Promise<void>>();
  /** Items being delivered right now (never merged into). */
  private readonly delivering = new Set<string>();
  /** See `waitingUpdates`: rebuilt whenever the outbox is another array. */
  private updateIndex: { outbox: OutboxItem[]; read: number; bySlot: Map<string, OutboxItem[]> } | undefined;
  private readonly kickedWhileRunning = new Set<string>();
  /**
   * When each queue that stopped with items left has something to do again (a retry, its head's
   * next attempt; a storm's next digest has a timer of its own). The wake-up timer is set from
   * these, not from every item's `nextAttemptAt`: news waiting for a storm's next digest is due by
   * its own time, and timing the wake-up from it re-ran every queue's loop about once a
   * millisecond until the digest (issue 14).
   */
  private readonly dueAt = new Map<string, number>();
  /** When each queue last moved (an item delivered or dead-lettered); before that, when the outbox started. */
  private readonly lastProgress = new Map<string, number>();
  private startedAt = 0;
  /** Storm state per queue (in memory: after a restart a storm is simply detected again). */
  private readonly storms = new Map<string, StormState>();
  private stormTimer: NodeJS.Timeout | undefined;
  private stormWakeAt: number | undefined;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private trimming: Promise<void> | undefined;
  /** Without delivery receipts (tests, the CLI): how far items sent as several messages got, in memory. */
  private readonly partsSent = new Map<string, number>();

  constructor(
    private readonly store: Store,
    channels: Channel[],
    private readonly clock: Clock,
    private readonly logger: Logger,
    private readonly receipts?: DeliveryReceipts,
    /** Storm mode (issue 13); without it every incident gets its own message, however many wait. */
    private readonly storm?: StormPolicy,
  ) {
    for (const c of channels) this.channels.set(c.name, c);
  }

  /** Before anything is delivered: drops the items the receipts say were delivered before a crash. */
  async recover(): Promise<void> {
    await this.requeueLegacyItems();
    const receipts = this.receipts;
    if (!receipts) return;
    const queued = new Set(this.store.get().outbox.map((i) => i.id));
    receipts.keepPartsOf(queued);
    if (receipts.size === 0) return;
    const delivered = receipts.list();
    const dropped = await this.store.update((s) => {
      const before = s.outbox.length;
      s.outbox = s.outbox.filter((i) => !receipts.has(i.id));
      return before - s.outbox.length;
    });
    if (dropped > 0) this.logger.info({ dropped }, 'outbox: items delivered just before the last stop were not sent again');
    await receipts.forget(delivered);
  }

  /** Items written before per-room queues were keyed by channel alone: put each in its room's queue. */
  private async requeueLegacyItems(): Promise<void> {
    const legacy = (i: OutboxItem) => i.key === i.channel && this.channels.get(i.channel)?.queueFor !== undefined;
    if (!this.store.get().outbox.some(legacy)) return;
    await this.store.update((s) => {
      for (const i of s.outbox) if (legacy(i)) i.key = this.queueKey(this.channels.get(i.channel)!, i.payload as Notification);
    });
  }

  private queueKey(c: Channel, n: Notification): string {
    return c.queueFor?.(n) ?? c.name;
  }

  async notify(n: Notification, dedupeKey?: string): Promise<void> {
    const key = dedupeKey ?? defaultKey(n);
    const now = this.clock.now().toISOString();
    const targets = [...this.channels.values()].filter((c) => c.accepts(n));
    const touched = new Map<string, { channel: string; key: string }>();
    const queued = await this.store.update((s) => {
      s.outboxKeys ??= [];
      if (key && s.outboxKeys.includes(key)) return false;
      if (key) {
        s.outboxKeys.push(key);
        if (s.outboxKeys.length > MAX_KEYS) s.outboxKeys.splice(0, s.outboxKeys.length - MAX_KEYS);
      }
      for (const c of targets) {
        const queue = this.queueKey(c, n);
        touched.set(laneOf({ channel: c.name, key: queue }), { channel: c.name, key: queue });
        if (n.kind === 'incident_updated' && this.mergeUpdate(s.outbox, c.name, n)) continue;
        s.outbox.push({ id: randomUUID(), channel: c.name, key: queue, payload: n, createdAt: now, attempts: 0, nextAttemptAt: now, dedupeKey: key });
      }
      return true;
    });
    if (queued) this.kickLanes(touched);
  }

  /**
   * An incident update still waiting in a channel's queue absorbs a newer one for the same
   * incident: when sightings arrive faster than the chat rate allows, the queue holds at most one
   * update per incident instead of growing without bound (and the room gets one message that
   * says how many sightings it covers). The item being delivered right now is left alone.
   */
  private mergeUpdate(outbox: OutboxItem[], channel: string, n: Extract<Notification, { kind: 'incident_updated' }>): boolean {
    const waiting = this.waitingUpdates(outbox)
      .get(updateSlot(channel, n.incident.id))
      ?.find((i) => !this.delivering.has(i.id));
    if (!waiting) return false;
    waiting.payload = mergedUpdate(waiting.payload as Extract<Notification, { kind: 'incident_updated' }>, n);
    return true;
  }

  /**
   * The waiting incident updates by channel and incident, in queue order. Searching the outbox per
   * update cost a scan of every item: a coalescing flush of 1,000 incidents against 1,000 waiting
   * updates held the event loop ~20 ms (issue 14). Items only leave the outbox by a new array
   * (`filter`) and only join it at the end (`push`), so the index is rebuilt when the array is
   * another one and otherwise only reads the items pushed since.
   */
  private waitingUpdates(outbox: OutboxItem[]): Map<string, OutboxItem[]> {
    let index = this.updateIndex;
    if (index?.outbox !== outbox) index = this.updateIndex = { outbox, read: 0, bySlot: new Map() };
    for (; index.read < outbox.length; index.read++) {
      const item = outbox[index.read]!;
      const p = item.payload as Notification;
      if (p.kind !== 'incident_updated') continue;
      const slot = updateSlot(item.channel, p.incident.id);
      const items = index.bySlot.get(slot);
      if (items) items.push(item);
      else index.bySlot.set(slot, [item]);
    }
    return index.bySlot;
  }

  /** Starts delivering what is queued (also what an earlier process left behind). */
  start(): void {
    this.stopped = false;
    this.startedAt = this.clock.now().getTime();
    this.kick();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.stormTimer) clearTimeout(this.stormTimer);
    await Promise.allSettled([...this.running.values()]);
    await this.trimming;
  }

  pending(channel?: string): number {
    return this.store.get().outbox.filter((i) => !channel || i.channel === channel).length;
  }

  /** Resolves when nothing is queued or every queued item is waiting for a retry. */
  async drain(): Promise<void> {
    while (this.running.size > 0) await Promise.allSettled([...this.running.values()]);
  }

  kick(): void {
    if (this.stopped) return;
    const lanes = new Map<string, { channel: string; key: string }>();
    for (const i of this.store.get().outbox) if (this.channels.has(i.channel)) lanes.set(laneOf(i), { channel: i.channel, key: i.key });
    // A storm's queue may be empty and still owe its "storm over" notice.
    for (const [lane, s] of this.storms) if (s.active && s.channel && s.key !== undefined) lanes.set(lane, { channel: s.channel, key: s.key });
    this.kickLanes(lanes);
  }

  /**
   * Starts the delivery loop of these queues where none runs. `notify` passes only the queues it
   * just wrote to: scanning the whole outbox per notification made a burst (a correlation backlog
   * draining at shutdown, a storm) quadratic.
   */
  private kickLanes(lanes: Map<string, { channel: string; key: string }>): void {
    if (this.stopped) return;
    for (const [lane, { channel, key }] of lanes) {
      if (this.running.has(lane)) {
        // The loop may be past its last look at the queue: it looks again when it ends.
        this.kickedWhileRunning.add(lane);
        continue;
      }
      this.dueAt.delete(lane);
      const run = this.deliverQueue(channel, key)
        .then((due) => {
          if (due !== undefined) this.dueAt.set(lane, due);
        })
        // A store that closed under a delivery (shutdown) must not become an unhandled rejection.
        .catch((err: unknown) => {
          this.logger.warn({ err, channel, queue: key }, 'outbox delivery interrupted; it resumes on the next start');
          this.dueAt.set(lane, this.clock.now().getTime() + INTERRUPTED_RETRY_MS);
        })
        .finally(() => {
          this.running.delete(lane);
          // Only this queue was written to while its loop ran: looking at every queue (a scan of the
          // whole outbox) per notification saturated the process once a flood's rungs and updates
          // queued thousands of items (issue 14).
          if (this.kickedWhileRunning.delete(lane)) this.kickLanes(new Map([[lane, { channel, key }]]));
          this.scheduleNext();
        });
      this.running.set(lane, run);
    }
  }

  /** Delivers a queue's due items in order; resolves with when it has something to do again (undefined: nothing left, only what a new notification kicks, or a storm step its timer wakes). */
  private async deliverQueue(name: string, key: string): Promise<number | undefined> {
    const channel = this.channels.get(name)!;
    const lane = `${name}:${key}`;
    while (!this.stopped) {
      const queued = this.store.get().outbox.filter((i) => i.channel === name && i.key === key);
      let candidates = queued;
      if (this.storm) {
        const news = queued.filter((i) => STORM_KINDS.has((i.payload as Notification).kind));
        const state = this.storms.get(lane) ?? { active: false };
        const now = this.clock.now().getTime();
        const step = stormStep(state, news.length, now, this.storm);
        if (step.do === 'digest' || step.do === 'end') {
          // A failed digest is retried by its own timer (deliverStormStep's wakeAt).
          if (!(await this.deliverStormStep(channel, lane, state, step, news))) return undefined;
          continue;
        }
        if (step.do === 'wait') {
          // Between digests incident news waits; hunt news and closes still go.
          candidates = queued.filter((i) => !STORM_KINDS.has((i.payload as Notification).kind));
          if (candidates.length === 0) {
            // The storm's own timer wakes the queue for the digest, whatever the other queues are doing.
            this.wakeAt(step.untilMs);
            return undefined;
          }
        }
      }
      const head = pickHead(candidates);
      if (!head) return undefined;
      const headDue = Date.parse(head.nextAttemptAt);
      if (headDue > this.clock.now().getTime()) return headDue;
      try {
        this.delivering.add(head.id);
        await channel.deliver(head.payload as Notification, this.progressOf(head.id));
        this.delivering.delete(head.id);
        this.partsSent.delete(head.id);
        // A receipt that cannot be written only widens the crash window; retrying the delivery
        // because of it would post the item twice for sure.
        await this.receipts?.record(head.id).catch((err: unknown) => this.logger.warn({ err }, 'outbox: delivery receipt not written'));
        await this.store.update((s) => {
          s.outbox = s.outbox.filter((i) => i.id !== head.id);
        }, { durable: false });
        this.lastProgress.set(lane, this.clock.now().getTime());
        if (this.receipts && this.receipts.size >= RECEIPTS_TO_KEEP && !this.trimming) {
          // Not awaited: the state write it waits for may be seconds away, and the chat must not wait.
          this.trimming = this.trimReceipts(this.receipts)
            .catch((err: unknown) => this.logger.warn({ err }, 'outbox: delivery receipts not trimmed; will retry'))
            .finally(() => (this.trimming = undefined));
        }
      } catch (err) {
        this.delivering.delete(head.id);
        if (err instanceof UndeliverableError) {
          this.partsSent.delete(head.id);
          this.receipts?.dropParts(head.id);
          await this.deadLetter(head, err.reason);
          this.lastProgress.set(lane, this.clock.now().getTime());
          continue;
        }
        const attempts = head.attempts + 1;
        const delay = retryDelayMs(attempts);
        this.logger.warn({ err, channel: name, queue: key, attempts, kind: (head.payload as Notification).kind }, 'notification not delivered; will retry');
        await this.store.update((s) => {
          const item = s.outbox.find((i) => i.id === head.id);
          if (item) {
            item.attempts = attempts;
            item.nextAttemptAt = new Date(this.clock.now().getTime() + delay).toISOString();
            item.lastError = (err as { userMessage?: string }).userMessage ?? (err as Error).message;
          }
        }, { durable: false });
        return this.clock.now().getTime() + delay;
      }
    }
    return undefined;
  }

  /**
   * Delivers a storm's digest (or its end notice) in place of the incident news it covers. Returns
   * false when the channel failed for now (the queue waits and tries again). The covered items are
   * receipted and removed together once the digest is out; news that arrives meanwhile waits for the next.
   */
  private async deliverStormStep(channel: Channel, lane: string, state: StormState, step: Extract<ReturnType<typeof stormStep>, { do: 'digest' | 'end' }>, news: OutboxItem[]): Promise<boolean> {
    const covered = step.do === 'digest' ? news : [];
    const n = step.do === 'digest' ? buildDigest(covered.map((i) => i.payload as Notification), step.phase, this.storm!.topN) : endOfStorm();
    const now = this.clock.now().getTime();
    for (const i of covered) this.delivering.add(i.id);
    try {
      await channel.deliver(n);
      if (step.do === 'digest' && step.phase === 'started') this.logger.warn({ channel: channel.name, lane, waiting: covered.length }, 'alert storm: this room gets digests until it calms down');
      if (step.do === 'end') this.logger.info({ channel: channel.name, lane }, 'alert storm over: back to one message per incident');
    } catch (err) {
      if (!(err instanceof UndeliverableError)) {
        this.logger.warn({ err, channel: channel.name, lane, phase: n.phase }, 'storm digest not delivered; will retry');
        this.storms.set(lane, { ...state, channel: channel.name, key: lane.slice(channel.name.length + 1), retryAt: now + Math.min(30_000, this.storm!.digestMs) });
        this.wakeAt(now + Math.min(30_000, this.storm!.digestMs));
        return false;
      }
      const digestItem: OutboxItem = { id: randomUUID(), channel: channel.name, key: covered[0]?.key ?? channel.name, payload: n, createdAt: new Date(now).toISOString(), attempts: 0, nextAttemptAt: new Date(now).toISOString() };
      await this.deadLetter(digestItem, err.reason);
    } finally {
      for (const i of covered) this.delivering.delete(i.id);
    }
    if (covered.length > 0) {
      const ids = new Set(covered.map((i) => i.id));
      for (const id of ids) await this.receipts?.record(id).catch((e: unknown) => this.logger.warn({ err: e }, 'outbox: delivery receipt not written'));
      await this.store.update((s) => {
        s.outbox = s.outbox.filter((i) => !ids.has(i.id));
      }, { durable: false });
    }
    this.storms.set(lane, { ...afterStep(state, step, now), channel: channel.name, key: lane.slice(channel.name.length + 1) });
    this.lastProgress.set(lane, now);
    return true;
  }

  /**
   * Where item `id`'s delivery starts and how its progress is kept: in the receipts file (a crash
   * after a card per target was posted must not post them again), in memory without one. A progress
   * line that cannot be written only widens the crash window, as a receipt's does.
   */
  private progressOf(id: string): DeliveryProgress {
    const receipts = this.receipts;
    return {
      sent: receipts ? receipts.partsSent(id) : (this.partsSent.get(id) ?? 0),
      record: async (sent) => {
        if (!receipts) {
          this.partsSent.set(id, sent);
          return;
        }
        await receipts.recordParts(id, sent).catch((err: unknown) => this.logger.warn({ err }, 'outbox: delivery progress not written'));
      },
    };
  }

  /** Kicks the queues again at `atMs` (the next digest time). */
  private wakeAt(atMs: number): void {
    if (this.stopped) return;
    if (this.stormTimer && this.stormWakeAt !== undefined && this.stormWakeAt <= atMs) return;
    if (this.stormTimer) clearTimeout(this.stormTimer);
    this.stormWakeAt = atMs;
    this.stormTimer = setTimeout(() => {
      this.stormTimer = undefined;
      this.stormWakeAt = undefined;
      this.kick();
    }, Math.max(0, atMs - this.clock.now().getTime()));
    this.stormTimer.unref();
  }

  /** Whether a queue is in storm mode now (for stats and tests). */
  inStorm(channel: string, queue: string): boolean {
    return this.storms.get(`${channel}:${queue}`)?.active ?? false;
  }

  /** Moves a refused item out of its queue into the dead letters (durably: it is the only trace left). */
  private async deadLetter(item: OutboxItem, reason: string): Promise<void> {
    const n = item.payload as Notification;
    const dead: DeadLetter = {
      id: item.id,
      channel: item.channel,
      key: item.key,
      kind: n.kind,
      ...(subjectOf(n) ? { subject: subjectOf(n) } : {}),
      reason,
      createdAt: item.createdAt,
      failedAt: this.clock.now().toISOString(),
      attempts: item.attempts + 1,
      payload: item.payload,
    };
    this.logger.error({ channel: item.channel, queue: item.key, kind: n.kind, subject: dead.subject, reason }, 'notification refused for good; kept as a dead letter (the `outbox` command lists them)');
    await this.store.update((s) => {
      s.outbox = s.outbox.filter((i) => i.id !== item.id);
      s.outboxDead ??= [];
      s.outboxDead.push(dead);
      if (s.outboxDead.length > DEAD_LETTERS_TO_KEEP) s.outboxDead.splice(0, s.outboxDead.length - DEAD_LETTERS_TO_KEEP);
    });
  }

  /** Notifications refused for good, newest last. */
  deadLetters(): DeadLetter[] {
    return [...(this.store.get().outboxDead ?? [])];
  }

  /** Per queue: depth, age of the oldest item, when it last moved, and the head's retry state (for /metrics and `outbox`). */
  queueStats(): QueueStats {
    const now = this.clock.now().getTime();
    const byLane = new Map<string, OutboxItem[]>();
    for (const i of this.store.get().outbox) {
      const items = byLane.get(laneOf(i)) ?? [];
      items.push(i);
      byLane.set(laneOf(i), items);
    }
    const queues = [...byLane.entries()].map(([lane, items]) => {
      const head = pickHead(items)!;
      const oldest = Math.min(...items.map((i) => Date.parse(i.createdAt)));
      // A queue that was empty started waiting when its oldest item arrived.
      const since = Math.max(this.lastProgress.get(lane) ?? this.startedAt, oldest);
      return {
        channel: head.channel,
        queue: head.key,
        depth: items.length,
        oldestAgeMs: Math.max(0, now - oldest),
        lastProgressAt: this.lastProgress.has(lane) ? new Date(this.lastProgress.get(lane)!).toISOString() : undefined,
        stalledForMs: Math.max(0, now - since),
        headKind: (head.payload as Notification).kind,
        headAttempts: head.attempts,
        headError: head.lastError,
        ...(this.storms.get(lane)?.active ? { storm: true } : {}),
      };
    });
    const dead = this.store.get().outboxDead ?? [];
    return { queues, deadLetters: dead.length, lastDeadLetterAt: dead.at(-1)?.failedAt };
  }

  /** For /readyz: not ready while a queue's head has not moved for `stallMs`, naming the channel and room. */
  readiness(stallMs: number): { ok: boolean; detail?: string } {
    return readinessOf(this.queueStats(), stallMs);
  }

  /** Once the state file holds the removals, their receipts are no longer needed. */
  private async trimReceipts(receipts: DeliveryReceipts): Promise<void> {
    const written = receipts.list();
    await this.store.flush();
    await receipts.forget(written);
  }

  private scheduleNext(): void {
    if (this.stopped || this.running.size > 0) return;
    if (this.dueAt.size === 0) return;
    let next = Infinity;
    for (const at of this.dueAt.values()) next = Math.min(next, at);
    const wait = Math.max(0, next - this.clock.now().getTime());
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => this.kick(), Math.min(wait, MAX_BACKOFF_MS));
    this.timer.unref();
  }
}

/** The wait before the next try after `attempts` failed ones: 1 s, doubling, at most 5 min (also the PostgreSQL delivery's). */
export function retryDelayMs(attempts: number): number {
  return Math.min(MAX_BACKOFF_MS, 1000 * 2 ** Math.min(attempts - 1, 10));
}

function updateSlot(channel: string, incidentId: string): string {
  return `${channel}\u0000${incidentId}`;
}

/** A waiting incident update absorbing a newer one for the same incident (see `Outbox.mergeUpdate`). */
export function mergedUpdate(
  earlier: Extract<Notification, { kind: 'incident_updated' }>,
  n: Extract<Notification, { kind: 'incident_updated' }>,
): Extract<Notification, { kind: 'incident_updated' }> {
  return {
    ...n,
    newSightings: earlier.newSightings + n.newSightings,
    crossed: [...new Set([...earlier.crossed, ...n.crossed])],
    replyTo: n.replyTo ?? earlier.replyTo,
  };
}

/** Not ready while a queue's head has not moved for `stallMs`, naming the channel and room (for /readyz). */
export function readinessOf(stats: QueueStats, stallMs: number): { ok: boolean; detail?: string } {
  const stuck = stats.queues.filter((q) => q.stalledForMs >= stallMs);
  if (stuck.length === 0) return { ok: true };
  const detail = stuck
    .map((q) => `${q.channel} queue "${q.queue}" has not moved for ${Math.round(q.stalledForMs / 60_000)} min (${q.depth} waiting${q.headError ? `; last error: ${q.headError}` : ''})`)
    .join('; ');
  return { ok: false, detail };
}

/** Hunt notifications are keyed by hunt, kind and threat; others are not deduplicated (also the PostgreSQL notifier's). */
export function defaultKey(n: Notification): string | undefined {
  switch (n.kind) {
    case 'hunt_started':
    case 'hunt_finished':
      return `${n.hunt.id}|${n.kind}`;
    case 'threat_targets':
    case 'threat_no_targets':
      return `${n.hunt.id}|${n.kind}|${n.threat.name}`;
    case 'not_published':
      return `not_published|${n.week}`;
    case 'talos_nothing_new':
      return `talos_nothing_new|${n.week}`;
    default:
      return undefined;
  }
}
