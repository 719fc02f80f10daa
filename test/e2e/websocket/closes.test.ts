import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRunningBot, waitUntil, type RunningBot } from '../../../src/sandbox/running-bot.js';
import { ask, readyz, textOf, WEBSOCKET_ENV } from './support.js';

/**
 * Websocket mode under the cloud's closes (webex-websocket.md §3, §5.3): the SDK
 * reconnects by itself after 1001/1006; after 1012, 4000 and 1000 "server shutdown"
 * the pump reconnects with a fresh device. A command is answered after each, and
 * /readyz names the websocket while it is down.
 */
describe('websocket mode: closes', () => {
  let bot: RunningBot;
  let roomId: string;
  beforeAll(async () => {
    bot = await startRunningBot(WEBSOCKET_ENV);
    roomId = bot.world.webex.createRoomAsPerson('Closes', ['alice@example.com']).id;
    await bot.world.webex.websocket.until((s) => s.openSockets === 1, 15_000);
  });
  afterAll(async () => {
    await bot?.stop();
  });

  it.each([
    [1001, 'going away', 'same'],
    [1006, '', 'same'],
    [1012, 'service restart', 'fresh'],
    [4000, 'replaced', 'fresh'],
    [1000, 'server shutdown', 'fresh'],
  ] as const)('survives a %i close (%s) and answers the next command', async (code, reason, device) => {
    const ws = bot.world.webex.websocket;
    const before = ws.stats();
    ws.mercury.closeSockets(code, reason);
    const after = await ws.until((s) => s.connections > before.connections && s.openSockets === 1, 15_000);
    if (device === 'same') expect(after.devicesRegistered).toBe(before.devicesRegistered);
    else {
      // A fresh device; the old one deleted, so devices do not pile up.
      expect(after.devicesRegistered).toBe(before.devicesRegistered + 1);
      expect(after.devices).toBe(1);
    }
    expect(textOf(await ask(bot.world.webex, roomId, 'help'))).toContain('hunt now');
  });

  it('while the websocket is down /readyz is 503 naming it; back up it is 200', async () => {
    const ws = bot.world.webex.websocket;
    ws.mercury.refuseSockets(true);
    ws.mercury.closeSockets(1012, 'service restart');
    let down = await readyz(bot.app.http.url);
    for (let i = 0; i < 100 && down.status !== 503; i++) {
      await new Promise((r) => setTimeout(r, 50));
      down = await readyz(bot.app.http.url);
    }
    expect(down.status).toBe(503);
    expect(down.body.checks['webexWebsocket']).toMatchObject({ ok: false });
    expect(down.body.checks['webexWebsocket']?.detail).toMatch(/Webex websocket is not connected.*1012/);
    await ws.until((s) => s.refusedUpgrades > 0, 15_000);
    ws.mercury.refuseSockets(false);
    await ws.until((s) => s.openSockets === 1, 15_000);
    const up = await readyz(bot.app.http.url);
    expect(up.status).toBe(200);
    expect(textOf(await ask(bot.world.webex, roomId, 'hunt status'))).toMatch(/next/i);
  });

  it('a dropped frame loses only that command; 503s on the message read are ridden out', async () => {
    const { webex } = bot.world;
    webex.websocket.mercury.dropFrames(1);
    webex.postAsPerson('alice@example.com', roomId, 'help', { mentionBot: true });
    webex.injectFault({ pathPattern: '^/v1/messages/', method: 'GET', status: 503, count: 2 });
    expect(textOf(await ask(webex, roomId, 'incidents'))).toMatch(/incidents|none/i);
  });

  it('a message read that keeps failing gets a "try again" reply instead of silence', async () => {
    const { webex } = bot.world;
    webex.injectFault({ pathPattern: '^/v1/messages/', method: 'GET', status: 503, count: 50 });
    const before = webex.messages(roomId).length;
    webex.postAsPerson('alice@example.com', roomId, 'help', { mentionBot: true });
    const reply = await waitUntil(() => webex.messages(roomId).slice(before).find((m) => m.personId === webex.bot.id), 'the try-again reply', 40_000);
    webex.clearFaults();
    expect(reply.markdown).toMatch(/could not read your message.*try again/i);
  }, 45_000);

  it('503s on people reads do not cost a command', async () => {
    const { webex } = bot.world;
    webex.injectFault({ pathPattern: '^/v1/people', method: 'GET', status: 503, count: 50 });
    expect(textOf(await ask(webex, roomId, 'help'))).toContain('hunt now');
    webex.clearFaults();
  });
});
