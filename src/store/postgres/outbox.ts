import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import type { DeliveryProgress, Notification } from '../../notify/notification.js';
import { pickHead, subjectOf, type QueueStat, type QueueStats } from '../../notify/queues.js';
import { UndeliverableError } from '../../notify/undeliverable.js';
import type { DeadLetter, OutboxItem } from '../state.js';
import { inTransaction, poolError, prepared } from './pool.js';

/**
 * The outbox on PostgreSQL: notifications waiting per queue (a channel's room), delivered by
 * whichever instance gets there first, each item by exactly one of them.
 *
 * Delivery claims a queue by locking its row in `outbox_queues` (`FOR NO KEY UPDATE SKIP LOCKED`,
 * migration 6) and keeps that lock while the channel sends, so no other instance takes the same
 * queue meanwhile: a room's second item never goes before its first, and two instances never send
 * the same item; a held queue costs another sender's search one skipped row. Queueing only takes
 * FOR KEY SHARE on that row (a trigger), which does not wait for a send. The outcome commits
 * in the same transaction: delivered (receipt written, row deleted), refused for good (dead
 * letter), or failed for now (attempts, next try). A crash (process killed, connection lost)
 * between the channel's answer and that commit rolls everything back: the item is sent again by
 * the next deliverer. That is the one repeat a chat API without idempotency keys allows, at most
 * once per crash.
 *
 * Among the queues not held and not backing off, the one whose head (lowest position) is oldest
 * goes first; which item of the queue goes is the outbox's own rule, `pickHead` (a new incident's
 * card before follow-ups). A queue with an item backing off after a failure waits as a whole until
 * that item is due (`backoff_until`, kept by triggers from the items' retry times).
 * Not here (still the lowdb Outbox's, in memory, not shared): merging a waiting incident update
 * into a newer one, and storm digests.
 */

/** One notification for one channel's queue. */
export interface OutboxEntry {
  channel: string;
  /** The queue within the channel (a room title, or the channel's name). */
  key: string;
  payload: Notification;
}

/**
 * What a deliverer reports on success; a thrown UndeliverableError means refused for good, any other throw means
 * try later. `progress`: how many of the item's messages an earlier try posted, and where each one posted now is
 * recorded (outbox_parts).
 */
export type Deliver = (item: OutboxItem, progress: DeliveryProgress) => Promise<void | { messageId?: string }>;

export type DeliveryOutcome =
  | { outcome: 'delivered'; item: OutboxItem }
  | { outcome: 'retry'; item: OutboxItem; attempts: number; error: string }
  | { outcome: 'dead'; item: OutboxItem; reason: string };

/** The due queue found was let go untouched: its channel would have made the send wait `waitMs` (see `deliverOne`). */
export interface HeldOff {
  outcome: 'held_off';
  channel: string;
  waitMs: number;
}

/** A channel wait shorter than this is waited for inside the transaction (letting go and coming back costs more). */
const HOLD_OFF_MIN_MS = 50;

export interface PostgresOutboxOptions {
  /**
   * Wait before the next try after `attempts` failures (ms). The lowdb Outbox's backoff is inline
   * in its delivery loop, not an exported rule; the caller passes it until it is.
   */
  retryDelayMs: (attempts: number) => number;
  /** Told when how far a notification got could not be recorded (a crash before it is sent in full would repeat messages). */
  onProgressLost?: (err: Error) => void;
  /** Items of a queue read to choose its head with `pickHead` (bounds the work per delivery). */
  headWindow?: number;
}

interface OutboxRow {
  id: string;
  channel: string;
  key: string;
  payload: unknown;
  created_at: Date;
  attempts: number;
  next_attempt_at: Date;
  last_error: string | null;
  dedupe_key: string | null;
}

const OUTBOX_COLUMNS = 'id, channel, key, payload, created_at, attempts, next_attempt_at, last_error, dedupe_key';

/** Follow-ups (count updates, ladder messages) are chosen among this many items of a queue. */
const HEAD_WINDOW = 200;
/** The head of a queue was failed by another worker while this one waited for its lock. */
const STALE_HEAD = Symbol('stale head');
const MAX_STALE_HEADS = 5;

export class PostgresOutboxStore {
  constructor(
    private readonly pool: pg.Pool,
    private readonly opts: PostgresOutboxOptions,
  ) {}

  /**
   * Queues a notification for each entry (one row per channel queue). With a `dedupeKey` seen
   * before — on any instance — nothing is queued and false returns: the key's primary key in
   * `outbox_keys` decides, not a read first, so two instances queueing the same key at once
   * store it once. `client` runs it inside a caller's transaction (e.g. correlation's claim).
   */
  async enqueue(entries: OutboxEntry[], dedupeKey?: string, client?: pg.ClientBase): Promise<boolean> {
    if (client) return this.enqueueIn(client, entries, dedupeKey);
    return inTransaction(this.pool, 'queueing a notification', (tx) => this.enqueueIn(tx, entries, dedupeKey));
  }

  private async enqueueIn(tx: pg.ClientBase, entries: OutboxEntry[], dedupeKey: string | undefined): Promise<boolean> {
    if (dedupeKey !== undefined) {
      const { rowCount } = await tx.query('INSERT INTO outbox_keys (dedupe_key) VALUES ($1) ON CONFLICT DO NOTHING', [dedupeKey]);
      if (rowCount === 0) return false;
    }
    if (entries.length === 0) return true;
    const rows = entries.map((e) => ({ id: randomUUID(), channel: e.channel, key: e.key, payload: e.payload }));
    // One statement, positions in the order given (FIFO per queue as the caller queued them).
    await tx.query(
      `INSERT INTO outbox (id, channel, key, payload, created_at, next_attempt_at, dedupe_key)
       SELECT e->>'id', e->>'channel', e->>'key', e->'payload', now(), now(), $2
       FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS t(e, n) ORDER BY n`,
      [JSON.stringify(rows), dedupeKey ?? null],
    );
    return true;
  }

  /**
   * Wakes every instance's delivery (NOTIFY on `channel`): said after letting a queue go that
   * another instance may have skipped while this one held it, so it does not wait for its poll.
   */
  async announce(channel: string): Promise<void> {
    await this.pool.query('SELECT pg_notify($1, $2)', [channel, '']);
  }

  /**
   * Rows as given, in order, in the caller's transaction, each with its own dedupe key — which
   * the caller has already claimed in `outbox_keys` (a batch of notifications, see PostgresNotifier).
   */
  async insertRows(tx: pg.ClientBase, rows: ReadonlyArray<OutboxEntry & { dedupeKey?: string | undefined }>, opts: { notify?: string } = {}): Promise<void> {
    if (rows.length === 0) return;
    const values = rows.map((e) => ({ id: randomUUID(), channel: e.channel, key: e.key, payload: e.payload, dedupe_key: e.dedupeKey ?? null }));
    const insert = `INSERT INTO outbox (id, channel, key, payload, created_at, next_attempt_at, dedupe_key)
         SELECT e->>'id', e->>'channel', e->>'key', e->'payload', now(), now(), e->>'dedupe_key'
         FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS t(e, n) ORDER BY n`;
    if (opts.notify === undefined) {
      await tx.query(prepared(insert, [JSON.stringify(values)]));
      return;
    }
    // `notify`: a NOTIFY on that channel in the same statement (one round trip, not two; sent when
    // the transaction commits, like any NOTIFY). A data-modifying CTE runs to its end whatever reads it.
    await tx.query(prepared(`WITH inserted AS (${insert} RETURNING 1) SELECT pg_notify($2, '') FROM (SELECT 1 FROM inserted LIMIT 1) AS one`, [JSON.stringify(values), opts.notify]));
  }

  /**
   * Delivers the head of one due queue no other instance holds; undefined when there is none.
   * The caller runs several of these at once (one per queue at most, by construction) and again
   * while they return an outcome.
   *
   * `waitMs(channel)`: how long the channel would make this send wait (its own rate limit). From
   * HOLD_OFF_MIN_MS on, the queue is let go untouched (`held_off`) instead of sent: the send holds
   * this transaction open, and an open transaction keeps PostgreSQL from pruning any row version that
   * died after it began. A burst of cards waiting for Webex's slots did that for seconds on end, and
   * counting's statements then walked ever longer version chains (docs/POSTGRES.md). Another
   * instance with slots to spare takes the queue meanwhile.
   */
  async deliverOne(deliver: Deliver, channels?: string[], waitMs?: (channel: string) => number): Promise<DeliveryOutcome | HeldOff | undefined> {
    // A head found backing off once locked is let go, and the search runs again (it then skips that queue).
    for (let tries = 0; tries < MAX_STALE_HEADS; tries++) {
      const outcome = await this.deliverHead(deliver, channels, waitMs);
      if (outcome !== STALE_HEAD) return outcome;
    }
    return undefined;
  }

  private async deliverHead(deliver: Deliver, channels?: string[], waitMs?: (channel: string) => number): Promise<DeliveryOutcome | HeldOff | undefined | typeof STALE_HEAD> {
    return inTransaction(this.pool, 'delivering a notification', async (tx): Promise<DeliveryOutcome | HeldOff | undefined | typeof STALE_HEAD> => {
      // `backing_off` is read from the queue row as locked, not from the search's snapshot: a queue whose
      // head another worker failed (and committed) just before this lock must not be sent again at once.
      // One index probe per queue row for its head; a queue another sender holds is one skipped row.
      const lock = await tx.query<{ channel: string; key: string; backing_off: boolean }>(prepared(
        `SELECT q.channel, q.key, coalesce(q.backoff_until > now(), false) AS backing_off
         FROM outbox_queues q
         CROSS JOIN LATERAL (SELECT o.position FROM outbox o WHERE o.channel = q.channel AND o.key = q.key ORDER BY o.position LIMIT 1) h
         WHERE ($1::text[] IS NULL OR q.channel = ANY($1::text[]))
           AND (q.backoff_until IS NULL OR q.backoff_until <= now())
         ORDER BY h.position
         LIMIT 1
         FOR NO KEY UPDATE OF q SKIP LOCKED`,
        [channels ?? null],
      ));
      const queue = lock.rows[0];
      if (!queue) return undefined;
      if (queue.backing_off) return STALE_HEAD;
      const wait = waitMs?.(queue.channel) ?? 0;
      if (wait >= HOLD_OFF_MIN_MS) return { outcome: 'held_off', channel: queue.channel, waitMs: wait };
      const window = await tx.query<{ id: string; kind: string }>(
        prepared(`SELECT id, payload->>'kind' AS kind FROM outbox WHERE channel = $1 AND key = $2 ORDER BY position LIMIT $3`, [
          queue.channel,
          queue.key,
          this.opts.headWindow ?? HEAD_WINDOW,
        ]),
      );
      const choice = pickHead(window.rows.map((r) => ({ id: r.id, channel: queue.channel, key: queue.key, payload: { kind: r.kind }, createdAt: '', attempts: 0, nextAttemptAt: '' })));
      // Emptied by another sender between the search's snapshot and the lock: look again.
      if (!choice) return STALE_HEAD;
      // No other sender reaches this row without the queue's lock, which this transaction holds; the
      // row lock makes the coalescing lookup (PostgresNotifier, SKIP LOCKED) leave the item being sent alone.
      const { rows } = await tx.query<OutboxRow & { parts_sent: number | null }>(
        prepared(`SELECT ${OUTBOX_COLUMNS}, (SELECT p.sent FROM outbox_parts p WHERE p.item_id = outbox.id) AS parts_sent FROM outbox WHERE id = $1 FOR UPDATE`, [choice.id]),
      );
      const item = itemOf(rows[0]!);
      try {
        const sent = await deliver(item, this.progressOf(item.id, rows[0]!.parts_sent ?? 0));
        // The receipt and the deletes in one statement (one round trip fewer per notification; same transaction, same locks).
        await tx.query(
          prepared(
            `WITH receipt AS (INSERT INTO outbox_receipts (item_id, message_id) VALUES ($1, $2) ON CONFLICT DO NOTHING),
                  parts AS (DELETE FROM outbox_parts WHERE item_id = $1)
             DELETE FROM outbox WHERE id = $1`,
            [item.id, sent?.messageId ?? null],
          ),
        );
        return { outcome: 'delivered', item };
      } catch (err) {
        if (err instanceof UndeliverableError) {
          const dead = deadLetterOf(item, err.reason);
          await tx.query(
            `INSERT INTO dead_letters (id, channel, key, kind, subject, reason, created_at, failed_at, attempts, payload)
             VALUES ($1, $2, $3, $4, $5, $6, $7, now(), $8, $9) ON CONFLICT (id) DO NOTHING`,
            [dead.id, dead.channel, dead.key, dead.kind, dead.subject ?? null, dead.reason, dead.createdAt, dead.attempts, JSON.stringify(dead.payload)],
          );
          await tx.query('WITH parts AS (DELETE FROM outbox_parts WHERE item_id = $1) DELETE FROM outbox WHERE id = $1', [item.id]);
          return { outcome: 'dead', item, reason: err.reason };
        }
        const attempts = item.attempts + 1;
        const error = (err as { userMessage?: string }).userMessage ?? (err as Error).message ?? String(err);
        await tx.query(
          `UPDATE outbox SET attempts = $2, last_error = $3, next_attempt_at = now() + make_interval(secs => $4::double precision / 1000) WHERE id = $1`,
          [item.id, attempts, error, Math.max(0, this.opts.retryDelayMs(attempts))],
        );
        return { outcome: 'retry', item, attempts, error };
      }
    });
  }

  /**
   * Progress of a notification sent as several messages, recorded on a pooled connection of its own
   * and committed at once: the sending transaction is rolled back by a crash, and the instance that
   * sends the item next must still know which messages are out. A write that fails only widens the
   * crash window (a retry would post those messages again), so it is logged, not thrown.
   */
  private progressOf(id: string, sent: number): DeliveryProgress {
    return {
      sent,
      record: async (n) => {
        await this.pool
          .query(prepared('INSERT INTO outbox_parts (item_id, sent) VALUES ($1, $2) ON CONFLICT (item_id) DO UPDATE SET sent = greatest(outbox_parts.sent, excluded.sent)', [id, n]))
          .catch((err: unknown) => this.opts.onProgressLost?.(poolError(this.pool, err, 'recording how far a notification got')));
      },
    };
  }

  /**
   * Delivers until nothing due is left that this instance can take, `concurrency` queues at a
   * time, at most `max` items (bounded: a queue refilled as fast as it drains cannot hold it forever).
   */
  async deliverDue(deliver: Deliver, opts: { concurrency?: number; max?: number; channels?: string[] } = {}): Promise<DeliveryOutcome[]> {
    const outcomes: DeliveryOutcome[] = [];
    let budget = opts.max ?? 1000;
    const worker = async (): Promise<void> => {
      while (budget > 0) {
        budget--;
        const o = await this.deliverOne(deliver, opts.channels);
        if (!o || o.outcome === 'held_off') return;
        outcomes.push(o);
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, opts.concurrency ?? 4) }, worker));
    return outcomes;
  }

  /**
   * Deletes the `outbox_queues` rows of queues left empty (a room no longer posted to); returns how
   * many. Rows are locked first (skipping a queue a sender holds, or whose new item is not committed
   * yet: it holds the row FOR KEY SHARE), then found empty by a statement that sees every item
   * committed before the lock. An item queued meanwhile waits for this commit and puts its queue's
   * row back (the insert trigger), so no waiting item is ever without its queue's row.
   */
  async pruneQueues(): Promise<number> {
    return inTransaction(this.pool, 'pruning the outbox queues', async (tx) => {
      const held = await tx.query<{ channel: string; key: string }>(
        `SELECT q.channel, q.key FROM outbox_queues q
         WHERE NOT EXISTS (SELECT 1 FROM outbox o WHERE o.channel = q.channel AND o.key = q.key)
         FOR UPDATE SKIP LOCKED`,
      );
      if (held.rows.length === 0) return 0;
      const { rowCount } = await tx.query(
        `DELETE FROM outbox_queues q USING unnest($1::text[], $2::text[]) AS l(channel, key)
         WHERE q.channel = l.channel AND q.key = l.key
           AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.channel = q.channel AND o.key = q.key)`,
        [held.rows.map((r) => r.channel), held.rows.map((r) => r.key)],
      );
      return rowCount ?? 0;
    });
  }

  /** When the next waiting item is due (to sleep until then), or undefined when nothing waits. */
  async nextDueAt(): Promise<Date | undefined> {
    const { rows } = await this.query<{ at: Date | null }>('SELECT min(next_attempt_at) AS at FROM outbox', [], 'reading the outbox');
    return rows[0]?.at ?? undefined;
  }

  /** Items waiting (in one channel, or all). */
  async pending(channel?: string): Promise<number> {
    const { rows } = await this.query<{ n: string }>('SELECT count(*) AS n FROM outbox WHERE $1::text IS NULL OR channel = $1', [channel ?? null], 'reading the outbox');
    return Number(rows[0]?.n ?? 0);
  }

  /**
   * For the admin `outbox` command and /metrics: per queue its depth, oldest item and head (the
   * item `pickHead` delivers next), and the dead letters. Progress is not tracked per queue here:
   * `stalledForMs` is how long the head has waited.
   */
  async queueStats(now = new Date()): Promise<QueueStats> {
    const { rows } = await this.query<{ channel: string; key: string; depth: string; oldest: Date }>(
      'SELECT channel, key, count(*) AS depth, min(created_at) AS oldest FROM outbox GROUP BY channel, key ORDER BY channel, key',
      [],
      'reading the outbox',
    );
    const queues: QueueStat[] = [];
    for (const q of rows) {
      const window = await this.query<OutboxRow>(
        `SELECT ${OUTBOX_COLUMNS} FROM outbox WHERE channel = $1 AND key = $2 ORDER BY position LIMIT $3`,
        [q.channel, q.key, this.opts.headWindow ?? HEAD_WINDOW],
        'reading the outbox',
      );
      const head = pickHead(window.rows.map(itemOf));
      if (!head) continue;
      queues.push({
        channel: q.channel,
        queue: q.key,
        depth: Number(q.depth),
        oldestAgeMs: Math.max(0, now.getTime() - q.oldest.getTime()),
        stalledForMs: Math.max(0, now.getTime() - Date.parse(head.createdAt)),
        headKind: (head.payload as Notification).kind,
        headAttempts: head.attempts,
        headError: head.lastError,
      });
    }
    const dead = await this.query<{ n: string; last: Date | null }>('SELECT count(*) AS n, max(failed_at) AS last FROM dead_letters', [], 'reading the dead letters');
    const last = dead.rows[0]?.last;
    return { queues, deadLetters: Number(dead.rows[0]?.n ?? 0), lastDeadLetterAt: last ? last.toISOString() : undefined };
  }

  /** The newest `limit` dead letters, newest last (as the lowdb outbox lists them). */
  async deadLetters(limit = 100): Promise<DeadLetter[]> {
    const { rows } = await this.query<{ id: string; channel: string; key: string; kind: string; subject: string | null; reason: string; created_at: Date; failed_at: Date; attempts: number; payload: unknown }>(
      'SELECT * FROM (SELECT * FROM dead_letters ORDER BY failed_at DESC, id LIMIT $1) d ORDER BY failed_at, id',
      [limit],
      'reading the dead letters',
    );
    return rows.map((r) => ({
      id: r.id,
      channel: r.channel,
      key: r.key,
      kind: r.kind,
      ...(r.subject !== null ? { subject: r.subject } : {}),
      reason: r.reason,
      createdAt: r.created_at.toISOString(),
      failedAt: r.failed_at.toISOString(),
      attempts: r.attempts,
      payload: r.payload,
    }));
  }

  /** Whether an item was delivered (its receipt), e.g. for an audit of one notification. */
  async delivered(itemId: string): Promise<boolean> {
    const { rowCount } = await this.query('SELECT 1 FROM outbox_receipts WHERE item_id = $1', [itemId], 'reading the delivery receipts');
    return (rowCount ?? 0) > 0;
  }

  private async query<R extends pg.QueryResultRow>(text: string, values: unknown[], doing: string): Promise<pg.QueryResult<R>> {
    try {
      return await this.pool.query<R>(text, values);
    } catch (err) {
      throw poolError(this.pool, err, doing);
    }
  }
}

function itemOf(r: OutboxRow): OutboxItem {
  return {
    id: r.id,
    channel: r.channel,
    key: r.key,
    payload: r.payload,
    createdAt: r.created_at.toISOString(),
    attempts: r.attempts,
    nextAttemptAt: r.next_attempt_at.toISOString(),
    ...(r.last_error !== null ? { lastError: r.last_error } : {}),
    ...(r.dedupe_key !== null ? { dedupeKey: r.dedupe_key } : {}),
  };
}

/** The same fields as the lowdb outbox's dead letter (failedAt is the database's clock, set on insert). */
function deadLetterOf(item: OutboxItem, reason: string): DeadLetter {
  const n = item.payload as Notification;
  const subject = subjectOf(n);
  return {
    id: item.id,
    channel: item.channel,
    key: item.key,
    kind: n.kind,
    ...(subject ? { subject } : {}),
    reason,
    createdAt: item.createdAt,
    failedAt: '',
    attempts: item.attempts + 1,
    payload: item.payload,
  };
}
