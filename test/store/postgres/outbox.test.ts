import type pg from 'pg';
import { beforeEach, describe, expect, it } from 'vitest';
import { StoreError } from '../../../src/core/errors.js';
import type { Notification } from '../../../src/notify/notification.js';
import { UndeliverableError } from '../../../src/notify/undeliverable.js';
import type { OutboxItem } from '../../../src/store/state.js';
import { PostgresOutboxStore, type Deliver, type OutboxEntry } from '../../../src/store/postgres/outbox.js';
import { inTransaction } from '../../../src/store/postgres/pool.js';
import { testPostgres, useTwoInstances } from '../../support/postgres.js';

const server = await testPostgres();

/** A notification for room `room`, numbered `n` (hunt_failed: not a follow-up, so FIFO applies). */
function news(room: string, n: number): Notification {
  return { kind: 'hunt_failed', week: room, error: `message ${n}` };
}

function numberOf(item: OutboxItem): number {
  return Number((item.payload as { error: string }).error.replace('message ', ''));
}

const RETRY_MS = 60_000;

/** A pretend Webex: records what each room got, and whether a room ever had two sends in flight. */
class FakeRooms {
  readonly sent: Array<{ room: string; n: number; id: string; by: string }> = [];
  readonly overlaps: string[] = [];
  private readonly inFlight = new Set<string>();
  deliverer(by: string, fail?: (item: OutboxItem) => Error | undefined): Deliver {
    return async (item) => {
      const room = item.key;
      if (this.inFlight.has(room)) this.overlaps.push(room);
      this.inFlight.add(room);
      try {
        // Yield so both instances' deliveries interleave.
        await new Promise((r) => setImmediate(r));
        const err = fail?.(item);
        if (err) throw err;
        this.sent.push({ room, n: numberOf(item), id: item.id, by });
        return { messageId: `msg-${item.id}` };
      } finally {
        this.inFlight.delete(room);
      }
    };
  }
  byRoom(room: string): number[] {
    return this.sent.filter((s) => s.room === room).map((s) => s.n);
  }
}

describe.skipIf(!server)('the outbox on PostgreSQL, two instances on one database', () => {
  const pools = useTwoInstances(server!, ['outbox-a', 'outbox-b']);
  let a: PostgresOutboxStore;
  let b: PostgresOutboxStore;
  beforeEach(async () => {
    await pools.a.query('TRUNCATE outbox, outbox_keys, outbox_receipts, dead_letters, outbox_parts');
    a = new PostgresOutboxStore(pools.a, { retryDelayMs: () => RETRY_MS });
    b = new PostgresOutboxStore(pools.b, { retryDelayMs: () => RETRY_MS });
  });

  const rooms = Array.from({ length: 10 }, (_, i) => `room-${i}`);
  /** `perRoom` items per room, queued alternately by both instances, interleaved across rooms. */
  async function queueItems(perRoom: number): Promise<void> {
    for (let n = 0; n < perRoom; n++) {
      await Promise.all(rooms.map((room, r) => ((n + r) % 2 === 0 ? a : b).enqueue([{ channel: 'webex', key: room, payload: news(room, n) }])));
    }
  }

  it('delivers 200 items over 10 rooms, taken by both instances at once, each exactly once and in order per room', async () => {
    await queueItems(20);
    const fake = new FakeRooms();
    const [outA, outB] = await Promise.all([a.deliverDue(fake.deliverer('a'), { concurrency: 4 }), b.deliverDue(fake.deliverer('b'), { concurrency: 4 })]);
    expect(outA.length + outB.length).toBe(200);
    // Both did some of the work (otherwise this proves nothing about two instances).
    expect(outA.length).toBeGreaterThan(0);
    expect(outB.length).toBeGreaterThan(0);
    expect(new Set(fake.sent.map((s) => s.id)).size).toBe(200);
    expect(fake.sent).toHaveLength(200);
    for (const room of rooms) expect(fake.byRoom(room)).toEqual(Array.from({ length: 20 }, (_, n) => n));
    expect(fake.overlaps).toEqual([]);
    expect(await a.pending()).toBe(0);
    const receipts = await pools.b.query<{ n: string; with_id: string }>('SELECT count(*) AS n, count(message_id) AS with_id FROM outbox_receipts');
    expect(receipts.rows[0]).toEqual({ n: '200', with_id: '200' });
    expect(await b.delivered(fake.sent[0]!.id)).toBe(true);
  });

  it('retries a failing send later, without holding back the other rooms', async () => {
    await queueItems(3);
    const fake = new FakeRooms();
    let failures = 0;
    const flaky = fake.deliverer('a', (item) => (item.key === 'room-3' ? (failures++, new Error('Webex answered 503')) : undefined));
    const first = await a.deliverDue(flaky, { concurrency: 2 });
    expect(failures).toBe(1);
    expect(first.filter((o) => o.outcome === 'retry')).toHaveLength(1);
    for (const room of rooms) expect(fake.byRoom(room)).toEqual(room === 'room-3' ? [] : [0, 1, 2]);
    const { rows } = await pools.a.query<{ attempts: number; last_error: string | null; wait_s: number }>(
      `SELECT attempts, last_error, extract(epoch FROM next_attempt_at - now())::float8 AS wait_s FROM outbox WHERE key = 'room-3' ORDER BY position`,
    );
    expect(rows.map((r) => r.attempts)).toEqual([1, 0, 0]);
    expect(rows[0]!.last_error).toBe('Webex answered 503');
    expect(rows[0]!.wait_s).toBeGreaterThan(RETRY_MS / 1000 - 30);
    // Not due yet: neither instance sends room-3's second item before its first.
    expect(await b.deliverDue(fake.deliverer('b'))).toEqual([]);
    const stats = await b.queueStats();
    expect(stats.queues).toEqual([expect.objectContaining({ channel: 'webex', queue: 'room-3', depth: 3, headAttempts: 1, headError: 'Webex answered 503', headKind: 'hunt_failed' })]);
    // Time passes (the retry is due): the room catches up, in order.
    await pools.a.query('UPDATE outbox SET next_attempt_at = now()');
    expect(await b.deliverDue(fake.deliverer('b'))).toHaveLength(3);
    expect(fake.byRoom('room-3')).toEqual([0, 1, 2]);
  });

  it('moves a refused item to the dead letters with today\'s fields, and delivers the ones behind it', async () => {
    await queueItems(2);
    const fake = new FakeRooms();
    const refuse = fake.deliverer('a', (item) => (item.key === 'room-5' && numberOf(item) === 0 ? new UndeliverableError('Webex refused the card (400): the room is archived.') : undefined));
    const out = await a.deliverDue(refuse);
    expect(out.filter((o) => o.outcome === 'dead')).toHaveLength(1);
    expect(fake.byRoom('room-5')).toEqual([1]);
    const dead = await b.deadLetters();
    expect(dead).toEqual([
      {
        id: expect.any(String),
        channel: 'webex',
        key: 'room-5',
        kind: 'hunt_failed',
        subject: 'room-5',
        reason: 'Webex refused the card (400): the room is archived.',
        createdAt: expect.any(String),
        failedAt: expect.any(String),
        attempts: 1,
        payload: news('room-5', 0),
      },
    ]);
    expect(Date.parse(dead[0]!.failedAt)).toBeGreaterThanOrEqual(Date.parse(dead[0]!.createdAt));
    expect(await a.queueStats()).toMatchObject({ queues: [], deadLetters: 1, lastDeadLetterAt: dead[0]!.failedAt });
  });

  it('sends an item again after a crash between the send and its receipt: the one repeat per crash', async () => {
    await queueItems(2);
    const fake = new FakeRooms();
    let crashed = false;
    // Instance A "sends" room-7's first item, then dies before committing: its connection is cut.
    const crashing: Deliver = async (item, progress) => {
      await fake.deliverer('a')(item, progress);
      if (item.key === 'room-7' && !crashed) {
        crashed = true;
        await pools.b.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'outbox-a' AND state LIKE 'idle in transaction%'`);
      }
    };
    await expect(a.deliverOne(crashing, ['webex']).then(async function loop(o): Promise<unknown> {
      return o ? a.deliverOne(crashing, ['webex']).then(loop) : undefined;
    })).rejects.toBeInstanceOf(StoreError);
    expect(crashed).toBe(true);
    // The other instance delivers everything still queued, the crashed item included.
    await b.deliverDue(fake.deliverer('b'));
    expect(await b.pending()).toBe(0);
    expect(fake.byRoom('room-7')).toEqual([0, 0, 1]);
    const repeated = fake.sent.filter((s) => fake.sent.filter((t) => t.id === s.id).length > 1);
    expect(repeated.map((s) => `${s.room}/${s.n}`)).toEqual(['room-7/0', 'room-7/0']);
    for (const room of rooms.filter((r) => r !== 'room-7')) expect(fake.byRoom(room)).toEqual([0, 1]);
  });

  it('an item sent as several messages: after a crash part way, the next instance posts only the rest, and the progress leaves with the item', async () => {
    await a.enqueue([{ channel: 'webex', key: 'room-p', payload: news('room-p', 0) }]);
    const posted: string[] = [];
    /** Three messages an item; `crashAfter` kills this instance's sending transaction once that many are out. */
    const sender = (by: string, crashAfter?: number): Deliver => async (item, progress) => {
      for (let i = progress.sent; i < 3; i++) {
        posted.push(`${by}:${i + 1}`);
        if (i < 2) await progress.record(i + 1);
        if (crashAfter === i + 1) {
          await pools.b.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'outbox-a' AND state LIKE 'idle in transaction%'`);
          throw new Error('killed');
        }
      }
    };
    await expect(a.deliverOne(sender('a', 2), ['webex'])).rejects.toBeInstanceOf(StoreError);
    expect((await pools.b.query('SELECT item_id, sent FROM outbox_parts')).rows).toMatchObject([{ sent: 2 }]);
    await b.deliverDue(sender('b'));
    expect(posted).toEqual(['a:1', 'a:2', 'b:3']);
    expect(await b.pending()).toBe(0);
    expect((await pools.b.query('SELECT count(*)::int AS n FROM outbox_parts')).rows[0].n).toBe(0);
  });

  it('sends an item again when the deliverer throws after "sending" (the channel answered, the process did not see it): one repeat, then it leaves', async () => {
    await queueItems(1);
    const fake = new FakeRooms();
    let thrown = 0;
    const lost: Deliver = async (item, progress) => {
      await fake.deliverer('a')(item, progress);
      if (item.key === 'room-2' && thrown++ === 0) throw new Error('socket hang up');
    };
    await a.deliverDue(lost);
    expect(fake.byRoom('room-2')).toEqual([0]);
    expect(await a.pending()).toBe(1);
    await pools.a.query('UPDATE outbox SET next_attempt_at = now()');
    await b.deliverDue(fake.deliverer('b'));
    expect(fake.byRoom('room-2')).toEqual([0, 0]);
    expect(await b.pending()).toBe(0);
    expect(await b.deliverDue(fake.deliverer('b'))).toEqual([]);
  });

  it('stores a notification queued twice with the same key once, whichever instances queue it', async () => {
    const entries: OutboxEntry[] = [
      { channel: 'webex', key: 'SOC', payload: news('2026-11-27', 1) },
      { channel: 'email', key: 'email', payload: news('2026-11-27', 1) },
    ];
    const results = await Promise.all([a.enqueue(entries, 'hunt-1|hunt_started'), b.enqueue(entries, 'hunt-1|hunt_started'), a.enqueue(entries, 'hunt-1|hunt_started')]);
    expect(results.filter(Boolean)).toHaveLength(1);
    // One row per channel: the key is unique per channel, not across channels.
    const { rows } = await pools.b.query<{ channel: string; dedupe_key: string }>('SELECT channel, dedupe_key FROM outbox ORDER BY channel');
    expect(rows).toEqual([
      { channel: 'email', dedupe_key: 'hunt-1|hunt_started' },
      { channel: 'webex', dedupe_key: 'hunt-1|hunt_started' },
    ]);
    // Delivered, the key still remembers it: a resumed hunt does not queue it again.
    await a.deliverDue(new FakeRooms().deliverer('a'));
    expect(await b.enqueue(entries, 'hunt-1|hunt_started')).toBe(false);
    expect(await b.pending()).toBe(0);
  });

  it("queues in a caller's transaction: rolled back with it, key included", async () => {
    const entries: OutboxEntry[] = [{ channel: 'webex', key: 'SOC', payload: news('SOC', 1) }];
    await expect(
      inTransaction(pools.a, 'a test', async (tx) => {
        expect(await a.enqueue(entries, 'k-1', tx)).toBe(true);
        throw new Error('the claim failed');
      }),
    ).rejects.toBeInstanceOf(StoreError);
    expect(await b.pending()).toBe(0);
    expect(await b.enqueue(entries, 'k-1')).toBe(true);
    expect(await b.pending()).toBe(1);
  });

  it("sends a new incident's card before follow-ups queued earlier in its room (the outbox's pickHead)", async () => {
    const view = (id: string) => ({ id, targetKey: `hostname:${id}`, targetType: 'endpoint', targetValue: id, count: 1, status: 'New', firstSeen: '2026-11-30T10:00:00.000Z', lastSeen: '2026-11-30T10:00:00.000Z', rungsFired: [] });
    await a.enqueue([{ channel: 'webex', key: 'SOC', payload: { kind: 'incident_updated', incident: view('old'), newSightings: 1, crossed: [] } }]);
    await a.enqueue([{ channel: 'webex', key: 'SOC', payload: { kind: 'incident_opened', incident: view('new') } }]);
    const kinds: string[] = [];
    await b.deliverDue(async (item) => void kinds.push((item.payload as Notification).kind));
    expect(kinds).toEqual(['incident_opened', 'incident_updated']);
  });
});
