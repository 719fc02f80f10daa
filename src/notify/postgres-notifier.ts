import type pg from 'pg';
import type { OutboxView } from '../bot/commands/outbox-view.js';
import { systemClock, type Clock } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import type { OutboxEntry, PostgresOutboxStore } from '../store/postgres/outbox.js';
import { inTransaction, poolError, prepared } from '../store/postgres/pool.js';
import type { DeadLetter } from '../store/state.js';
import type { Channel, Notification, Notifier } from './notification.js';
import { defaultKey, mergedUpdate, readinessOf } from './outbox.js';
import { laneOf, type QueueStats } from './queues.js';

/** The LISTEN/NOTIFY channel that says "something was queued" to every instance's delivery. */
export const OUTBOX_CHANNEL = 'sightline_outbox';

/**
 * The waiting incident updates of some incidents (the coalescing lookup), first per queue and
 * incident once ordered by position; a row being sent (locked by its deliverer) is skipped.
 *
 * One probe of `outbox_waiting_updates` per incident, whatever the statistics say. The outbox is
 * a queue: it is usually empty when ANALYZE comes by, and a flood fills it within seconds, before
 * autovacuum's next visit. Planned for "one row", the plain `= ANY` form walked the whole outbox
 * by position and read every payload (6.5 ms for 20 incidents with 2,000 items waiting; the
 * two-instance ingest bench spent 2.0-2.5 s of its 20 s on it, and 0.05 s probed: 0.4 ms a call).
 */
export const WAITING_UPDATES_SQL = `SELECT w.id, w.channel, w.key, w.payload
  FROM unnest($1::text[]) AS k(incident_id)
  CROSS JOIN LATERAL (
    SELECT o.id, o.channel, o.key, o.payload, o.position FROM outbox o
    WHERE o.payload->>'kind' = 'incident_updated' AND o.payload->'incident'->>'id' = k.incident_id
    FOR UPDATE SKIP LOCKED
  ) AS w
  ORDER BY w.position`;

/**
 * Writes merged payloads (`$2`: payload by id) into the rows `$1` found by the lookup above. By
 * primary key, one probe per row: the join with jsonb_to_recordset it replaces hashed the whole
 * outbox under the same stale statistics (6.9 ms for 20 rows with 2,000 waiting).
 */
export const MERGE_UPDATES_SQL = `UPDATE outbox o SET payload = $2::jsonb -> o.id WHERE o.id = ANY($1::text[])`;

/** Dead letters kept in the snapshot (the `outbox` command shows the newest 10 and counts the rest). */
const DEAD_LETTERS_SHOWN = 100;

export interface PostgresNotifierOptions {
  pool: pg.Pool;
  store: PostgresOutboxStore;
  channels: Channel[];
  logger: Logger;
  /** For the ages in the stats (default: the system's). */
  clock?: Clock;
  /** Told after a notification committed (the local delivery wakes at once, without waiting for its NOTIFY). */
  onQueued?: () => void;
}

/**
 * The Notifier on PostgreSQL: `notify` writes one outbox row per channel that accepts the
 * notification, in that channel's queue (its room), with the lowdb outbox's dedupe key, and a
 * NOTIFY in the same transaction, so every instance's delivery wakes once it commits (and none
 * when it rolls back). `notifyIn` does the same inside a caller's transaction (correlation
 * queues an incident's card in the transaction that opens the incident).
 *
 * An incident update still waiting in its queue absorbs a newer one for the same incident, as
 * in the lowdb outbox: the queue holds at most one waiting update per incident whatever the
 * sighting rate. The row being sent right now is locked by its deliverer and skipped.
 *
 * Also the OutboxView (`outbox`, `hunt status`) and /metrics' queue stats: those callers are
 * synchronous, so they read a snapshot that `refresh()` renews (the delivery refreshes it every
 * `snapshotMs`, 5 s by default; the chat commands refresh it before they answer; `readiness` reads afresh).
 */
export class PostgresNotifier implements Notifier, OutboxView {
  private readonly channels: Channel[];
  private stats: QueueStats = { queues: [], deadLetters: 0 };
  private dead: DeadLetter[] = [];
  /** When each queue last moved as far as this instance saw: its own deliveries, or a head gone between two snapshots. */
  private readonly lastProgress = new Map<string, number>();
  /** Per queue at the last snapshot: its depth and highest position. */
  private seen = new Map<string, { channel: string; key: string; depth: number; maxpos: string }>();
  private readonly clock: Clock;
  private readonly startedAt: number;
  private refreshedAt: number | undefined;
  private refreshError: Error | undefined;
  private refreshing: Promise<void> | undefined;

  constructor(private readonly opts: PostgresNotifierOptions) {
    this.channels = opts.channels;
    this.clock = opts.clock ?? systemClock;
    this.startedAt = this.clock.now().getTime();
  }

  async notify(n: Notification, dedupeKey?: string): Promise<void> {
    await inTransaction(this.opts.pool, 'queueing a notification', (tx) => this.notifyIn(tx, n, dedupeKey));
    this.opts.onQueued?.();
  }

  /**
   * Queues `n` inside the caller's transaction: nothing is queued if it rolls back, and the
   * deliveries are woken when it commits. False when its dedupe key was queued before (on any instance).
   */
  async notifyIn(tx: pg.ClientBase, n: Notification, dedupeKey?: string): Promise<boolean> {
    const [queued] = await this.notifyManyIn(tx, [{ n, ...(dedupeKey !== undefined ? { dedupeKey } : {}) }]);
    return queued ?? false;
  }

  /**
   * Several notifications in the caller's transaction (e.g. the cards and updates of a correlation
   * batch), in order, in a few statements whatever their number, with one NOTIFY for all. Per
   * notification: false when its key was queued before (or earlier in the same batch).
   */
  async notifyManyIn(tx: pg.ClientBase, notes: ReadonlyArray<{ n: Notification; dedupeKey?: string }>): Promise<boolean[]> {
    const keys = notes.map(({ n, dedupeKey }) => dedupeKey ?? defaultKey(n));
    const queued = await this.claimKeys(tx, keys);
    type Update = Extract<Notification, { kind: 'incident_updated' }>;
    // Waiting updates of the incidents this batch updates, first per queue and incident.
    const lanesOf = (n: Notification) => this.channels.filter((c) => c.accepts(n)).map((c) => ({ channel: c.name, key: c.queueFor?.(n) ?? c.name }));
    const updated = notes.filter((x, i) => queued[i] && x.n.kind === 'incident_updated').map((x) => (x.n as Update).incident.id);
    const waiting = new Map<string, { id?: string; entry?: { payload: Notification }; payload: Update }>();
    if (updated.length > 0) {
      const { rows } = await tx.query<{ id: string; channel: string; key: string; payload: Update }>(prepared(WAITING_UPDATES_SQL, [[...new Set(updated)]]));
      for (const r of rows) {
        const at = `${laneOf(r)}|${r.payload.incident.id}`;
        if (!waiting.has(at)) waiting.set(at, { id: r.id, payload: r.payload });
      }
    }
    const inserts: Array<OutboxEntry & { dedupeKey?: string | undefined }> = [];
    const merged = new Set<{ id?: string; payload: Update }>();
    notes.forEach(({ n }, i) => {
      if (!queued[i]) return;
      for (const lane of lanesOf(n)) {
        if (n.kind !== 'incident_updated') {
          inserts.push({ ...lane, payload: n, dedupeKey: keys[i] });
          continue;
        }
        // An update still waiting (in the table, or earlier in this batch) absorbs this one.
        const at = `${laneOf(lane)}|${n.incident.id}`;
        const earlier = waiting.get(at);
        if (earlier) {
          earlier.payload = mergedUpdate(earlier.payload, n);
          if (earlier.entry) earlier.entry.payload = earlier.payload;
          else merged.add(earlier);
          continue;
        }
        const entry = { ...lane, payload: n as Notification, dedupeKey: keys[i] };
        inserts.push(entry);
        waiting.set(at, { entry, payload: n });
      }
    });
    if (merged.size > 0) {
      const byId = Object.fromEntries([...merged].map((m) => [m.id!, m.payload]));
      await tx.query(prepared(MERGE_UPDATES_SQL, [Object.keys(byId), JSON.stringify(byId)]));
    }
    // With a NOTIFY in the same statement, delivered to the listeners only when (and if) the
    // transaction commits. None when nothing new was queued: updates merged into waiting rows are
    // already there for the deliveries (with two instances most flushes only merge, and each NOTIFY
    // sent every sender of every instance to search the outbox).
    await this.opts.store.insertRows(tx, inserts, { notify: OUTBOX_CHANNEL });
    return queued;
  }

  /** notifyManyIn in the shape SharedCorrelation's `TransactionalNotifier.notifyAllIn` asks for. */
  async notifyAllIn(tx: pg.ClientBase, items: ReadonlyArray<{ notification: Notification; dedupeKey?: string }>): Promise<void> {
    await this.notifyManyIn(tx, items.map((i) => ({ n: i.notification, ...(i.dedupeKey !== undefined ? { dedupeKey: i.dedupeKey } : {}) })));
  }

  /** Which notifications are new: their key claimed now in `outbox_keys` (any instance's earlier claim wins), or none. */
  private async claimKeys(tx: pg.ClientBase, keys: ReadonlyArray<string | undefined>): Promise<boolean[]> {
    const queued = keys.map(() => true);
    const distinct = [...new Set(keys.filter((k): k is string => k !== undefined))];
    if (distinct.length === 0) return queued;
    const { rows } = await tx.query<{ dedupe_key: string }>(
      'INSERT INTO outbox_keys (dedupe_key) SELECT unnest($1::text[]) ON CONFLICT DO NOTHING RETURNING dedupe_key',
      [distinct],
    );
    const fresh = new Set(rows.map((r) => r.dedupe_key));
    keys.forEach((k, i) => {
      if (k === undefined) return;
      queued[i] = fresh.delete(k);
    });
    return queued;
  }

  /** Said by the delivery when it delivered or dead-lettered an item of a queue. */
  noteProgress(channel: string, queue: string): void {
    this.lastProgress.set(laneOf({ channel, key: queue }), this.clock.now().getTime());
  }

  /** Reads the queues and dead letters again (one refresh at a time; callers during one share it). */
  refresh(): Promise<void> {
    this.refreshing ??= this.read().finally(() => (this.refreshing = undefined));
    return this.refreshing;
  }

  private async read(): Promise<void> {
    try {
      const [stats, dead] = await Promise.all([this.opts.store.queueStats(this.clock.now()), this.opts.store.deadLetters(DEAD_LETTERS_SHOWN)]);
      const now = this.clock.now().getTime();
      // An item that left since the last snapshot means its queue moved (whichever instance sent it).
      for (const lane of await this.movedLanes()) this.lastProgress.set(lane, now);
      stats.queues = stats.queues.map((q) => {
        const lane = laneOf({ channel: q.channel, key: q.queue });
        const progress = this.lastProgress.get(lane);
        // A queue that was empty started waiting when its oldest item arrived (as in the lowdb outbox).
        const since = Math.max(progress ?? this.startedAt, now - q.oldestAgeMs);
        return { ...q, stalledForMs: Math.max(0, now - since), ...(progress !== undefined ? { lastProgressAt: new Date(progress).toISOString() } : {}) };
      });
      this.stats = { ...stats, deadLetters: Math.max(stats.deadLetters, dead.length) };
      this.dead = dead;
      this.refreshedAt = now;
      this.refreshError = undefined;
    } catch (err) {
      this.refreshError = err as Error;
      throw err;
    }
  }

  /**
   * The queues from which an item left since the last call: fewer of the rows it saw (positions up
   * to the highest it saw) are still there. Counting, not comparing heads, because `pickHead` may
   * send a newer card while an older update stays first in line.
   */
  private async movedLanes(): Promise<string[]> {
    const before = this.seen;
    try {
      const now = await this.opts.pool.query<{ channel: string; key: string; depth: number; maxpos: string }>(
        'SELECT channel, key, count(*)::int AS depth, max(position)::text AS maxpos FROM outbox GROUP BY channel, key',
      );
      this.seen = new Map(now.rows.map((r) => [laneOf(r), { channel: r.channel, key: r.key, depth: r.depth, maxpos: r.maxpos }]));
      if (before.size === 0) return [];
      const lanes = [...before.values()];
      const kept = await this.opts.pool.query<{ channel: string; key: string; kept: number }>(
        `SELECT p.channel, p.key, count(o.id)::int AS kept
         FROM unnest($1::text[], $2::text[], $3::bigint[]) AS p(channel, key, maxpos)
         LEFT JOIN outbox o ON o.channel = p.channel AND o.key = p.key AND o.position <= p.maxpos
         GROUP BY p.channel, p.key`,
        [lanes.map((l) => l.channel), lanes.map((l) => l.key), lanes.map((l) => l.maxpos)],
      );
      return kept.rows.filter((r) => r.kept < (before.get(laneOf(r))?.depth ?? 0)).map((r) => laneOf(r));
    } catch (err) {
      throw poolError(this.opts.pool, err, 'reading the outbox');
    }
  }

  /** The last snapshot's queues (for /metrics and the chat); as old as the last `refresh()`. */
  queueStats(): QueueStats {
    return this.stats;
  }

  /** The last snapshot's dead letters, newest last (at most 100; `queueStats().deadLetters` counts all). */
  deadLetters(): DeadLetter[] {
    return [...this.dead];
  }

  /** When the snapshot was last read (undefined before the first). */
  snapshotAt(): Date | undefined {
    return this.refreshedAt === undefined ? undefined : new Date(this.refreshedAt);
  }

  /**
   * For /readyz (which may wait): reads the queues afresh; not ready while a queue has not moved
   * for `stallMs` (the lowdb outbox's sentence), or when the database cannot be read (its sentence).
   */
  async readiness(stallMs: number): Promise<{ ok: boolean; detail?: string }> {
    try {
      await this.refresh();
    } catch (err) {
      return { ok: false, detail: (err as { userMessage?: string }).userMessage ?? (err as Error).message };
    }
    return readinessOf(this.stats, stallMs);
  }

  /** The last refresh's failure, if the last one failed. */
  lastRefreshError(): Error | undefined {
    return this.refreshError;
  }
}
