import { randomUUID } from 'node:crypto';
import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import type { OutboxItem } from '../store/state.js';
import type { Store } from '../store/store.js';
import type { Channel, Notification, Notifier } from './notification.js';
import type { DeliveryReceipts } from './receipts.js';

const MAX_KEYS = 2000;
const MAX_BACKOFF_MS = 5 * 60_000;
/** Receipts kept before the file is trimmed (each trim waits for one state write). */
const RECEIPTS_TO_KEEP = 200;

/**
 * Durable notifications. `notify` first writes one outbox item per interested
 * channel to the store, then a worker delivers them: per channel in order
 * (head-of-line), retried with backoff until the channel recovers, across
 * restarts. A Webex outage during a hunt therefore loses no card.
 *
 * Delivery is once, as far as a chat API without idempotency keys allows: a delivered
 * item's id goes to the delivery receipts (receipts.ts) before it leaves the queue, and
 * `recover()` drops the receipted items a crash left in the state. Only a crash between
 * the channel's answer and that one-line write can still repeat an item. Idempotency keys
 * stop the same notification from being queued twice (e.g. by a resumed hunt).
 */
export class Outbox implements Notifier {
  private readonly channels = new Map<string, Channel>();
  private readonly running = new Map<string, Promise<void>>();
  /** The item each channel is delivering right now (never merged into). */
  private readonly delivering = new Map<string, string>();
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private trimming: Promise<void> | undefined;

  constructor(
    private readonly store: Store,
    channels: Channel[],
    private readonly clock: Clock,
    private readonly logger: Logger,
    private readonly receipts?: DeliveryReceipts,
  ) {
    for (const c of channels) this.channels.set(c.name, c);
  }

  /** Before anything is delivered: drops the items the receipts say were delivered before a crash. */
  async recover(): Promise<void> {
    const receipts = this.receipts;
    if (!receipts || receipts.size === 0) return;
    const delivered = receipts.list();
    const dropped = await this.store.update((s) => {
      const before = s.outbox.length;
      s.outbox = s.outbox.filter((i) => !receipts.has(i.id));
      return before - s.outbox.length;
    });
    if (dropped > 0) this.logger.info({ dropped }, 'outbox: items delivered just before the last stop were not sent again');
    await receipts.forget(delivered);
  }

  async notify(n: Notification, dedupeKey?: string): Promise<void> {
    const key = dedupeKey ?? defaultKey(n);
    const now = this.clock.now().toISOString();
    const targets = [...this.channels.values()].filter((c) => c.accepts(n));
    const queued = await this.store.update((s) => {
      s.outboxKeys ??= [];
      if (key && s.outboxKeys.includes(key)) return false;
      if (key) {
        s.outboxKeys.push(key);
        if (s.outboxKeys.length > MAX_KEYS) s.outboxKeys.splice(0, s.outboxKeys.length - MAX_KEYS);
      }
      for (const c of targets) {
        if (n.kind === 'incident_updated' && this.mergeUpdate(s.outbox, c.name, n)) continue;
        s.outbox.push({ id: randomUUID(), channel: c.name, key: c.name, payload: n, createdAt: now, attempts: 0, nextAttemptAt: now, dedupeKey: key });
      }
      return true;
    });
    if (queued) this.kick();
  }

  /**
   * An incident update still waiting in a channel's queue absorbs a newer one for the same
   * incident: when sightings arrive faster than the chat rate allows, the queue holds at most one
   * update per incident instead of growing without bound (and the room gets one message that
   * says how many sightings it covers). The item being delivered right now is left alone.
   */
  private mergeUpdate(outbox: OutboxItem[], channel: string, n: Extract<Notification, { kind: 'incident_updated' }>): boolean {
    const inFlight = this.delivering.get(channel);
    const waiting = outbox.find((i) => {
      if (i.channel !== channel || i.id === inFlight) return false;
      const p = i.payload as Notification;
      return p.kind === 'incident_updated' && p.incident.id === n.incident.id;
    });
    if (!waiting) return false;
    const earlier = waiting.payload as Extract<Notification, { kind: 'incident_updated' }>;
    waiting.payload = {
      ...n,
      newSightings: earlier.newSightings + n.newSightings,
      crossed: [...new Set([...earlier.crossed, ...n.crossed])],
      replyTo: n.replyTo ?? earlier.replyTo,
    };
    return true;
  }

  /** Starts delivering what is queued (also what an earlier process left behind). */
  start(): void {
    this.stopped = false;
    this.kick();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
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
    for (const name of this.channels.keys()) {
      if (this.running.has(name)) continue;
      const run = this.deliverChannel(name)
        // A store that closed under a delivery (shutdown) must not become an unhandled rejection.
        .catch((err: unknown) => this.logger.warn({ err, channel: name }, 'outbox delivery interrupted; it resumes on the next start'))
        .finally(() => {
        this.running.delete(name);
        this.scheduleNext();
      });
      this.running.set(name, run);
    }
  }

  private async deliverChannel(name: string): Promise<void> {
    const channel = this.channels.get(name)!;
    while (!this.stopped) {
      const head = this.store.get().outbox.find((i) => i.channel === name);
      if (!head) return;
      if (Date.parse(head.nextAttemptAt) > this.clock.now().getTime()) return;
      try {
        this.delivering.set(name, head.id);
        await channel.deliver(head.payload as Notification);
        this.delivering.delete(name);
        // A receipt that cannot be written only widens the crash window; retrying the delivery
        // because of it would post the item twice for sure.
        await this.receipts?.record(head.id).catch((err: unknown) => this.logger.warn({ err }, 'outbox: delivery receipt not written'));
        await this.store.update((s) => {
          s.outbox = s.outbox.filter((i) => i.id !== head.id);
        }, { durable: false });
        if (this.receipts && this.receipts.size >= RECEIPTS_TO_KEEP && !this.trimming) {
          // Not awaited: the state write it waits for may be seconds away, and the chat must not wait.
          this.trimming = this.trimReceipts(this.receipts)
            .catch((err: unknown) => this.logger.warn({ err }, 'outbox: delivery receipts not trimmed; will retry'))
            .finally(() => (this.trimming = undefined));
        }
      } catch (err) {
        this.delivering.delete(name);
        const attempts = head.attempts + 1;
        const delay = Math.min(MAX_BACKOFF_MS, 1000 * 2 ** Math.min(attempts - 1, 10));
        this.logger.warn({ err, channel: name, attempts, kind: (head.payload as Notification).kind }, 'notification not delivered; will retry');
        await this.store.update((s) => {
          const item = s.outbox.find((i) => i.id === head.id);
          if (item) {
            item.attempts = attempts;
            item.nextAttemptAt = new Date(this.clock.now().getTime() + delay).toISOString();
            item.lastError = (err as { userMessage?: string }).userMessage ?? (err as Error).message;
          }
        }, { durable: false });
        return;
      }
    }
  }

  /** Once the state file holds the removals, their receipts are no longer needed. */
  private async trimReceipts(receipts: DeliveryReceipts): Promise<void> {
    const written = receipts.list();
    await this.store.flush();
    await receipts.forget(written);
  }

  private scheduleNext(): void {
    if (this.stopped || this.running.size > 0) return;
    const items: OutboxItem[] = this.store.get().outbox;
    if (items.length === 0) return;
    const next = Math.min(...items.map((i) => Date.parse(i.nextAttemptAt)));
    const wait = Math.max(0, next - this.clock.now().getTime());
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => this.kick(), Math.min(wait, MAX_BACKOFF_MS));
    this.timer.unref();
  }
}

/** Hunt notifications are keyed by hunt, kind and threat; others are not deduplicated. */
function defaultKey(n: Notification): string | undefined {
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
