import pg from 'pg';
import type { Logger } from '../core/logger.js';
import type { Deliver, DeliveryOutcome, HeldOff, PostgresOutboxStore } from '../store/postgres/outbox.js';
import { poolError } from '../store/postgres/pool.js';
import type { Channel, Notification } from './notification.js';
import { OUTBOX_CHANNEL, type PostgresNotifier } from './postgres-notifier.js';
import { subjectOf } from './queues.js';

export interface PostgresDeliveryOptions {
  /** The instance's pool (the store's): due times are read with it. */
  pool: pg.Pool;
  /** DATABASE_URL: LISTEN needs a session of its own, never a pooled one. */
  url: string;
  store: PostgresOutboxStore;
  channels: Channel[];
  logger: Logger;
  /** Told of each delivered or dead-lettered item, and refreshed every `snapshotMs` (the OutboxView's snapshot). */
  notifier?: PostgresNotifier;
  /** Queues sent to at once by this instance (each queue by one sender at a time, in order: the store's). Default 4. */
  concurrency?: number;
  /** Looks for due items at least this often, whatever it heard (a NOTIFY lost with its connection, a queue a crashed instance let go). Default 10 s. */
  pollMs?: number;
  /** How often the OutboxView's snapshot is read again. Default 5 s. */
  snapshotMs?: number;
  /** How often the rows of queues left empty are deleted (`pruneQueues`). Default 10 min. */
  pruneMs?: number;
  /** Shown in pg_stat_activity for the LISTEN session. */
  applicationName?: string;
}

const DEFAULT_CONCURRENCY = 4;
const DEFAULT_POLL_MS = 10_000;
const DEFAULT_SNAPSHOT_MS = 5_000;
const DEFAULT_PRUNE_MS = 600_000;
/** Waits between tries while PostgreSQL cannot be reached: 1 s, doubling, at most 30 s. */
const OUTAGE_RETRY_MS = [1_000, 2_000, 4_000, 8_000, 16_000, 30_000] as const;
/** Pause after a search that found nothing although items were queued meanwhile (a chat message waits at most this much longer). */
const EMPTY_SEARCH_PAUSE_MS = 100;
/** Shortest wait before looking again (an item due "now" may be held by another instance's sender). */
const MIN_WAIT_MS = 50;
/** Longest a sender sleeps at once for a channel's rate limit before it looks again (and sees `stop()`). */
const HELD_OFF_PAUSE_MAX_MS = 1_000;

/**
 * This instance's share of the outbox on PostgreSQL: it sends what is due, to this instance's
 * channels, while other instances do the same from the same tables. The store gives each queue
 * (a Webex room, e-mail) to one sender at a time and keeps its order; here, up to `concurrency`
 * queues are sent to at once, so a slow or failing room holds back only itself.
 *
 * Woken by a local `wake()` (the notifier's `onQueued`), by NOTIFY from any instance (sent when
 * the queueing transaction commits), by a timer at the next item due (a retry after a failure,
 * with the lowdb outbox's backoff: the store is given `retryDelayMs`), and by a poll every
 * `pollMs`. A channel's refusal for good (`UndeliverableError`) becomes a dead letter; any other
 * failure a retry. When PostgreSQL fails, the log says so once per outage (the StoreError's
 * sentence) and again when it is back; delivery retries meanwhile.
 *
 * `channel.deliver` is the channel's own: WebexChannel's `onPosted` (the card's message id of an
 * incident_opened) reaches its hook as on lowdb.
 */
export class PostgresDelivery {
  private readonly channels = new Map<string, Channel>();
  private readonly names: string[];
  private readonly concurrency: number;
  private readonly pollMs: number;
  private readonly workers = new Set<Promise<void>>();
  /** Bumped by every wake: a sender that found nothing looks again if a wake came meanwhile. */
  private wakes = 0;
  private stopped = true;
  private timer: NodeJS.Timeout | undefined;
  private snapshotTimer: NodeJS.Timeout | undefined;
  private pruneTimer: NodeJS.Timeout | undefined;
  private listener: pg.Client | undefined;
  private listenTimer: NodeJS.Timeout | undefined;
  private outage: { since: number; tries: number } | undefined;
  private scheduling: Promise<void> | undefined;
  /** Channels whose own rate limit had no slot, and until when (deliverOne's `held_off`). */
  private readonly heldUntil = new Map<string, number>();

  constructor(private readonly opts: PostgresDeliveryOptions) {
    for (const c of opts.channels) this.channels.set(c.name, c);
    this.names = [...this.channels.keys()];
    this.concurrency = Math.max(1, opts.concurrency ?? DEFAULT_CONCURRENCY);
    this.pollMs = opts.pollMs ?? DEFAULT_POLL_MS;
  }

  /** Starts listening and delivering what is due (also what a stopped or crashed instance left). */
  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    void this.listen();
    const snapshotMs = this.opts.snapshotMs ?? DEFAULT_SNAPSHOT_MS;
    if (this.opts.notifier) {
      const refresh = () => void this.opts.notifier?.refresh().catch(() => undefined);
      refresh();
      this.snapshotTimer = setInterval(refresh, snapshotMs);
      this.snapshotTimer.unref();
    }
    // A queue row costs the head search one index probe: rooms no longer posted to do not stay.
    this.pruneTimer = setInterval(() => void this.opts.store.pruneQueues().catch(() => undefined), this.opts.pruneMs ?? DEFAULT_PRUNE_MS);
    this.pruneTimer.unref();
    this.wake();
  }

  /** Takes no more items; resolves when the sends in flight have finished (and their outcome committed). */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    clearTimeout(this.listenTimer);
    clearInterval(this.snapshotTimer);
    clearInterval(this.pruneTimer);
    const listener = this.listener;
    this.listener = undefined;
    await this.idle();
    await this.scheduling;
    clearTimeout(this.timer);
    await listener?.end().catch(() => undefined);
  }

  /** Something may be due: look now. */
  wake(): void {
    if (this.stopped) return;
    this.wakes++;
    if (this.workers.size < this.concurrency) this.spawn();
  }

  /** Resolves when no send is in flight or being looked for (items backing off may still wait). */
  async idle(): Promise<void> {
    for (let rounds = 0; this.workers.size > 0 && rounds < 10_000; rounds++) await Promise.allSettled([...this.workers]);
  }

  /** Whether the LISTEN session is up (without it, the poll alone finds other instances' items). */
  get listening(): boolean {
    return this.listener !== undefined;
  }

  private spawn(): void {
    const run: Promise<void> = this.work().finally(() => {
      this.workers.delete(run);
      // Also while other senders are busy (a slow room): a retry due elsewhere must not wait for them.
      this.afterIdle();
    });
    this.workers.add(run);
  }

  private async work(): Promise<void> {
    while (!this.stopped) {
      const seen = this.wakes;
      const open = this.channelsWithSlots();
      let outcome: DeliveryOutcome | HeldOff | undefined;
      try {
        outcome = open.length > 0 ? await this.opts.store.deliverOne(this.deliver, open, this.channelWaitMs) : undefined;
      } catch (err) {
        this.failed(err);
        return;
      }
      this.reachable();
      if (outcome?.outcome === 'held_off') {
        // The channel's own limit has no slot yet: this instance's senders leave its queues until then
        // and send the other channels' meanwhile. Another instance that found this queue locked while it
        // was being let go went idle: wake it, or the queue waits for its poll (up to `pollMs`).
        this.heldUntil.set(outcome.channel, Date.now() + outcome.waitMs);
        this.opts.store.announce(OUTBOX_CHANNEL).catch((err: unknown) => this.opts.logger.debug({ err }, 'outbox: could not wake the other instances; they look again at their next poll'));
        continue;
      }
      if (outcome) {
        this.report(outcome);
        // There was work: another queue may have some too.
        if (this.workers.size < this.concurrency && !this.stopped) this.spawn();
        continue;
      }
      if (await this.waitForSlot()) continue;
      if (this.wakes === seen) return;
      // Woken while it looked, and found nothing it could take (the heads it found are held by other
      // senders): under a burst of queued items, looking again at once would search the outbox back
      // to back (the ingest profile showed that search as PostgreSQL's main CPU with two instances).
      await new Promise((r) => setTimeout(r, EMPTY_SEARCH_PAUSE_MS));
    }
  }

  private readonly channelWaitMs = (name: string): number => this.channels.get(name)?.waitMs?.() ?? 0;

  /** This instance's channels whose rate limit has a slot (as last seen: see `heldUntil`). */
  private channelsWithSlots(): string[] {
    const now = Date.now();
    for (const [name, until] of this.heldUntil) if (until <= now) this.heldUntil.delete(name);
    return this.heldUntil.size === 0 ? this.names : this.names.filter((n) => !this.heldUntil.has(n));
  }

  /**
   * Nothing else to send, but a held channel's queues wait for its next slot: sleep towards it, holding
   * nothing (at most HELD_OFF_PAUSE_MAX_MS at once, so `stop()` is not held up); false when none is held.
   */
  private async waitForSlot(): Promise<boolean> {
    if (this.channelsWithSlots().length === this.names.length) return false;
    const next = Math.min(...this.heldUntil.values());
    await new Promise((r) => setTimeout(r, Math.max(MIN_WAIT_MS, Math.min(next - Date.now(), HELD_OFF_PAUSE_MAX_MS))));
    return true;
  }

  private readonly deliver: Deliver = async (item, progress) => {
    const channel = this.channels.get(item.channel);
    // Not reached: the store is asked only for this instance's channels.
    if (!channel) throw new Error(`No channel "${item.channel}" in this instance.`);
    await channel.deliver(item.payload as Notification, progress);
  };

  private report(o: DeliveryOutcome): void {
    const n = o.item.payload as Notification;
    const where = { channel: o.item.channel, queue: o.item.key, kind: n.kind };
    if (o.outcome === 'retry') {
      this.opts.logger.warn({ ...where, attempts: o.attempts, err: o.error }, 'notification not delivered; will retry');
      return;
    }
    if (o.outcome === 'dead') {
      this.opts.logger.error({ ...where, subject: subjectOf(n), reason: o.reason }, 'notification refused for good; kept as a dead letter (the `outbox` command lists them)');
    }
    this.opts.notifier?.noteProgress(o.item.channel, o.item.key);
  }

  /** Once per outage: the StoreError's sentence. */
  private failed(err: unknown): void {
    if (this.stopped) return;
    if (!this.outage) {
      this.outage = { since: Date.now(), tries: 0 };
      const e = err as { userMessage?: string; message?: string };
      this.opts.logger.error({ err }, `outbox delivery paused: ${e.userMessage ?? e.message ?? String(err)} Retrying.`);
    }
    this.outage.tries++;
  }

  private reachable(): void {
    if (!this.outage) return;
    this.opts.logger.info({ downForMs: Date.now() - this.outage.since }, 'outbox delivery: PostgreSQL answers again; delivering');
    this.outage = undefined;
  }

  /** A sender found nothing more: sleep until the next item is due, the poll, or (in an outage) the next try. */
  private afterIdle(): void {
    if (this.stopped) return;
    this.scheduling = this.nextWait().then((ms) => {
      if (this.stopped) return;
      clearTimeout(this.timer);
      this.timer = setTimeout(() => this.wake(), ms);
      this.timer.unref();
    });
  }

  private async nextWait(): Promise<number> {
    if (this.outage) return OUTAGE_RETRY_MS[Math.min(this.outage.tries - 1, OUTAGE_RETRY_MS.length - 1)]!;
    const poll = this.listening ? this.pollMs : Math.min(this.pollMs, 2_000);
    try {
      // Due later than now: an item due already sits in a queue another instance is sending (it moves on by itself).
      const { rows } = await this.opts.pool.query<{ ms: number | null }>(
        `SELECT (extract(epoch FROM min(next_attempt_at) - now()) * 1000)::float8 AS ms FROM outbox WHERE next_attempt_at > now() AND channel = ANY($1::text[])`,
        [this.names],
      );
      const ms = rows[0]?.ms;
      return ms === null || ms === undefined ? poll : Math.max(MIN_WAIT_MS, Math.min(poll, Math.ceil(ms)));
    } catch (err) {
      this.failed(poolError(this.opts.pool, err, 'reading the outbox'));
      return OUTAGE_RETRY_MS[0];
    }
  }

  /** LISTEN on a session of its own; reconnects (and looks for due items) when it drops. */
  private async listen(): Promise<void> {
    if (this.stopped || this.listener) return;
    const client = new pg.Client({
      connectionString: this.opts.url,
      application_name: this.opts.applicationName ?? 'sightline-outbox-listen',
      connectionTimeoutMillis: 5_000,
      keepAlive: true,
    });
    let lost = false;
    const drop = () => {
      if (lost) return;
      lost = true;
      if (this.listener === client) this.listener = undefined;
      void client.end().catch(() => undefined);
      if (this.stopped) return;
      clearTimeout(this.listenTimer);
      this.listenTimer = setTimeout(() => void this.listen(), 2_000);
      this.listenTimer.unref();
    };
    client.on('error', drop);
    client.on('end', drop);
    client.on('notification', () => this.wake());
    try {
      await client.connect();
      await client.query(`LISTEN ${OUTBOX_CHANNEL}`);
    } catch {
      // The delivery's own queries report the outage; this only tries again.
      drop();
      return;
    }
    if (this.stopped || lost) {
      await client.end().catch(() => undefined);
      return;
    }
    this.listener = client;
    // Whatever was queued while not listening.
    this.wake();
  }
}
