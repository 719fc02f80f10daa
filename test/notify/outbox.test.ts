import { appendFile, mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { systemClock } from '../../src/core/clock.js';
import { silentLogger } from '../../src/core/logger.js';
import type { Channel, DeliveryProgress, Notification } from '../../src/notify/notification.js';
import { Outbox } from '../../src/notify/outbox.js';
import { DeliveryReceipts, receiptsPathFor } from '../../src/notify/receipts.js';
import { LowdbStore } from '../../src/store/lowdb-store.js';

class FlakyChannel implements Channel {
  readonly delivered: Notification[] = [];
  failing = false;
  constructor(readonly name: string) {}
  accepts(): boolean {
    return true;
  }
  async deliver(n: Notification): Promise<void> {
    if (this.failing) throw new Error(`${this.name} is down`);
    this.delivered.push(n);
  }
}

/** Sends each notification as three messages (as Webex sends a card per target), failing for now at `failAt` once. */
class ThreePartChannel implements Channel {
  readonly name = 'webex';
  readonly posted: string[] = [];
  constructor(private failAt?: number) {}
  accepts(): boolean {
    return true;
  }
  async deliver(n: Notification, progress?: DeliveryProgress): Promise<void> {
    const week = (n as { week: string }).week;
    for (let i = progress?.sent ?? 0; i < 3; i++) {
      if (this.failAt === i) {
        this.failAt = undefined;
        throw new Error('Webex answered 503');
      }
      this.posted.push(`${week}/${i + 1}`);
      if (progress && i < 2) await progress.record(i + 1);
    }
  }
}

const notice = (week: string): Notification => ({ kind: 'not_published', week, uri: `https://example/${week}`, attempts: 25 });

async function openStore(path?: string) {
  return LowdbStore.open(path ?? join(await mkdtemp(join(tmpdir(), 'outbox-')), 'state.json'));
}

describe('Outbox', () => {
  it('delivers to every channel in order', async () => {
    const store = await openStore();
    const webex = new FlakyChannel('webex');
    const email = new FlakyChannel('email');
    const outbox = new Outbox(store, [webex, email], systemClock, silentLogger);
    outbox.start();
    for (const w of ['2021-07-02', '2021-07-09', '2021-07-16']) await outbox.notify(notice(w));
    await outbox.drain();
    expect(webex.delivered.map((n) => (n as { week: string }).week)).toEqual(['2021-07-02', '2021-07-09', '2021-07-16']);
    expect(email.delivered).toHaveLength(3);
    expect(outbox.pending()).toBe(0);
  });

  it('keeps what a channel could not deliver, across a restart, and sends it once it recovers', async () => {
    const path = join(await mkdtemp(join(tmpdir(), 'outbox-')), 'state.json');
    const store = await openStore(path);
    const webex = new FlakyChannel('webex');
    webex.failing = true;
    const first = new Outbox(store, [webex], systemClock, silentLogger);
    first.start();
    await first.notify(notice('2021-07-02'));
    await first.notify(notice('2021-07-09'));
    await first.drain();
    await first.stop();
    expect(webex.delivered).toHaveLength(0);
    expect(first.pending('webex')).toBe(2);

    // A new process over the same state file; the channel is back.
    const restarted = await openStore(path);
    const webexBack = new FlakyChannel('webex');
    const second = new Outbox(restarted, [webexBack], systemClock, silentLogger);
    await restarted.update((s) => s.outbox.forEach((i) => (i.nextAttemptAt = new Date(0).toISOString())));
    second.start();
    await second.drain();
    expect(webexBack.delivered.map((n) => (n as { week: string }).week)).toEqual(['2021-07-02', '2021-07-09']);
    expect(second.pending()).toBe(0);
  });

  it('does not queue the same hunt notification twice (a resumed hunt)', async () => {
    const store = await openStore();
    const webex = new FlakyChannel('webex');
    const outbox = new Outbox(store, [webex], systemClock, silentLogger);
    outbox.start();
    const n: Notification = { kind: 'hunt_started', hunt: { id: 'hunt-1', label: '2021-07-23', uri: 'u' }, threats: [] };
    await outbox.notify(n);
    await outbox.notify(n);
    await outbox.drain();
    expect(webex.delivered).toHaveLength(1);
  });
});

describe('Outbox under a chat rate it cannot keep up with', () => {
  it('keeps at most one waiting update per incident, summing the sightings it covers', async () => {
    const store = await openStore();
    const webex = new FlakyChannel('webex');
    webex.failing = true; // nothing leaves: everything waits in the queue
    const outbox = new Outbox(store, [webex], systemClock, silentLogger);
    const view = (id: string, count: number) => ({
      id, targetKey: `hostname:${id}`, targetType: 'hostname', targetValue: id, count, status: 'New',
      firstSeen: '2026-11-20T08:00:00Z', lastSeen: '2026-11-20T08:00:00Z', rungsFired: [],
    });
    for (let i = 1; i <= 50; i++) {
      await outbox.notify({ kind: 'incident_updated', incident: view('a', i), newSightings: 1, crossed: i === 3 ? ['gte 3'] : [] });
      await outbox.notify({ kind: 'incident_updated', incident: view('b', i), newSightings: 2, crossed: [] });
    }
    const queued = store.get().outbox.map((i) => i.payload as Extract<Notification, { kind: 'incident_updated' }>);
    expect(queued).toHaveLength(2);
    const a = queued.find((q) => q.incident.id === 'a')!;
    expect(a).toMatchObject({ newSightings: 50, crossed: ['gte 3'], incident: { count: 50 } });
    expect(queued.find((q) => q.incident.id === 'b')!.newSightings).toBe(100);
  });
});

describe('Outbox: merging into the update that is still waiting, and only into that one', () => {
  /** Delivers only when let go: an item can be held "being delivered" while more updates arrive. */
  class GatedChannel implements Channel {
    readonly delivered: Notification[] = [];
    private release: Array<() => void> = [];
    readonly name = 'webex';
    accepts(): boolean {
      return true;
    }
    async deliver(n: Notification): Promise<void> {
      await new Promise<void>((resolve) => this.release.push(resolve));
      this.delivered.push(n);
    }
    async letOneGo(): Promise<void> {
      while (this.release.length === 0) await new Promise((r) => setTimeout(r, 1));
      this.release.shift()!();
    }
  }
  const view = (id: string, count: number) => ({
    id, targetKey: `hostname:${id}`, targetType: 'hostname', targetValue: id, count, status: 'New',
    firstSeen: '2026-11-20T08:00:00Z', lastSeen: '2026-11-20T08:00:00Z', rungsFired: [],
  });
  const update = (id: string, count: number): Notification => ({ kind: 'incident_updated', incident: view(id, count), newSightings: 1, crossed: [] });

  it('queues anew once the waiting update is being sent or sent, and merges the next ones into the new one', async () => {
    const store = await openStore();
    const webex = new GatedChannel();
    const outbox = new Outbox(store, [webex], systemClock, silentLogger);
    outbox.start();
    await outbox.notify(update('a', 1)); // taken for delivery at once, held by the gate
    await new Promise((r) => setTimeout(r, 5));
    await outbox.notify(update('a', 2)); // the first is being delivered: a second item
    await outbox.notify(update('a', 3)); // merges into the second
    expect(store.get().outbox).toHaveLength(2);
    await webex.letOneGo(); // the first is sent and leaves the outbox (a new array)
    await outbox.notify(update('b', 1));
    await outbox.notify(update('a', 4)); // the second is now being delivered: a third item
    await webex.letOneGo();
    await webex.letOneGo();
    await webex.letOneGo();
    await outbox.drain();
    const sent = webex.delivered.map((n) => n as Extract<Notification, { kind: 'incident_updated' }>);
    expect(sent.map((n) => [n.incident.id, n.incident.count, n.newSightings])).toEqual([
      ['a', 1, 1],
      ['a', 3, 2],
      ['b', 1, 1],
      ['a', 4, 1],
    ]);
    expect(outbox.pending()).toBe(0);
  });
});

describe('Outbox delivery receipts', () => {
  it('does not send again what was delivered just before a crash left it in the state file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'outbox-'));
    const path = join(dir, 'state.json');
    const store = await openStore(path);
    const webex = new FlakyChannel('webex');
    webex.failing = true;
    const first = new Outbox(store, [webex], systemClock, silentLogger, await DeliveryReceipts.open(receiptsPathFor(path)));
    for (const w of ['2021-07-02', '2021-07-09', '2021-07-16']) await first.notify(notice(w));
    await first.drain();
    await store.close();
    // As after a SIGKILL: the first item was posted and receipted, its removal never reached the state file.
    const [posted] = (await openStore(path)).get().outbox;
    await appendFile(receiptsPathFor(path), `${posted!.id}\n`);

    const restarted = await openStore(path);
    const webexBack = new FlakyChannel('webex');
    const receipts = await DeliveryReceipts.open(receiptsPathFor(path));
    const second = new Outbox(restarted, [webexBack], systemClock, silentLogger, receipts);
    await second.recover();
    // The receipt has done its job once the state file says so.
    expect(receipts.size).toBe(0);
    expect(await readFile(receiptsPathFor(path), 'utf8')).toBe('');
    second.start();
    await second.drain();
    expect(webexBack.delivered.map((n) => (n as { week: string }).week)).toEqual(['2021-07-09', '2021-07-16']);
    expect(second.pending()).toBe(0);
    expect(receipts.size).toBe(2);
  });

  it('a receipt that cannot be written does not make a delivered item go out again', async () => {
    const store = await openStore();
    const webex = new FlakyChannel('webex');
    const brokenDisk = { size: 0, has: () => false, list: () => [], forget: async () => undefined, record: () => Promise.reject(new Error('ENOSPC')), partsSent: () => 0, recordParts: () => Promise.reject(new Error('ENOSPC')) };
    const outbox = new Outbox(store, [webex], systemClock, silentLogger, brokenDisk as unknown as DeliveryReceipts);
    outbox.start();
    await outbox.notify(notice('2021-07-02'));
    await outbox.drain();
    expect(webex.delivered).toHaveLength(1);
    expect(outbox.pending()).toBe(0);
    await store.close();
  });

  it('a notification sent as several messages: after a crash part way, only the messages not yet out are posted', async () => {
    const path = join(await mkdtemp(join(tmpdir(), 'outbox-')), 'state.json');
    const store = await openStore(path);
    // Fails at the third message: two are out when the process "dies" (the item stays queued, as after a SIGKILL).
    const before = new ThreePartChannel(2);
    const first = new Outbox(store, [before], systemClock, silentLogger, await DeliveryReceipts.open(receiptsPathFor(path)));
    await first.notify(notice('2021-07-02'));
    await first.notify(notice('2021-07-09'));
    first.start();
    await first.drain();
    expect(before.posted).toEqual(['2021-07-02/1', '2021-07-02/2']);
    await first.stop();
    await store.close();

    const restarted = await openStore(path);
    const after = new ThreePartChannel();
    const receipts = await DeliveryReceipts.open(receiptsPathFor(path));
    expect(receipts.partsSent(restarted.get().outbox[0]!.id)).toBe(2);
    // Its retry is due (the backoff after the failure has passed).
    await restarted.update((s) => {
      for (const i of s.outbox) i.nextAttemptAt = new Date(0).toISOString();
    });
    const second = new Outbox(restarted, [after], systemClock, silentLogger, receipts);
    await second.recover();
    second.start();
    await second.drain();
    expect(after.posted).toEqual(['2021-07-02/3', '2021-07-09/1', '2021-07-09/2', '2021-07-09/3']);
    expect(second.pending()).toBe(0);
    await second.stop();
    await restarted.close();
  });

  it('without a receipts file, a retry in the same process still starts after the messages already out', async () => {
    const store = await openStore();
    const channel = new ThreePartChannel(1);
    const outbox = new Outbox(store, [channel], systemClock, silentLogger);
    await outbox.notify(notice('2021-07-02'));
    outbox.start();
    await outbox.drain();
    await store.update((s) => {
      for (const i of s.outbox) i.nextAttemptAt = new Date(0).toISOString();
    });
    outbox.kick();
    await outbox.drain();
    expect(channel.posted).toEqual(['2021-07-02/1', '2021-07-02/2', '2021-07-02/3']);
    expect(outbox.pending()).toBe(0);
    await outbox.stop();
    await store.close();
  });

  it('the receipts file keeps the progress of items not delivered yet when it is trimmed, and forgets it once they are', async () => {
    const path = join(await mkdtemp(join(tmpdir(), 'outbox-')), 'state.json.delivered');
    const receipts = await DeliveryReceipts.open(path);
    await receipts.record('delivered-1');
    await receipts.recordParts('partly', 1);
    await receipts.recordParts('partly', 2);
    await receipts.recordParts('done-later', 1);
    await receipts.record('done-later');
    await receipts.forget(['delivered-1']);
    expect((await readFile(path, 'utf8')).split('\n').filter(Boolean).sort()).toEqual(['done-later', 'partly#2']);
    const reopened = await DeliveryReceipts.open(path);
    expect(reopened.partsSent('partly')).toBe(2);
    expect(reopened.partsSent('done-later')).toBe(0);
    // A torn last line (killed mid-write) counts for nothing.
    await appendFile(path, 'partly#');
    expect((await DeliveryReceipts.open(path)).partsSent('partly')).toBe(2);
    reopened.keepPartsOf(new Set());
    expect(reopened.partsSent('partly')).toBe(0);
  });

  it('receipts every delivery, and trims the file once the state file holds the removals', async () => {
    const path = join(await mkdtemp(join(tmpdir(), 'outbox-')), 'state.json');
    const store = await openStore(path);
    const webex = new FlakyChannel('webex');
    const receipts = await DeliveryReceipts.open(receiptsPathFor(path));
    const outbox = new Outbox(store, [webex], systemClock, silentLogger, receipts);
    outbox.start();
    for (let i = 0; i < 250; i++) await outbox.notify(notice(`w-${i}`));
    await outbox.drain();
    await outbox.stop();
    expect(webex.delivered).toHaveLength(250);
    // Every id still in the file was delivered and is gone from the state; at most a trim's worth remain.
    const left = (await readFile(receiptsPathFor(path), 'utf8')).split('\n').filter(Boolean);
    expect(left.length).toBeGreaterThan(0);
    expect(left.length).toBeLessThan(250);
    expect(store.get().outbox.some((i) => left.includes(i.id))).toBe(false);
    await store.close();
  });
});
