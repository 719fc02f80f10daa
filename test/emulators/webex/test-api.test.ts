import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { WebexEmulator } from '../../../src/emulators/webex/index.js';

let emu: WebexEmulator;

beforeEach(async () => {
  emu = new WebexEmulator();
  await emu.start();
});
afterEach(() => emu.stop());

const post = (body: unknown) =>
  fetch(`${emu.apiBase}/messages`, { method: 'POST', headers: { authorization: `Bearer ${emu.botToken}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
const testApi = async (path: string, method = 'GET') => {
  const res = await fetch(`${emu.url}/_emulator${path}`, { method });
  return { status: res.status, body: res.status === 204 ? undefined : ((await res.json()) as Record<string, unknown>) };
};

function roomWithBot(title = 'Ops') {
  return emu.createRoomAsPerson(title, ['alice@example.com']);
}

describe('Webex emulator test API', () => {
  it('lists every room’s messages after a cursor, oldest first', async () => {
    const a = roomWithBot('A');
    const b = roomWithBot('B');
    await post({ roomId: a.id, markdown: 'one' });
    const first = (await testApi('/messages')).body as { items: { markdown?: string }[]; cursor: number };
    expect(first.items.map((m) => m.markdown)).toEqual(['one']);
    await post({ roomId: b.id, markdown: 'two' });
    await post({ roomId: a.id, markdown: 'three' });
    const next = (await testApi(`/messages?since=${first.cursor}`)).body as { items: { markdown?: string; roomId: string }[]; cursor: number };
    expect(next.items.map((m) => [m.markdown, m.roomId])).toEqual([['two', b.id], ['three', a.id]]);
    expect(((await testApi(`/messages?since=${next.cursor}`)).body as { items: unknown[] }).items).toEqual([]);
    expect((await testApi('/messages?since=minus-one')).status).toBe(400);
  });

  it('keeps every refused POST /messages with the body sent and the answer given, injected faults included', async () => {
    const room = roomWithBot();
    emu.injectFault({ pathPattern: '^/v1/messages$', method: 'POST', status: 503, count: 1 });
    expect((await post({ roomId: room.id, markdown: 'during outage' })).status).toBe(503);
    expect((await post({ roomId: room.id, markdown: 'fine' })).status).toBe(200);
    expect((await post({ roomId: room.id, markdown: 'reply', parentId: 'Y2lzY29zcGFyazovL3VzL01FU1NBR0Uvbm9wZQ' })).status).toBe(400);
    const { items, cursor } = (await testApi('/refused')).body as { items: { status: number; body: { markdown: string }; answer: { message: string }; personEmail?: string }[]; cursor: number };
    expect(items.map((r) => [r.status, r.body.markdown])).toEqual([[503, 'during outage'], [400, 'reply']]);
    expect(items[1]!.answer.message).toBe('Parent message not found in this room.');
    expect(items[1]!.personEmail).toBe(emu.bot.emails[0]);
    expect(((await testApi(`/refused?since=${cursor}`)).body as { items: unknown[] }).items).toEqual([]);
  });

  it('deleting a message makes a threaded reply to it fail like Webex', async () => {
    const room = roomWithBot();
    const parent = (await (await post({ roomId: room.id, markdown: 'card' })).json()) as { id: string };
    expect((await testApi(`/messages/${parent.id}`, 'DELETE')).status).toBe(204);
    const res = await post({ roomId: room.id, markdown: 'update', parentId: parent.id });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ message: 'Parent message not found in this room.', trackingId: expect.any(String) });
    expect((await post({ roomId: room.id, markdown: 'unthreaded' })).status).toBe(200);
  });

  it('removing the bot from a room, or deleting the room, makes posts there answer 404', async () => {
    const kicked = roomWithBot('Kicked');
    const gone = roomWithBot('Gone');
    expect((await testApi(`/rooms/${kicked.id}/members/${encodeURIComponent(emu.bot.emails[0]!)}`, 'DELETE')).status).toBe(204);
    expect((await testApi(`/rooms/${gone.id}`, 'DELETE')).status).toBe(204);
    for (const room of [kicked, gone]) {
      const res = await post({ roomId: room.id, markdown: 'hello' });
      expect(res.status).toBe(404);
      expect(await res.json()).toMatchObject({ message: 'Could not find a room with provided ID.' });
    }
    expect(emu.rooms().map((r) => r.title)).toEqual(['Kicked']);
  });

  it('says when the bot has been idle, and 408 while it keeps calling', async () => {
    const room = roomWithBot();
    await post({ roomId: room.id, markdown: 'x' });
    const idle = await testApi('/idle?quietMs=50&timeoutMs=2000');
    expect(idle.status).toBe(200);
    expect(idle.body!['idleForMs']).toBeGreaterThanOrEqual(50);
    // A caller that never stops: one post every 10 ms keeps the emulator from being idle for 200 ms.
    let calling = true;
    const caller = (async () => {
      for (let i = 0; calling && i < 200; i++) {
        await post({ roomId: room.id, markdown: `tick ${i}` });
        await new Promise((r) => setTimeout(r, 10));
      }
    })();
    const busy = await testApi('/idle?quietMs=200&timeoutMs=300');
    calling = false;
    await caller;
    expect(busy.status).toBe(408);
  });
});
