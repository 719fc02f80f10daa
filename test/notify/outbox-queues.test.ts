import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FakeClock } from '../../src/core/clock.js';
import { silentLogger } from '../../src/core/logger.js';
import type { Channel, IncidentView, Notification } from '../../src/notify/notification.js';
import { Outbox } from '../../src/notify/outbox.js';
import { LowdbStore } from '../../src/store/lowdb-store.js';

/** A channel with one queue per "room" (the notification's week or incident id); a room can be made to fail. */
class RoomChannel implements Channel {
  readonly name = 'chat';
  readonly delivered: string[] = [];
  readonly down = new Set<string>();
  accepts(): boolean {
    return true;
  }
  queueFor(n: Notification): string {
    return n.kind === 'not_published' ? 'hunt room' : 'incidents room';
  }
  async deliver(n: Notification): Promise<void> {
    const room = this.queueFor(n);
    if (this.down.has(room)) throw new Error(`${room} is unavailable`);
    this.delivered.push(label(n));
  }
}

const label = (n: Notification) => (n.kind === 'not_published' ? n.week : `${n.kind}:${'incident' in n ? n.incident.targetValue : ''}`);
const view = (target: string, count = 1): IncidentView => ({
  id: `incident-${target}`, targetKey: `hostname:${target}`, targetType: 'hostname', targetValue: target, count, status: 'New',
  firstSeen: '2026-11-20T08:00:00Z', lastSeen: '2026-11-20T08:00:00Z', rungsFired: [],
});
const notice = (week: string): Notification => ({ kind: 'not_published', week, uri: `https://example/${week}`, attempts: 24 });

async function setup() {
  const store = await LowdbStore.open(join(await mkdtemp(join(tmpdir(), 'outbox-queues-')), 'state.json'));
  const clock = new FakeClock('2026-11-20T08:00:00Z');
  const channel = new RoomChannel();
  const outbox = new Outbox(store, [channel], clock, silentLogger);
  return { store, clock, channel, outbox };
}

describe('Outbox queues', () => {
  it('a room that fails holds back only its own queue', async () => {
    const { channel, outbox } = await setup();
    channel.down.add('incidents room');
    outbox.start();
    await outbox.notify({ kind: 'incident_opened', incident: view('host-a') });
    await outbox.notify(notice('2026-11-20'));
    await outbox.notify(notice('2026-11-27'));
    await outbox.drain();
    expect(channel.delivered).toEqual(['2026-11-20', '2026-11-27']);
    expect(outbox.pending()).toBe(1);
    await outbox.stop();
  });

  it('a new incident’s card goes before waiting updates of older incidents; order is kept otherwise', async () => {
    const { channel, outbox, clock } = await setup();
    channel.down.add('incidents room');
    outbox.start();
    await outbox.notify({ kind: 'incident_opened', incident: view('old') });
    await outbox.drain();
    for (let i = 0; i < 3; i++) await outbox.notify({ kind: 'incident_updated', incident: view(`older-${i}`, 2), newSightings: 1, crossed: [] });
    await outbox.notify({ kind: 'rung_fired', incident: view('older-0', 3), rung: 'gte 3', action: 'mention', dryRun: false });
    await outbox.notify({ kind: 'incident_opened', incident: view('new-1') });
    await outbox.notify({ kind: 'incident_opened', incident: view('new-2') });
    channel.down.clear();
    clock.advance(10 * 60_000);
    outbox.kick();
    await outbox.drain();
    expect(channel.delivered).toEqual([
      'incident_opened:old',
      'incident_opened:new-1',
      'incident_opened:new-2',
      'incident_updated:older-0',
      'incident_updated:older-1',
      'incident_updated:older-2',
      'rung_fired:older-0',
    ]);
    await outbox.stop();
  });

  it('reports per-queue stats and is not ready once a queue has not moved for the configured time', async () => {
    const { channel, outbox, clock } = await setup();
    channel.down.add('incidents room');
    outbox.start();
    await outbox.notify({ kind: 'incident_opened', incident: view('host-a') });
    await outbox.notify({ kind: 'incident_opened', incident: view('host-b') });
    await outbox.notify(notice('2026-11-20'));
    await outbox.drain();
    expect(outbox.readiness(15 * 60_000)).toEqual({ ok: true });
    clock.advance(16 * 60_000);
    const stats = outbox.queueStats();
    expect(stats.queues).toHaveLength(1);
    expect(stats.queues[0]).toMatchObject({ channel: 'chat', queue: 'incidents room', depth: 2, oldestAgeMs: 16 * 60_000, stalledForMs: 16 * 60_000, headKind: 'incident_opened', headAttempts: 1, headError: 'incidents room is unavailable' });
    const ready = outbox.readiness(15 * 60_000);
    expect(ready.ok).toBe(false);
    expect(ready.detail).toMatch(/chat queue "incidents room" has not moved for 16 min \(2 waiting; last error: incidents room is unavailable\)/);
    // It moves again: ready.
    channel.down.clear();
    outbox.kick();
    await outbox.drain();
    expect(outbox.readiness(15 * 60_000)).toEqual({ ok: true });
    await outbox.stop();
  });

  it('a queue that is busy but moving is ready, however long it is', async () => {
    const { outbox, clock, channel } = await setup();
    channel.down.add('hunt room');
    outbox.start();
    for (let w = 1; w <= 3; w++) await outbox.notify(notice(`2026-11-0${w}`));
    await outbox.drain();
    clock.advance(20 * 60_000);
    channel.down.clear();
    outbox.kick();
    await outbox.drain();
    await outbox.notify(notice('2026-11-09'));
    channel.down.add('hunt room');
    await outbox.drain();
    clock.advance(60_000);
    expect(outbox.readiness(15 * 60_000)).toEqual({ ok: true });
    await outbox.stop();
  });

  it('puts items an older version queued per channel into their room queues on recover()', async () => {
    const { store, channel, outbox } = await setup();
    await store.update((s) => {
      s.outbox.push({ id: 'legacy-1', channel: 'chat', key: 'chat', payload: notice('2026-11-13'), createdAt: '2026-11-20T07:00:00Z', attempts: 0, nextAttemptAt: '2026-11-20T07:00:00Z' });
    });
    await outbox.recover();
    expect(store.get().outbox[0]!.key).toBe('hunt room');
    outbox.start();
    await outbox.drain();
    expect(channel.delivered).toEqual(['2026-11-13']);
    await outbox.stop();
  });
});
