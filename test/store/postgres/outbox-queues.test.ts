import type pg from 'pg';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import type { Notification } from '../../../src/notify/notification.js';
import { UndeliverableError } from '../../../src/notify/undeliverable.js';
import { migrate } from '../../../src/store/postgres/migrate.js';
import { MIGRATIONS } from '../../../src/store/postgres/migrations/index.js';
import { PostgresOutboxStore, type Deliver } from '../../../src/store/postgres/outbox.js';
import { createPool, inTransaction } from '../../../src/store/postgres/pool.js';
import type { OutboxItem } from '../../../src/store/state.js';
import { createTestDatabase, testPostgres, useTwoInstances, type TestDatabase } from '../../support/postgres.js';

const server = await testPostgres();

function news(room: string, n: number): Notification {
  return { kind: 'hunt_failed', week: room, error: `message ${n}` };
}
const numberOf = (item: OutboxItem) => Number((item.payload as { error: string }).error.replace('message ', ''));

/** A send that does not finish until released: the queue stays held by its sender meanwhile. */
function heldSend(): { deliver: Deliver; started: Promise<OutboxItem>; release: () => void } {
  let release!: () => void;
  let started!: (item: OutboxItem) => void;
  const gate = new Promise<void>((r) => (release = r));
  const startedP = new Promise<OutboxItem>((r) => (started = r));
  return {
    deliver: async (item) => {
      started(item);
      await gate;
    },
    started: startedP,
    release,
  };
}

/** Every queue with waiting items has its row, and each row's backoff is its failed items' latest retry time. */
async function inconsistencies(pool: pg.Pool): Promise<unknown[]> {
  const { rows } = await pool.query(
    `SELECT coalesce(o.channel, q.channel) AS channel, coalesce(o.key, q.key) AS key, q.channel IS NOT NULL AS has_row,
            o.backoff AS expected, q.backoff_until AS actual
     FROM (SELECT channel, key, max(next_attempt_at) FILTER (WHERE attempts > 0) AS backoff FROM outbox GROUP BY channel, key) o
     FULL JOIN outbox_queues q ON q.channel = o.channel AND q.key = o.key
     WHERE q.channel IS NULL OR (o.channel IS NOT NULL AND o.backoff IS DISTINCT FROM q.backoff_until)
        OR (o.channel IS NULL AND q.backoff_until > now())`,
  );
  return rows;
}

describe.skipIf(!server)('the outbox queues on PostgreSQL (outbox_queues, migration 6)', () => {
  const pools = useTwoInstances(server!, ['queues-a', 'queues-b']);
  let a: PostgresOutboxStore;
  let b: PostgresOutboxStore;
  beforeEach(async () => {
    await pools.a.query('TRUNCATE outbox, outbox_keys, outbox_receipts, dead_letters');
    a = new PostgresOutboxStore(pools.a, { retryDelayMs: () => 60_000 });
    b = new PostgresOutboxStore(pools.b, { retryDelayMs: () => 60_000 });
  });

  it('never lets two senders hold one queue: while A sends room-1, B takes nothing from it', async () => {
    await a.enqueue([{ channel: 'webex', key: 'room-1', payload: news('room-1', 0) }]);
    await a.enqueue([{ channel: 'webex', key: 'room-1', payload: news('room-1', 1) }]);
    const held = heldSend();
    const sending = a.deliverOne(held.deliver);
    expect(numberOf(await held.started)).toBe(0);
    const sentByB: number[] = [];
    expect(await b.deliverOne(async (item) => void sentByB.push(numberOf(item)))).toBeUndefined();
    expect(await b.deliverDue(async (item) => void sentByB.push(numberOf(item)))).toEqual([]);
    held.release();
    expect(await sending).toMatchObject({ outcome: 'delivered' });
    // Released: the second item goes, after the first.
    expect(await b.deliverDue(async (item) => void sentByB.push(numberOf(item)))).toHaveLength(1);
    expect(sentByB).toEqual([1]);
  });

  it("delivers another queue's items while one queue is held, and queueing into the held queue does not wait for its send", async () => {
    await a.enqueue([{ channel: 'webex', key: 'busy', payload: news('busy', 0) }]);
    for (let n = 0; n < 5; n++) await a.enqueue([{ channel: 'webex', key: 'free', payload: news('free', n) }]);
    const held = heldSend();
    const sending = a.deliverOne(held.deliver);
    await held.started;
    // The held queue's row is locked by the send; queueing only shares it (would hang here otherwise).
    await b.enqueue([{ channel: 'webex', key: 'busy', payload: news('busy', 1) }]);
    const sent: Array<[string, number]> = [];
    const out = await b.deliverDue(async (item) => void sent.push([item.key, numberOf(item)]), { concurrency: 2 });
    expect(out).toHaveLength(5);
    expect(sent).toEqual([0, 1, 2, 3, 4].map((n) => ['free', n]));
    held.release();
    await sending;
    await b.deliverDue(async (item) => void sent.push([item.key, numberOf(item)]));
    expect(sent.at(-1)).toEqual(['busy', 1]);
  });

  it('keeps the queues table in step through enqueue, delivery, failure, dead letter and pruning', async () => {
    const rooms = ['r0', 'r1', 'r2', 'r3'];
    for (let n = 0; n < 3; n++) await a.enqueue(rooms.map((room) => ({ channel: 'webex', key: room, payload: news(room, n) })));
    await a.enqueue([{ channel: 'email', key: 'email', payload: news('email', 0) }]);
    expect(await inconsistencies(pools.a)).toEqual([]);
    expect((await pools.a.query('SELECT channel, key, backoff_until FROM outbox_queues ORDER BY channel, key')).rows).toEqual([
      { channel: 'email', key: 'email', backoff_until: null },
      ...rooms.map((key) => ({ channel: 'webex', key, backoff_until: null })),
    ]);
    // r1 fails (backs off), r2's first item is refused for good, the rest is delivered.
    const outcomes = await b.deliverDue(async (item) => {
      if (item.key === 'r1') throw new Error('Webex answered 503');
      if (item.key === 'r2' && numberOf(item) === 0) throw new UndeliverableError('Webex refused the card (400).');
    });
    expect(outcomes.filter((o) => o.outcome === 'retry')).toHaveLength(1);
    expect(outcomes.filter((o) => o.outcome === 'dead')).toHaveLength(1);
    expect(await inconsistencies(pools.a)).toEqual([]);
    const r1 = await pools.a.query<{ backoff: boolean; waiting: number }>(
      `SELECT q.backoff_until = (SELECT next_attempt_at FROM outbox WHERE key = 'r1' AND attempts = 1) AS backoff,
              (SELECT count(*)::int FROM outbox WHERE key = 'r1') AS waiting
       FROM outbox_queues q WHERE key = 'r1'`,
    );
    expect(r1.rows).toEqual([{ backoff: true, waiting: 3 }]);
    // Nothing else due: r1 waits as a whole.
    expect(await a.deliverDue(async () => undefined)).toEqual([]);
    // An operator makes the retry due now: the queue's backoff follows (trigger), r1 drains in order.
    await pools.a.query(`UPDATE outbox SET next_attempt_at = now() WHERE key = 'r1'`);
    expect(await inconsistencies(pools.a)).toEqual([]);
    const r1Sent: number[] = [];
    await a.deliverDue(async (item) => void r1Sent.push(numberOf(item)));
    expect(r1Sent).toEqual([0, 1, 2]);
    expect(await a.pending()).toBe(0);
    expect(await inconsistencies(pools.a)).toEqual([]);
    // Empty queues keep their rows until pruned; pruning takes every empty, unheld one.
    expect(await b.pruneQueues()).toBe(5);
    expect((await pools.a.query('SELECT count(*)::int AS n FROM outbox_queues')).rows).toEqual([{ n: 0 }]);
    // A queue pruned and used again gets its row back.
    await b.enqueue([{ channel: 'webex', key: 'r0', payload: news('r0', 9) }]);
    expect(await inconsistencies(pools.a)).toEqual([]);
    expect(await a.deliverDue(async () => undefined)).toHaveLength(1);
  });

  it('prunes an empty queue without waiting for a send in progress, and not a queue whose new item is not committed yet', async () => {
    await a.enqueue([
      { channel: 'webex', key: 'idle', payload: news('idle', 0) },
      { channel: 'webex', key: 'late', payload: news('late', 0) },
    ]);
    await a.deliverDue(async () => undefined);
    const held = heldSend();
    await a.enqueue([{ channel: 'webex', key: 'held', payload: news('held', 0) }]);
    const sending = a.deliverOne(held.deliver);
    await held.started;
    // Queue 'late' (empty) gets an item in a transaction still open while the prune runs.
    let commit!: () => void;
    const open = new Promise<void>((r) => (commit = r));
    let queued!: () => void;
    const isQueued = new Promise<void>((r) => (queued = r));
    const lateTx = inTransaction(pools.a, 'a test', async (tx) => {
      await a.enqueue([{ channel: 'webex', key: 'late', payload: news('late', 1) }], undefined, tx);
      queued();
      await open;
    });
    await isQueued;
    let pruned: number;
    try {
      // Would hang here if the prune waited for the send or for the open transaction.
      pruned = await b.pruneQueues();
    } finally {
      commit();
      await lateTx;
      held.release();
    }
    expect(pruned).toBe(1);
    const left = await pools.a.query<{ key: string }>('SELECT key FROM outbox_queues ORDER BY key');
    expect(left.rows.map((r) => r.key)).toEqual(['held', 'late']);
    expect(await sending).toMatchObject({ outcome: 'delivered' });
    expect(await inconsistencies(pools.a)).toEqual([]);
    const sent: string[] = [];
    await b.deliverDue(async (item) => void sent.push(`${item.key}/${numberOf(item)}`));
    expect(sent).toEqual(['late/1']);
  });

  it('finds waiting updates of an incident for coalescing by index', async () => {
    const { rows } = await inTransaction(pools.a, 'a test', async (tx) => {
      await tx.query('SET LOCAL enable_seqscan = off');
      return tx.query<{ 'QUERY PLAN': string }>(
        `EXPLAIN SELECT id, channel, key, payload FROM outbox
         WHERE payload->>'kind' = 'incident_updated' AND payload->'incident'->>'id' = ANY($1::text[])
         ORDER BY position FOR UPDATE SKIP LOCKED`,
        [['inc-1']],
      );
    });
    expect(rows.map((r) => r['QUERY PLAN']).join('\n')).toContain('outbox_waiting_updates');
  });
});

describe.skipIf(!server)('migration 6 on a database with waiting notifications', () => {
  let db: TestDatabase | undefined;
  let pool: pg.Pool | undefined;
  afterAll(async () => {
    await pool?.end();
    await db?.drop();
  });

  it('fills outbox_queues from the waiting items (a failed one keeps its queue waiting) and delivery carries on in order', async () => {
    db = await createTestDatabase(server!);
    pool = createPool({ url: db.url, applicationName: 'queues-migration' });
    await migrate(pool, { migrations: MIGRATIONS.filter((m) => m.version <= 5) });
    const insert = (key: string, n: number, attempts: number, dueInS: number) =>
      pool!.query(
        `INSERT INTO outbox (id, channel, key, payload, created_at, attempts, next_attempt_at)
         VALUES ($1, 'webex', $2, $3, now(), $4, now() + make_interval(secs => $5))`,
        [`${key}-${n}`, key, JSON.stringify(news(key, n)), attempts, dueInS],
      );
    await insert('a-soc', 0, 0, 0);
    await insert('a-soc', 1, 0, 0);
    await insert('b-failing', 0, 2, 3_600);
    await insert('b-failing', 1, 0, 0);
    expect(await migrate(pool)).toMatchObject({ applied: MIGRATIONS.filter((m) => m.version > 5).map((m) => m.version) });
    const queues = await pool.query<{ key: string; waits: boolean }>('SELECT key, backoff_until IS NOT NULL AND backoff_until > now() AS waits FROM outbox_queues ORDER BY key');
    expect(queues.rows).toEqual([
      { key: 'a-soc', waits: false },
      { key: 'b-failing', waits: true },
    ]);
    expect(await inconsistencies(pool)).toEqual([]);
    const store = new PostgresOutboxStore(pool, { retryDelayMs: () => 60_000 });
    const sent: string[] = [];
    await store.deliverDue(async (item) => void sent.push(item.id));
    expect(sent).toEqual(['a-soc-0', 'a-soc-1']);
    await pool.query(`UPDATE outbox SET next_attempt_at = now() WHERE key = 'b-failing'`);
    await store.deliverDue(async (item) => void sent.push(item.id));
    expect(sent).toEqual(['a-soc-0', 'a-soc-1', 'b-failing-0', 'b-failing-1']);
  });
});
