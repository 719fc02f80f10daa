import pg from 'pg';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { outboxMarkdown } from '../../src/bot/commands/outbox-view.js';
import type { NewMessage, WebexApi, WebexMessage } from '../../src/clients/webex/port.js';
import { FakeClock } from '../../src/core/clock.js';
import { StoreError } from '../../src/core/errors.js';
import type { Channel, IncidentView, Notification } from '../../src/notify/notification.js';
import { retryDelayMs } from '../../src/notify/outbox.js';
import type { PostgresDelivery } from '../../src/notify/postgres-delivery.js';
import { defaultConcurrency, postgresNotifications } from '../../src/notify/postgres-notifications.js';
import { PostgresNotifier } from '../../src/notify/postgres-notifier.js';
import { UndeliverableError } from '../../src/notify/undeliverable.js';
import { WebexChannel } from '../../src/notify/webex-channel.js';
import { PostgresOutboxStore } from '../../src/store/postgres/outbox.js';
import { createPool, inTransaction } from '../../src/store/postgres/pool.js';
import { testPostgres, useTwoInstances } from '../support/postgres.js';
import { hunt } from './fixtures.js';

const server = await testPostgres();

/** Room `room`'s message number `n` (hunt_failed: not a follow-up, so FIFO applies; its `week` names the room). */
function news(room: string, n: number): Notification {
  return { kind: 'hunt_failed', week: room, error: `message ${n}` };
}

function view(id: string): IncidentView {
  return { id, targetKey: `hostname:${id}`, targetType: 'endpoint', targetValue: id, count: 1, status: 'New', firstSeen: '2026-11-30T10:00:00.000Z', lastSeen: '2026-11-30T10:00:00.000Z', rungsFired: [] };
}

interface Sent {
  room: string;
  n: number;
  by: string;
}

/** What every instance's pretend rooms received, and whether a room ever had two sends at once. */
class Rooms {
  readonly sent: Sent[] = [];
  readonly overlaps: string[] = [];
  readonly inFlight = new Set<string>();
  /** Called before each send; a thrown error is the channel's failure. */
  fail: (room: string, n: number, by: string) => Promise<void> | void = () => undefined;
  channel(by: string): Channel {
    return {
      name: 'webex',
      accepts: () => true,
      queueFor: (n) => (n.kind === 'hunt_failed' ? n.week! : 'other'),
      deliver: async (n) => {
        const room = n.kind === 'hunt_failed' ? n.week! : 'other';
        const number = n.kind === 'hunt_failed' ? Number(n.error.replace('message ', '')) : -1;
        if (this.inFlight.has(room)) this.overlaps.push(room);
        this.inFlight.add(room);
        try {
          await new Promise((r) => setImmediate(r));
          await this.fail(room, number, by);
          this.sent.push({ room, n: number, by });
        } finally {
          this.inFlight.delete(room);
        }
      },
    };
  }
  byRoom(room: string): number[] {
    return this.sent.filter((s) => s.room === room).map((s) => s.n);
  }
}

function capturingLogger() {
  const lines: Array<{ level: number; msg: string } & Record<string, unknown>> = [];
  const logger = pino({ level: 'info' }, { write: (s: string) => void lines.push(JSON.parse(s)) });
  return { logger, lines };
}

describe.skipIf(!server)('notifications on PostgreSQL: two instances delivering from one database', () => {
  const pools = useTwoInstances(server!, ['deliver-a', 'deliver-b']);
  const started: PostgresDelivery[] = [];

  function instance(pool: pg.Pool, channels: Channel[], opts: { concurrency?: number; pollMs?: number } = {}) {
    const { logger, lines } = capturingLogger();
    const { store, notifier, delivery: d } = postgresNotifications({ pool, url: pools.url, channels, logger, ...opts });
    return {
      store,
      notifier,
      delivery: d,
      lines,
      start() {
        started.push(d);
        d.start();
      },
    };
  }

  beforeEach(async () => {
    await pools.a.query('TRUNCATE outbox, outbox_keys, outbox_receipts, dead_letters');
  });
  afterEach(async () => {
    await Promise.all(started.splice(0).map((d) => d.stop()));
  });

  const rooms = Array.from({ length: 10 }, (_, i) => `room-${i}`);

  it('delivers 200 items over 10 rooms queued by both, each once and in order per room, both instances sending', async () => {
    const fake = new Rooms();
    const a = instance(pools.a, [fake.channel('a')]);
    const b = instance(pools.b, [fake.channel('b')]);
    for (let n = 0; n < 20; n++) {
      await Promise.all(rooms.map((room, r) => ((n + r) % 2 === 0 ? a : b).notifier.notify(news(room, n))));
    }
    a.start();
    b.start();
    await vi.waitFor(() => expect(fake.sent).toHaveLength(200), { timeout: 15_000, interval: 50 });
    await Promise.all([a.delivery.idle(), b.delivery.idle()]);
    expect(fake.sent).toHaveLength(200);
    for (const room of rooms) expect(fake.byRoom(room)).toEqual(Array.from({ length: 20 }, (_, n) => n));
    expect(fake.overlaps).toEqual([]);
    expect(fake.sent.some((s) => s.by === 'a')).toBe(true);
    expect(fake.sent.some((s) => s.by === 'b')).toBe(true);
    expect(await a.store.pending()).toBe(0);
  });

  it('lets a queue go while its channel has no slot (no transaction waits on the rate limit), and sends it in order once one comes', async () => {
    const fake = new Rooms();
    const slotAt = Date.now() + 800;
    const channel = { ...fake.channel('a'), waitMs: () => Math.max(0, slotAt - Date.now()) };
    const a = instance(pools.a, [channel], { pollMs: 120_000 });
    for (let n = 0; n < 5; n++) await a.notifier.notify(news('room-0', n));
    a.start();
    await new Promise((r) => setTimeout(r, 300));
    // Waiting for the slot, A holds nothing: the queue's row can be locked at once by another session.
    expect(fake.sent).toEqual([]);
    await inTransaction(pools.b, 'checking the queue is free', async (tx) => {
      const { rows } = await tx.query(`SELECT key FROM outbox_queues WHERE key = 'room-0' FOR UPDATE NOWAIT`);
      expect(rows).toHaveLength(1);
    });
    await vi.waitFor(() => expect(fake.byRoom('room-0')).toEqual([0, 1, 2, 3, 4]), { timeout: 10_000, interval: 50 });
    expect(Date.now()).toBeGreaterThanOrEqual(slotAt);
  });

  it('leaves a room to the instance with slots to spare while its own channel has none', async () => {
    const fake = new Rooms();
    const waiting = { ...fake.channel('a'), waitMs: () => 60_000 };
    const a = instance(pools.a, [waiting]);
    const b = instance(pools.b, [fake.channel('b')]);
    for (let n = 0; n < 10; n++) await a.notifier.notify(news('room-1', n));
    a.start();
    b.start();
    await vi.waitFor(() => expect(fake.byRoom('room-1')).toEqual(Array.from({ length: 10 }, (_, n) => n)), { timeout: 10_000, interval: 50 });
    expect(fake.sent.every((s) => s.by === 'b')).toBe(true);
  });

  it('wakes the other instances when it lets a queue go, so one that found it locked does not wait for its poll', async () => {
    const fake = new Rooms();
    const b = instance(pools.b, [fake.channel('b')], { pollMs: 120_000 });
    const a = instance(pools.a, [{ ...fake.channel('a'), waitMs: () => 60_000 }], { pollMs: 120_000 });
    for (let n = 0; n < 3; n++) await a.notifier.notify(news('room-7', n));
    // While a sender elsewhere holds room-7's queue, b looks, finds it locked, and goes idle.
    const holder = await pools.a.connect();
    try {
      await holder.query('BEGIN');
      await holder.query(`SELECT 1 FROM outbox_queues WHERE channel = 'webex' AND key = 'room-7' FOR NO KEY UPDATE`);
      b.start();
      await new Promise((r) => setTimeout(r, 500));
      expect(fake.sent).toEqual([]);
      await holder.query('COMMIT');
    } finally {
      holder.release();
    }
    // a, whose own channel has no slot, takes the queue and lets it go: b must hear of it.
    a.start();
    await vi.waitFor(() => expect(fake.byRoom('room-7')).toEqual([0, 1, 2]), { timeout: 10_000, interval: 50 });
    expect(fake.sent.every((x) => x.by === 'b')).toBe(true);
  });

  it('sends another channel while one waits for its rate limit', async () => {
    const fake = new Rooms();
    const webex = { ...fake.channel('a'), waitMs: () => 60_000 };
    const mailed: number[] = [];
    const email: Channel = { name: 'email', accepts: () => true, deliver: async (n) => void mailed.push(n.kind === 'hunt_failed' ? Number(n.error.replace('message ', '')) : -1) };
    const a = instance(pools.a, [webex, email], { pollMs: 120_000 });
    for (let n = 0; n < 3; n++) await a.notifier.notify(news('room-2', n));
    a.start();
    await vi.waitFor(() => expect(mailed).toEqual([0, 1, 2]), { timeout: 5_000, interval: 50 });
    expect(fake.sent).toEqual([]);
  });

  it('keeps a failing room waiting without holding back the others, then catches it up in order', async () => {
    const fake = new Rooms();
    let broken = true;
    fake.fail = (room) => {
      if (room === 'room-3' && broken) throw new Error('Webex answered 503');
    };
    const a = instance(pools.a, [fake.channel('a')]);
    const b = instance(pools.b, [fake.channel('b')]);
    for (let n = 0; n < 3; n++) for (const room of rooms) await a.notifier.notify(news(room, n));
    a.start();
    b.start();
    await vi.waitFor(() => expect(fake.sent).toHaveLength(27), { timeout: 15_000, interval: 50 });
    await Promise.all([a.delivery.idle(), b.delivery.idle()]);
    for (const room of rooms) expect(fake.byRoom(room)).toEqual(room === 'room-3' ? [] : [0, 1, 2]);
    await a.notifier.refresh();
    expect(a.notifier.queueStats().queues).toEqual([expect.objectContaining({ channel: 'webex', queue: 'room-3', depth: 3, headError: 'Webex answered 503' })]);
    expect(a.notifier.queueStats().queues[0]!.headAttempts).toBeGreaterThanOrEqual(1);
    expect(a.lines.concat(b.lines).filter((l) => l.msg === 'notification not delivered; will retry').length).toBeGreaterThanOrEqual(1);
    // The room recovers and its retry is due: it catches up, in order.
    broken = false;
    await pools.a.query('UPDATE outbox SET next_attempt_at = now()');
    b.delivery.wake();
    await vi.waitFor(() => expect(fake.byRoom('room-3')).toEqual([0, 1, 2]), { timeout: 15_000, interval: 50 });
  });

  it('retries a failed room when its retry is due, while another room is still sending (no wait for the slow one)', async () => {
    const fake = new Rooms();
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let failures = 0;
    fake.fail = async (room) => {
      if (room === 'room-slow') await gate;
      if (room === 'room-r' && failures++ === 0) throw new Error('Webex answered 502');
    };
    const a = instance(pools.a, [fake.channel('a')], { concurrency: 2, pollMs: 120_000 });
    await a.notifier.notify(news('room-slow', 0));
    await a.notifier.notify(news('room-r', 0));
    a.start();
    try {
      await vi.waitFor(() => expect(fake.byRoom('room-r')).toEqual([0]), { timeout: 10_000, interval: 50 });
      expect(failures).toBe(2);
      expect(fake.byRoom('room-slow')).toEqual([]);
    } finally {
      release();
    }
    await vi.waitFor(() => expect(fake.byRoom('room-slow')).toEqual([0]), { timeout: 5_000, interval: 20 });
  });

  it('shows a dead letter in the OutboxView of the other instance, and delivers the items behind it', async () => {
    const fake = new Rooms();
    fake.fail = (room, n) => {
      if (room === 'room-5' && n === 0) throw new UndeliverableError('Webex refused the card (400): the room is archived.');
    };
    const a = instance(pools.a, [fake.channel('a')]);
    const b = instance(pools.b, [fake.channel('b')]);
    await a.notifier.notify(news('room-5', 0));
    await a.notifier.notify(news('room-5', 1));
    a.start();
    await vi.waitFor(() => expect(fake.byRoom('room-5')).toEqual([1]), { timeout: 15_000, interval: 50 });
    await a.delivery.idle();
    expect(a.lines.filter((l) => l.level === 50 && /dead letter/.test(l.msg))).toHaveLength(1);
    // B never delivered anything: its view reads the shared tables.
    await b.notifier.refresh();
    expect(b.notifier.deadLetters()).toEqual([expect.objectContaining({ channel: 'webex', key: 'room-5', kind: 'hunt_failed', reason: 'Webex refused the card (400): the room is archived.', attempts: 1 })]);
    expect(b.notifier.queueStats()).toMatchObject({ queues: [], deadLetters: 1 });
    const text = outboxMarkdown(b.notifier);
    expect(text).toContain('**Not delivered (refused for good)**: 1');
    expect(text).toContain('the room is archived');
  });

  it('delivers on B, within a second, what A queued (LISTEN/NOTIFY, not the poll)', async () => {
    const fake = new Rooms();
    const a = instance(pools.a, [fake.channel('a')]);
    const b = instance(pools.b, [fake.channel('b')], { pollMs: 120_000 });
    b.start();
    await vi.waitFor(() => expect(b.delivery.listening).toBe(true), { timeout: 5_000, interval: 20 });
    await b.delivery.idle();
    // A only queues (no delivery of its own runs).
    const delivered = new Promise<number>((resolve) => {
      const t0 = Date.now();
      fake.fail = () => void setImmediate(() => resolve(Date.now() - t0));
    });
    await a.notifier.notify(news('room-1', 0));
    const ms = await Promise.race([delivered, new Promise<number>((r) => setTimeout(() => r(Infinity), 1_000))]);
    expect(ms).toBeLessThan(1_000);
    await vi.waitFor(() => expect(fake.sent).toEqual([{ room: 'room-1', n: 0, by: 'b' }]), { timeout: 2_000, interval: 20 });
  });

  it('repeats at most the one item whose send a crash cut off before the commit', async () => {
    const fake = new Rooms();
    for (let n = 0; n < 2; n++) for (const room of rooms) await new PostgresNotifier({ pool: pools.a, store: new PostgresOutboxStore(pools.a, { retryDelayMs }), channels: [fake.channel('x')], logger: pino({ level: 'silent' }) }).notify(news(room, n));
    let crashed = false;
    fake.fail = async (room, _n, by) => {
      if (by === 'a' && room === 'room-7' && !crashed) {
        crashed = true;
        // A "sends" room-7's first item, then its session dies before the commit.
        setImmediate(() => void pools.b.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'deliver-a' AND state LIKE 'idle in transaction%'`));
        await new Promise((r) => setTimeout(r, 200));
      }
    };
    const a = instance(pools.a, [fake.channel('a')], { concurrency: 1 });
    a.start();
    await vi.waitFor(() => expect(crashed).toBe(true), { timeout: 15_000, interval: 20 });
    await vi.waitFor(() => expect(a.lines.some((l) => l.level === 50 && /outbox delivery paused/.test(l.msg))).toBe(true), { timeout: 15_000, interval: 20 });
    const b = instance(pools.b, [fake.channel('b')]);
    b.start();
    await vi.waitFor(async () => expect(await a.store.pending()).toBe(0), { timeout: 15_000, interval: 50 });
    await Promise.all([a.delivery.idle(), b.delivery.idle()]);
    expect(fake.byRoom('room-7')).toEqual([0, 0, 1]);
    for (const room of rooms.filter((r) => r !== 'room-7')) expect(fake.byRoom(room)).toEqual([0, 1]);
    // The outage was logged once, with the StoreError's sentence.
    const paused = a.lines.filter((l) => /outbox delivery paused/.test(l.msg));
    expect(paused).toHaveLength(1);
    expect(paused[0]!.msg).toMatch(/PostgreSQL/);
  });

  it('queues nothing when the caller\'s transaction rolls back (notifyIn), and wakes the deliveries when it commits', async () => {
    const fake = new Rooms();
    const a = instance(pools.a, [fake.channel('a')]);
    const b = instance(pools.b, [fake.channel('b')], { pollMs: 120_000 });
    b.start();
    await vi.waitFor(() => expect(b.delivery.listening).toBe(true), { timeout: 5_000, interval: 20 });
    await expect(
      inTransaction(pools.a, 'opening an incident', async (tx) => {
        expect(await a.notifier.notifyIn(tx, { kind: 'incident_opened', incident: view('inc-1') }, 'card|inc-1')).toBe(true);
        throw new Error('the claim failed');
      }),
    ).rejects.toBeInstanceOf(StoreError);
    expect(await a.store.pending()).toBe(0);
    // The key went with the rollback: the retried transaction queues the card.
    const queued = await inTransaction(pools.a, 'opening an incident', (tx) => a.notifier.notifyIn(tx, { kind: 'incident_opened', incident: view('inc-1') }, 'card|inc-1'));
    expect(queued).toBe(true);
    await vi.waitFor(() => expect(fake.sent.map((s) => s.by)).toEqual(['b']), { timeout: 5_000, interval: 20 });
    expect(await inTransaction(pools.b, 'opening an incident', (tx) => b.notifier.notifyIn(tx, { kind: 'incident_opened', incident: view('inc-1') }, 'card|inc-1'))).toBe(false);
  });

  it('queues a batch in one transaction (notifyManyIn): in order, a key seen before skipped, one wake for all', async () => {
    const fake = new Rooms();
    const a = instance(pools.a, [fake.channel('a')]);
    const b = instance(pools.b, [fake.channel('b')], { pollMs: 120_000 });
    b.start();
    await vi.waitFor(() => expect(b.delivery.listening).toBe(true), { timeout: 5_000, interval: 20 });
    await a.notifier.notify(news('room-1', 0), 'seen-before');
    const queued = await inTransaction(pools.a, 'a correlation batch', (tx) =>
      a.notifier.notifyManyIn(tx, [{ n: news('room-1', 1) }, { n: news('room-1', 2), dedupeKey: 'seen-before' }, { n: news('room-1', 3) }, { n: news('room-2', 4), dedupeKey: 'k-4' }, { n: news('room-2', 5), dedupeKey: 'k-4' }]),
    );
    expect(queued).toEqual([true, false, true, true, false]);
    // The same in the shape the correlation loop calls (notifyAllIn).
    await inTransaction(pools.a, 'a correlation batch', (tx) => a.notifier.notifyAllIn(tx, [{ notification: news('room-2', 6), dedupeKey: 'k-4' }, { notification: news('room-2', 7) }]));
    await vi.waitFor(() => expect(fake.sent).toHaveLength(5), { timeout: 5_000, interval: 20 });
    expect(fake.byRoom('room-1')).toEqual([0, 1, 3]);
    expect(fake.byRoom('room-2')).toEqual([4, 7]);
  });

  it('queues a hunt notification once across instances (the lowdb default key), one row per accepting channel', async () => {
    const fake = new Rooms();
    const email: Channel = { name: 'email', accepts: (n) => n.kind === 'hunt_started', deliver: async () => undefined };
    const a = instance(pools.a, [fake.channel('a'), email]);
    const b = instance(pools.b, [fake.channel('b'), email]);
    const started: Notification = { kind: 'hunt_started', hunt, threats: [] };
    await Promise.all([a.notifier.notify(started), b.notifier.notify(started), a.notifier.notify(started), b.notifier.notify(started)]);
    const { rows } = await pools.a.query<{ channel: string; key: string; dedupe_key: string }>('SELECT channel, key, dedupe_key FROM outbox ORDER BY channel');
    expect(rows).toEqual([
      { channel: 'email', key: 'email', dedupe_key: `${hunt.id}|hunt_started` },
      { channel: 'webex', key: 'other', dedupe_key: `${hunt.id}|hunt_started` },
    ]);
  });

  it('merges a waiting incident update into the next one for the same incident (one message covering both)', async () => {
    const fake = new Rooms();
    const a = instance(pools.a, [fake.channel('a')]);
    await a.notifier.notify({ kind: 'incident_updated', incident: { ...view('inc-2'), count: 2 }, newSightings: 1, crossed: ['notify'] });
    await a.notifier.notify({ kind: 'incident_updated', incident: { ...view('inc-2'), count: 5 }, newSightings: 3, crossed: ['mention'] });
    await a.notifier.notify({ kind: 'incident_updated', incident: { ...view('inc-3'), count: 2 }, newSightings: 1, crossed: [] });
    const { rows } = await pools.a.query<{ payload: Extract<Notification, { kind: 'incident_updated' }> }>('SELECT payload FROM outbox ORDER BY position');
    expect(rows.map((r) => [r.payload.incident.id, r.payload.incident.count, r.payload.newSightings, r.payload.crossed])).toEqual([
      ['inc-2', 5, 4, ['notify', 'mention']],
      ['inc-3', 2, 1, []],
    ]);
    // In one batch too: into the waiting row, and into a row the same batch queued.
    await inTransaction(pools.a, 'a correlation batch', (tx) =>
      a.notifier.notifyManyIn(tx, [
        { n: { kind: 'incident_updated', incident: { ...view('inc-2'), count: 6 }, newSightings: 1, crossed: [] } },
        { n: { kind: 'incident_opened', incident: view('inc-4') } },
        { n: { kind: 'incident_updated', incident: { ...view('inc-4'), count: 2 }, newSightings: 1, crossed: [] } },
        { n: { kind: 'incident_updated', incident: { ...view('inc-4'), count: 4 }, newSightings: 2, crossed: ['notify'] } },
      ]),
    );
    const after = await pools.a.query<{ payload: Notification }>('SELECT payload FROM outbox ORDER BY position');
    expect(after.rows.map(({ payload: p }) => (p.kind === 'incident_updated' ? [p.kind, p.incident.id, p.incident.count, p.newSightings] : [p.kind, 'incident' in p ? p.incident.id : '']))).toEqual([
      ['incident_updated', 'inc-2', 6, 5],
      ['incident_updated', 'inc-3', 2, 1],
      ['incident_opened', 'inc-4'],
      ['incident_updated', 'inc-4', 4, 3],
    ]);
  });

  it('wakes the deliveries once per transaction that queued a new row, and not for updates merged into waiting rows', async () => {
    const fake = new Rooms();
    const a = instance(pools.a, [fake.channel('a')]);
    const heard: string[] = [];
    const listener = new pg.Client({ connectionString: pools.url });
    await listener.connect();
    try {
      listener.on('notification', (m) => void heard.push(m.payload ?? ''));
      await listener.query('LISTEN sightline_outbox');
      const update = (count: number): Notification => ({ kind: 'incident_updated', incident: { ...view('inc-7'), count }, newSightings: 1, crossed: [] });
      await inTransaction(pools.a, 'a correlation batch', (tx) => a.notifier.notifyManyIn(tx, [{ n: update(2) }, { n: update(3) }]));
      // Only merges: the waiting row is there for the deliveries already.
      await inTransaction(pools.a, 'a flush', (tx) => a.notifier.notifyManyIn(tx, [{ n: update(4) }]));
      await inTransaction(pools.a, 'a flush', (tx) => a.notifier.notifyManyIn(tx, [{ n: update(5) }, { n: update(6) }]));
      // A new row again (a rolled-back one first: its NOTIFY goes with it).
      await expect(inTransaction(pools.a, 'a failed batch', async (tx) => {
        await a.notifier.notifyManyIn(tx, [{ n: news('room-1', 1) }]);
        throw new Error('the claim failed');
      })).rejects.toBeInstanceOf(StoreError);
      await inTransaction(pools.a, 'a batch', (tx) => a.notifier.notifyManyIn(tx, [{ n: news('room-1', 2) }, { n: update(7) }]));
      // Notifications arrive in commit order: once this last one is heard, every earlier one was too.
      await pools.b.query(`SELECT pg_notify('sightline_outbox', 'end')`);
      await vi.waitFor(() => expect(heard.at(-1)).toBe('end'), { timeout: 5_000, interval: 20 });
      expect(heard).toEqual(['', '', 'end']);
      const { rows } = await pools.a.query<{ payload: Notification }>('SELECT payload FROM outbox ORDER BY position');
      expect(rows.map(({ payload: p }) => (p.kind === 'incident_updated' ? [p.kind, p.incident.count, p.newSightings] : [p.kind]))).toEqual([['incident_updated', 7, 6], ['hunt_failed']]);
    } finally {
      await listener.end();
    }
  });

  it("passes the posted card's message id to WebexChannel's onPosted hook", async () => {
    const posted: Array<[string, string]> = [];
    const api = {
      postMessage: async (m: NewMessage): Promise<WebexMessage> => ({ id: `msg-${m.roomId}`, roomId: m.roomId!, personId: 'bot', personEmail: 'bot@webex.bot', created: new Date(0).toISOString() }),
    } as unknown as WebexApi;
    const webex = new WebexChannel({
      api,
      rooms: { ensureRoom: async (title) => `room:${title}` },
      huntRoom: 'Hunts',
      incidentsRoom: 'Incidents',
      logger: pino({ level: 'silent' }),
      onPosted: (n, id) => void (n.kind === 'incident_opened' && posted.push([n.incident.id, id])),
    });
    const a = instance(pools.a, [webex]);
    a.start();
    await a.notifier.notify({ kind: 'incident_opened', incident: view('inc-9') });
    await vi.waitFor(() => expect(posted).toEqual([['inc-9', 'msg-room:Incidents']]), { timeout: 5_000, interval: 20 });
  });

  it('finishes the send in flight on stop, and takes no more', async () => {
    const fake = new Rooms();
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let entered!: () => void;
    const inSend = new Promise<void>((r) => (entered = r));
    fake.fail = async () => {
      entered();
      await gate;
    };
    const a = instance(pools.a, [fake.channel('a')], { concurrency: 1 });
    await a.notifier.notify(news('room-1', 0));
    await a.notifier.notify(news('room-1', 1));
    a.start();
    await inSend;
    const stopping = a.delivery.stop();
    release();
    await stopping;
    expect(fake.sent).toEqual([{ room: 'room-1', n: 0, by: 'a' }]);
    expect(await a.store.pending()).toBe(1);
  });

  it("counts another instance's deliveries as progress, also when a newer card goes before the queue's oldest update", async () => {
    const clock = new FakeClock(new Date());
    const store = new PostgresOutboxStore(pools.a, { retryDelayMs });
    const watcher = new PostgresNotifier({ pool: pools.a, store, channels: [], logger: pino({ level: 'silent' }), clock });
    const fake = new Rooms();
    const channel: Channel = { ...fake.channel('b'), queueFor: () => 'Incidents' };
    // B cannot post updates (they back off), but cards go.
    const sender: Channel = { ...channel, deliver: async (n) => (n.kind === 'incident_updated' ? Promise.reject(new Error('Webex answered 503')) : channel.deliver(n)) };
    const b = instance(pools.b, [sender]);
    await b.notifier.notify({ kind: 'incident_updated', incident: view('old'), newSightings: 1, crossed: [] });
    await b.notifier.notify({ kind: 'incident_opened', incident: view('new') });
    clock.advance(60 * 60_000);
    await watcher.refresh();
    expect((await watcher.readiness(30 * 60_000)).ok).toBe(false);
    b.start();
    await vi.waitFor(async () => expect(await b.store.pending()).toBe(1), { timeout: 10_000, interval: 20 });
    await b.delivery.idle();
    await watcher.refresh();
    const [queue] = watcher.queueStats().queues;
    expect(queue).toMatchObject({ queue: 'Incidents', depth: 1, headKind: 'incident_updated', lastProgressAt: clock.now().toISOString(), stalledForMs: 0 });
    expect(await watcher.readiness(30 * 60_000)).toEqual({ ok: true });
  });

  it('logs a PostgreSQL outage once with its sentence, keeps retrying, and delivers when the database is back', async () => {
    const fake = new Rooms();
    const a = instance(pools.a, [fake.channel('a')], { pollMs: 120_000 });
    a.start();
    await vi.waitFor(() => expect(a.delivery.listening).toBe(true), { timeout: 5_000, interval: 20 });
    await a.delivery.idle();
    const database = new URL(pools.url).pathname.slice(1);
    const admin = new pg.Client({ connectionString: server! });
    await admin.connect();
    let connects = 0;
    const connect = pools.a.connect.bind(pools.a);
    pools.a.connect = ((...args: unknown[]) => (connects++, (connect as (...a: unknown[]) => unknown)(...args))) as typeof pools.a.connect;
    try {
      // The outage: nobody may connect, and every session is ended.
      await admin.query(`ALTER DATABASE ${database} ALLOW_CONNECTIONS false`);
      await admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1', [database]);
      connects = 0;
      a.delivery.wake();
      // Three tries at least (1 s, then 2 s apart): still one line.
      await vi.waitFor(() => expect(connects).toBeGreaterThanOrEqual(3), { timeout: 15_000, interval: 50 });
      const paused = a.lines.filter((l) => /outbox delivery paused/.test(l.msg));
      expect(paused).toHaveLength(1);
      expect(paused[0]!.level).toBe(50);
      expect(paused[0]!.msg).toMatch(/PostgreSQL .*while delivering a notification; check DATABASE_URL/);
    } finally {
      await admin.query(`ALTER DATABASE ${database} ALLOW_CONNECTIONS true`);
      await admin.end();
      pools.a.connect = connect;
    }
    // Back: queued on B, delivered by A (its retry or its LISTEN, whichever comes first), and said once.
    await instance(pools.b, [fake.channel('b')]).notifier.notify(news('room-2', 0));
    await vi.waitFor(() => expect(fake.sent).toEqual([{ room: 'room-2', n: 0, by: 'a' }]), { timeout: 15_000, interval: 50 });
    // The send is seen before its commit returns: wait for the sender to finish.
    await a.delivery.idle();
    expect(a.lines.filter((l) => /PostgreSQL answers again/.test(l.msg))).toHaveLength(1);
    expect(a.lines.filter((l) => /outbox delivery paused/.test(l.msg))).toHaveLength(1);
  });

  it('is not ready while a queue has not moved (the lowdb sentence), and says why when PostgreSQL cannot be read', async () => {
    const a = instance(pools.a, [new Rooms().channel('a')]);
    await a.notifier.notify(news('room-4', 0));
    expect(await a.notifier.readiness(60 * 60_000)).toEqual({ ok: true });
    const stuck = await a.notifier.readiness(0);
    expect(stuck.ok).toBe(false);
    expect(stuck.detail).toMatch(/^webex queue "room-4" has not moved for \d+ min \(1 waiting\)$/);
    // A server that is not there (a closed port on loopback).
    const gone = createPool({ url: 'postgres://nobody@127.0.0.1:9/none', connectTimeoutMs: 1_000 });
    const broken = new PostgresNotifier({ pool: gone, store: new PostgresOutboxStore(gone, { retryDelayMs }), channels: [], logger: pino({ level: 'silent' }) });
    const down = await broken.readiness(0).finally(() => gone.end());
    expect(down.ok).toBe(false);
    expect(down.detail).toMatch(/PostgreSQL .* cannot be reached while reading the outbox; check DATABASE_URL/);
  });
});


describe('the delivery senders of one instance', () => {
  it('leave most of the pool to the rest of the app: a third of it, 1 to 4', () => {
    const sizes = [2, 5, 10, 30].map((max) => {
      const pool = new pg.Pool({ max });
      const n = defaultConcurrency(pool);
      void pool.end();
      return n;
    });
    expect(sizes).toEqual([1, 1, 3, 4]);
  });
});
