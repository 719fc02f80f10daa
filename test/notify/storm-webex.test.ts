import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { WebexHttpApi } from '../../src/clients/webex/api.js';
import { RoomDirectory } from '../../src/clients/webex/rooms.js';
import { systemClock } from '../../src/core/clock.js';
import { silentLogger } from '../../src/core/logger.js';
import { WebexEmulator } from '../../src/emulators/webex/index.js';
import type { IncidentView } from '../../src/notify/notification.js';
import { Outbox } from '../../src/notify/outbox.js';
import { WebexChannel } from '../../src/notify/webex-channel.js';
import { emptyState, type State } from '../../src/store/state.js';
import type { Store } from '../../src/store/store.js';

class MemoryStore implements Store {
  writable = true;
  private readonly state: State = emptyState();
  get(): Readonly<State> {
    return this.state;
  }
  async update<T>(mutate: (s: State) => T): Promise<T> {
    return mutate(this.state);
  }
  async flush(): Promise<void> {}
  async close(): Promise<void> {}
}

let emu: WebexEmulator;
beforeEach(async () => {
  emu = new WebexEmulator();
  await emu.start();
});
afterEach(() => emu.stop());

const view = (i: number, count: number): IncidentView => ({
  id: `incident-${i}`, targetKey: `hostname:host-${i}`, targetType: 'hostname', targetValue: `host-${i}`, count, status: 'New',
  firstSeen: new Date(Date.UTC(2026, 10, 20, 8, 0, i)).toISOString(), lastSeen: '2026-11-20T08:05:00Z', rungsFired: [],
});

describe('storm digest in Webex', () => {
  it('Webex accepts the digest card; it lists the top incidents with working buttons and mentions on-call once', async () => {
    const store = new MemoryStore();
    const api = new WebexHttpApi({ baseUrl: emu.apiBase, token: emu.botToken, logger: silentLogger });
    const rooms = new RoomDirectory({ api, store, members: ['alice@example.com'], logger: silentLogger });
    const channel = new WebexChannel({ api, rooms, huntRoom: 'Hunts', incidentsRoom: 'Incidents', logger: silentLogger });
    const outbox = new Outbox(store, [channel], systemClock, silentLogger, undefined, { enterDepth: 10, exitDepth: 2, digestMs: 60_000, topN: 25 });
    // Queued faster than the room takes them, as in a storm.
    for (let i = 0; i < 40; i++) {
      await outbox.notify({ kind: 'incident_opened', incident: view(i, 1) });
      await outbox.notify({ kind: 'rung_fired', incident: view(i, 3), rung: 'gte 3', action: 'mention', mention: ['oncall@example.com'], dryRun: false });
    }
    await outbox.notify({ kind: 'incident_updated', incident: view(7, 90), newSightings: 89, crossed: [] });
    outbox.start();
    await outbox.drain();
    await emu.traffic.waitForIdle(20, 5_000);
    await outbox.stop();

    expect(emu.traffic.refused().items).toEqual([]);
    const room = emu.rooms().find((r) => r.title === 'Incidents')!;
    const messages = emu.messages(room.id);
    // The first card left as soon as it was queued; the storm took everything behind it.
    expect(messages).toHaveLength(3);
    expect(messages[0]!.markdown).toContain('New correlated incident for target: `host-0`');
    const [digest, mention] = messages.slice(1);
    expect(digest!.markdown).toMatch(/Alert storm: 40 incidents \(39 new\) waiting/);
    expect(digest!.markdown).toContain('and 15 more: `incidents` lists them');
    const card = JSON.stringify(digest!.attachments![0]!.content);
    // The busiest first, then the newest.
    expect(card.indexOf('host-7 — 90')).toBeLessThan(card.indexOf('host-39'));
    expect(card.match(/"action":"close_incident"/g)).toHaveLength(25);
    expect(card.match(/"action":"show_sightings"/g)).toHaveLength(25);
    expect(mention!.markdown!.match(/<@personEmail:oncall@example.com>/g)).toHaveLength(1);
    expect(mention!.markdown).toContain('40 incidents');
    // A click on a digest button reaches Webex like one on an incident card.
    expect(emu.clickCard('alice@example.com', digest!.id, { action: 'close_incident', incidentId: 'incident-7', target: 'host-7' })).toMatchObject({ messageId: digest!.id });
  });
});
