import type pg from 'pg';
import { beforeEach, describe, expect, it } from 'vitest';
import type { Notification } from '../../../src/notify/notification.js';
import { UndeliverableError } from '../../../src/notify/undeliverable.js';
import { pino } from 'pino';
import type { Channel } from '../../../src/notify/notification.js';
import { PostgresNotifier } from '../../../src/notify/postgres-notifier.js';
import { postgresNotifications } from '../../../src/notify/postgres-notifications.js';
import { vi } from 'vitest';
import { PostgresOutboxStore } from '../../../src/store/postgres/outbox.js';
import { PostgresSightingsLog } from '../../../src/store/postgres/sightings-log.js';
import { createPool } from '../../../src/store/postgres/pool.js';
import { hostSighting } from './fixtures.js';
import { testPostgres, useMigratedDatabase } from '../../support/postgres.js';

const server = await testPostgres();

/** Counts the round trips (client.query calls) on every connection the pool hands out from now on. */
function countRoundTrips(pool: pg.Pool): { roundTrips: () => number; texts: string[] } {
  const texts: string[] = [];
  const counted = new WeakSet<object>();
  pool.on('acquire', (client) => {
    if (counted.has(client)) return;
    counted.add(client);
    const query = client.query.bind(client) as (...args: unknown[]) => unknown;
    (client as unknown as { query: (...args: unknown[]) => unknown }).query = (...args: unknown[]) => {
      texts.push(typeof args[0] === 'string' ? args[0] : String((args[0] as { text?: string }).text));
      return query(...args);
    };
  });
  return { roundTrips: () => texts.length, texts };
}

/** Text a literal must carry intact: quotes, a backslash, a dollar quote, non-ASCII. */
const AWKWARD = `it's a "quote" \\ back\\slash $$ dollar; naïve ✓ -- not a comment`;

describe.skipIf(!server)('round trips of the hot paths (delivery, queueing, the log claim)', () => {
  const db = useMigratedDatabase(server!);
  let counter: ReturnType<typeof countRoundTrips>;
  let store: PostgresOutboxStore;
  beforeEach(async () => {
    await db.pool.query('TRUNCATE outbox, outbox_keys, outbox_receipts, dead_letters, outbox_queues');
    counter ??= countRoundTrips(db.pool);
    store = new PostgresOutboxStore(db.pool, { retryDelayMs: () => 60_000 });
  });

  const news = (room: string, text: string): Notification => ({ kind: 'hunt_failed', week: room, error: text });

  it('delivers an item in two round trips (BEGIN with the claim, the outcome with COMMIT), and an empty search in two', async () => {
    await store.enqueue([{ channel: 'webex', key: AWKWARD, payload: news('room-1', AWKWARD) }]);
    const before = counter.roundTrips();
    const sent: unknown[] = [];
    const out = await store.deliverOne(async (item) => {
      sent.push(item.payload);
      return { messageId: AWKWARD };
    });
    expect(out).toMatchObject({ outcome: 'delivered' });
    expect(sent).toEqual([news('room-1', AWKWARD)]);
    expect(counter.roundTrips() - before).toBe(2);
    const receipt = await db.pool.query<{ message_id: string }>('SELECT message_id FROM outbox_receipts');
    expect(receipt.rows).toEqual([{ message_id: AWKWARD }]);
    expect(await store.pending()).toBe(0);
    const idle = counter.roundTrips();
    expect(await store.deliverOne(async () => undefined)).toBeUndefined();
    expect(counter.roundTrips() - idle).toBe(2);
  });

  it('keeps awkward text intact in a retry and a dead letter (values travel as literals)', async () => {
    await store.enqueue([
      { channel: 'webex', key: 'room-1', payload: news('room-1', AWKWARD) },
      { channel: 'webex', key: 'room-2', payload: news('room-2', AWKWARD) },
    ]);
    const outcomes = await store.deliverDue(async (item) => {
      if (item.key === 'room-1') throw Object.assign(new Error('raw'), { userMessage: AWKWARD });
      throw new UndeliverableError(AWKWARD);
    });
    expect(outcomes.map((o) => o.outcome).sort()).toEqual(['dead', 'retry']);
    const waiting = await db.pool.query<{ attempts: number; last_error: string; wait_s: number }>(
      `SELECT attempts, last_error, extract(epoch FROM next_attempt_at - now())::float8 AS wait_s FROM outbox`,
    );
    expect(waiting.rows).toEqual([{ attempts: 1, last_error: AWKWARD, wait_s: expect.any(Number) }]);
    expect(waiting.rows[0]!.wait_s).toBeGreaterThan(30);
    const dead = await store.deadLetters();
    expect(dead).toEqual([expect.objectContaining({ key: 'room-2', reason: AWKWARD, attempts: 1, payload: news('room-2', AWKWARD) })]);
  });

  it('only sends to the channels asked for, whatever their names', async () => {
    await store.enqueue([
      { channel: AWKWARD, key: 'room-1', payload: news('room-1', 'a') },
      { channel: 'email', key: 'room-1', payload: news('room-1', 'b') },
    ]);
    const sent: string[] = [];
    await store.deliverDue(async (item) => void sent.push(item.channel), { channels: [AWKWARD] });
    expect(sent).toEqual([AWKWARD]);
    expect(await store.pending('email')).toBe(1);
  });

  it('queues a notification that merges with nothing in one round trip: once per key, one row per accepting channel, NOTIFY on commit', async () => {
    const room = (name: string): Channel => ({ name, accepts: (n) => n.kind === 'hunt_failed', queueFor: () => AWKWARD, deliver: async () => undefined });
    const notifier = new PostgresNotifier({ pool: db.pool, store, channels: [room('webex'), room('email'), { ...room('x'), accepts: () => false }], logger: pino({ level: 'silent' }) });
    const listener = await db.pool.connect();
    const woken: string[] = [];
    listener.on('notification', (m) => woken.push(m.channel));
    await listener.query('LISTEN sightline_outbox');
    try {
      const before = counter.roundTrips();
      await notifier.notify(news('room-1', AWKWARD), AWKWARD);
      expect(counter.roundTrips() - before).toBe(1);
      await notifier.notify(news('room-1', 'again'), AWKWARD); // the same key: nothing more
      await notifier.notify({ kind: 'incident_closed', incident: { id: 'i-1' } } as unknown as Notification); // no channel takes it
      const rows = await db.pool.query<{ channel: string; key: string; payload: unknown; dedupe_key: string }>('SELECT channel, key, payload, dedupe_key FROM outbox ORDER BY channel');
      expect(rows.rows).toEqual([
        { channel: 'email', key: AWKWARD, payload: news('room-1', AWKWARD), dedupe_key: AWKWARD },
        { channel: 'webex', key: AWKWARD, payload: news('room-1', AWKWARD), dedupe_key: AWKWARD },
      ]);
      await db.pool.query('SELECT 1'); // the notifications arrive before the next answer on the listener's side
      await listener.query('SELECT 1');
      expect(woken.length).toBeGreaterThanOrEqual(1);
    } finally {
      await listener.query('UNLISTEN *');
      listener.release();
    }
  });

  it("claims a batch of the sightings log with BEGIN and COMMIT folded in: apply's statements plus two round trips", async () => {
    await db.pool.query('TRUNCATE sightings');
    const log = new PostgresSightingsLog(db.pool);
    await log.append(Array.from({ length: 5 }, (_, i) => hostSighting(`s-${i}`, 'ws-042')));
    const before = counter.roundTrips();
    const out = await log.claim(3, async (rows) => rows.map((r) => r.id), (ids) => (ids.includes('s-1') ? [2] : []));
    expect(out).toEqual({ claimed: 3, result: ['s-0', 's-1', 's-2'] });
    expect(counter.roundTrips() - before).toBe(2);
    const left = await db.pool.query<{ id: string }>('SELECT id FROM sightings WHERE applied_at IS NULL ORDER BY seq');
    expect(left.rows.map((r) => r.id)).toEqual(['s-1', 's-3', 's-4']);
    await db.pool.query('UPDATE sightings SET applied_at = now()');
    const empty = counter.roundTrips();
    expect(await log.claim(3, async () => 'nothing')).toEqual({ claimed: 0 });
    expect(counter.roundTrips() - empty).toBe(2);
  });

  it('sends a burst into one room without a search per item by the other senders (they would find the room held)', async () => {
    const sent: string[] = [];
    const channel: Channel = { name: 'webex', accepts: () => true, queueFor: () => 'Incidents', deliver: async (n) => void sent.push((n as { error: string }).error) };
    const { notifier, delivery } = postgresNotifications({ pool: db.pool, url: db.url, channels: [channel], logger: pino({ level: 'silent' }), concurrency: 4 });
    for (let i = 0; i < 20; i++) await notifier.notify(news('room-1', `m${i}`));
    const searches = () => counter.texts.filter((t) => t.startsWith('BEGIN; WITH q AS')).length;
    const before = searches();
    delivery.start();
    try {
      await vi.waitFor(() => expect(sent).toHaveLength(20), { timeout: 10_000, interval: 20 });
      await delivery.idle();
    } finally {
      await delivery.stop();
    }
    expect(sent).toEqual(Array.from({ length: 20 }, (_, i) => `m${i}`));
    // 20 that found an item, and a few that found none (the first wake's senders, the last look):
    // it was about one empty search per item.
    expect(searches() - before).toBeLessThan(20 + 8);
  });

  it("answers a stream of another instance's NOTIFYs with a few searches while the room is held, not one each", async () => {
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    const sentByA: string[] = [];
    const slow: Channel = { name: 'webex', accepts: () => true, queueFor: () => 'Incidents', deliver: async (n) => void (await released, sentByA.push((n as { error: string }).error)) };
    const idle: Channel = { ...slow, deliver: async () => undefined };
    const poolB = createPool({ url: db.url });
    const b = countRoundTrips(poolB);
    const a = postgresNotifications({ pool: db.pool, url: db.url, channels: [slow], logger: pino({ level: 'silent' }), concurrency: 4 });
    const other = postgresNotifications({ pool: poolB, url: db.url, channels: [idle], logger: pino({ level: 'silent' }), concurrency: 4, pollMs: 60_000 });
    try {
      await a.notifier.notify(news('room-1', 'first'));
      a.delivery.start();
      await vi.waitFor(async () => expect((await db.pool.query(`SELECT 1 FROM pg_stat_activity WHERE state = 'idle in transaction'`)).rowCount).toBeGreaterThan(0), { timeout: 5_000 });
      other.delivery.start();
      await vi.waitFor(() => expect(other.delivery.listening).toBe(true), { timeout: 5_000 });
      const searches = () => b.texts.filter((t) => t.startsWith('BEGIN; WITH q AS')).length;
      const before = searches();
      const t0 = Date.now();
      // A queues 30 items into the room it is sending to, each its own commit and NOTIFY.
      for (let i = 0; i < 30; i++) await a.notifier.notify(news('room-1', `m${i}`));
      await new Promise((r) => setTimeout(r, 300));
      // At most one search per quiet time (100 ms) and the few at its edges, however many NOTIFYs
      // came meanwhile; without the quiet time it was one per NOTIFY batch (14 where this gave 4).
      const quietTimes = Math.ceil((Date.now() - t0) / 100);
      expect(searches() - before).toBeLessThanOrEqual(Math.min(quietTimes + 3, 29));
    } finally {
      release();
      await Promise.all([a.delivery.stop(), other.delivery.stop()]);
      await poolB.end();
    }
  });
});
