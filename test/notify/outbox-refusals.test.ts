import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { WebexHttpApi } from '../../src/clients/webex/api.js';
import { RoomDirectory } from '../../src/clients/webex/rooms.js';
import { systemClock } from '../../src/core/clock.js';
import { silentLogger } from '../../src/core/logger.js';
import { WebexEmulator } from '../../src/emulators/webex/index.js';
import type { IncidentView, Notification } from '../../src/notify/notification.js';
import { Outbox } from '../../src/notify/outbox.js';
import { WebexChannel } from '../../src/notify/webex-channel.js';
import { LowdbStore } from '../../src/store/lowdb-store.js';

/**
 * Issue 17 item 1 against the Webex emulator: permanent refusals are sorted, and one
 * refused item never holds back the ones behind it (before: retried at the head forever).
 */
const HUNT_ROOM = 'TALOS ROUNDUP Investigation';
const INCIDENTS_ROOM = 'Sightline Incidents';

let emu: WebexEmulator;
let outbox: Outbox;
let store: LowdbStore;
const cardIds = new Map<string, string>();

beforeEach(async () => {
  emu = new WebexEmulator();
  await emu.start();
  store = await LowdbStore.open(join(await mkdtemp(join(tmpdir(), 'outbox-refusals-')), 'state.json'));
  const api = new WebexHttpApi({ baseUrl: emu.apiBase, token: emu.botToken, logger: silentLogger });
  const rooms = new RoomDirectory({ api, store, members: ['alice@example.com'], logger: silentLogger });
  const channel = new WebexChannel({
    api,
    rooms,
    huntRoom: HUNT_ROOM,
    incidentsRoom: INCIDENTS_ROOM,
    logger: silentLogger,
    onPosted: (n, id) => void (n.kind === 'incident_opened' && cardIds.set(n.incident.id, id)),
  });
  outbox = new Outbox(store, [channel], systemClock, silentLogger);
  outbox.start();
});

afterEach(async () => {
  await outbox.stop();
  await store.close();
  await emu.stop();
  cardIds.clear();
});

const view = (target: string, count = 1): IncidentView => ({
  id: `incident-${target}`, targetKey: `hostname:${target}`, targetType: 'hostname', targetValue: target, count, status: 'New',
  firstSeen: '2026-11-20T08:00:00Z', lastSeen: '2026-11-20T08:00:00Z', rungsFired: [],
});
const opened = (target: string): Notification => ({ kind: 'incident_opened', incident: view(target) });
const notice = (week: string): Notification => ({ kind: 'not_published', week, uri: `https://example/${week}`, attempts: 24 });

const roomId = (title: string) => emu.rooms().find((r) => r.title === title)!.id;
const texts = (title: string) => emu.messages(roomId(title)).map((m) => m.markdown ?? m.text ?? '');

async function settle() {
  await outbox.drain();
  await emu.traffic.waitForIdle(20, 5_000);
  await outbox.drain();
}

describe('Outbox and Webex refusals', () => {
  it('posts an update unthreaded when its card was deleted, and everything behind it still arrives', async () => {
    await outbox.notify(opened('host-a'));
    await settle();
    const card = cardIds.get('incident-host-a')!;
    emu.deleteMessage(card);
    await outbox.notify({ kind: 'incident_updated', incident: view('host-a', 5), newSightings: 4, crossed: [], replyTo: card });
    await outbox.notify(opened('host-b'));
    await outbox.notify(notice('2026-11-27'));
    await settle();
    const refused = emu.traffic.refused().items;
    expect(refused.map((r) => [r.status, (r.answer as { message: string }).message])).toEqual([[400, 'Parent message not found in this room.']]);
    const room = emu.messages(roomId(INCIDENTS_ROOM));
    expect(room.some((m) => /host-b/.test(m.markdown ?? ''))).toBe(true);
    const update = room.find((m) => /host-a/.test(m.markdown ?? '') && !m.attachments);
    expect(update).toBeDefined();
    expect(update!.parentId).toBeUndefined();
    expect(texts(HUNT_ROOM).some((t) => t.includes('2026-11-27'))).toBe(true);
    expect(outbox.pending()).toBe(0);
    expect(outbox.deadLetters()).toEqual([]);
  });

  it('finds or creates the room again when the bot was removed from it', async () => {
    await outbox.notify(opened('host-a'));
    await settle();
    const first = roomId(INCIDENTS_ROOM);
    emu.removeFromRoom(first, emu.bot.emails[0]!);
    await outbox.notify(opened('host-b'));
    await settle();
    const rooms = emu.rooms().filter((r) => r.title === INCIDENTS_ROOM);
    expect(rooms).toHaveLength(2);
    const second = rooms.find((r) => r.id !== first)!;
    expect(second.members).toContain('alice@example.com');
    expect(emu.messages(second.id).some((m) => /host-b/.test(m.markdown ?? ''))).toBe(true);
    expect(outbox.pending()).toBe(0);
  });

  it('finds or creates the room again when the room was deleted', async () => {
    await outbox.notify(notice('2026-11-20'));
    await settle();
    emu.deleteRoom(roomId(HUNT_ROOM));
    await outbox.notify(notice('2026-11-27'));
    await settle();
    expect(texts(HUNT_ROOM).some((t) => t.includes('2026-11-27'))).toBe(true);
    expect(outbox.pending()).toBe(0);
  });

  it('dead-letters any other permanent refusal with its reason, and delivers what follows', async () => {
    emu.injectFault({ pathPattern: '^/v1/messages$', method: 'POST', status: 413, count: 1 });
    await outbox.notify(notice('2026-11-20'));
    await outbox.notify(notice('2026-11-27'));
    await outbox.notify(opened('host-a'));
    await settle();
    expect(texts(HUNT_ROOM).some((t) => t.includes('2026-11-27'))).toBe(true);
    expect(texts(HUNT_ROOM).some((t) => t.includes('2026-11-20'))).toBe(false);
    expect(texts(INCIDENTS_ROOM).some((t) => t.includes('host-a'))).toBe(true);
    const dead = outbox.deadLetters();
    expect(dead).toHaveLength(1);
    expect(dead[0]).toMatchObject({ channel: 'webex', key: HUNT_ROOM, kind: 'not_published', subject: '2026-11-20' });
    expect(dead[0]!.reason).toMatch(/413/);
    expect(outbox.queueStats()).toMatchObject({ queues: [], deadLetters: 1 });
    expect(outbox.pending()).toBe(0);
  });

  it('keeps retrying throttling and outages (not dead letters)', async () => {
    emu.injectFault({ pathPattern: '^/v1/messages$', method: 'POST', status: 503, count: 1 });
    await outbox.notify(notice('2026-11-20'));
    await settle();
    expect(outbox.deadLetters()).toEqual([]);
    expect(outbox.pending()).toBe(1);
    expect(outbox.queueStats().queues[0]).toMatchObject({ channel: 'webex', queue: HUNT_ROOM, depth: 1, headAttempts: 1 });
  });
});
