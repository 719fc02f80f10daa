import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EmuMessage } from '../../../src/emulators/webex/model.js';
import { startRunningBot, waitUntil, type RunningBot } from '../../../src/sandbox/running-bot.js';
import { TALOS_ROUNDUPS_DIR } from '../../support/fixtures.js';
import { WEBSOCKET_ENV } from './support.js';

/**
 * Websocket mode end to end: the real Webex SDK registers a device with the emulator and
 * holds its Mercury socket; every chat command and a card click are answered. The vitest
 * config points HYDRA_SERVICE_URL and U2C_SERVICE_URL at a dead port, so this also proves
 * the SDK takes its services from the configuration (WEBEX_API_BASE, WEBEX_U2C_BASE).
 */

describe('websocket mode: chat commands, end to end', () => {
  let bot: RunningBot;
  let roomId: string;
  beforeAll(async () => {
    bot = await startRunningBot(WEBSOCKET_ENV, { talosDir: TALOS_ROUNDUPS_DIR });
    roomId = bot.world.webex.createRoomAsPerson('Commands', ['alice@example.com']).id;
    await bot.world.webex.websocket.until((s) => s.openSockets === 1, 15_000);
  });
  afterAll(async () => {
    await bot?.stop();
  });

  async function ask(text: string, who = 'alice@example.com'): Promise<EmuMessage> {
    const { webex } = bot.world;
    const sent = webex.postAsPerson(who, roomId, text, { mentionBot: true });
    return webex.waitForMessage((m) => m.roomId === roomId && m.personId === webex.bot.id && m.parentId === sent.id, 10_000);
  }
  const textOf = (m: EmuMessage) => `${m.markdown ?? ''} ${m.text ?? ''} ${JSON.stringify(m.attachments ?? [])}`;

  it('connects over the websocket with one device and registers no webhooks', async () => {
    const ws = bot.world.webex.websocket.stats();
    expect(ws.openSockets).toBe(1);
    expect(ws.devices).toBe(1);
    expect(bot.world.webex.webhooks()).toEqual([]);
    const ready = await fetch(`${bot.app.http.url}/readyz`);
    expect(ready.status).toBe(200);
  });

  it('answers every chat command', async () => {
    const help = textOf(await ask('help'));
    for (const c of ['hunt now', 'hunt blog', 'hunt status', 'incidents', 'close']) expect(help).toContain(c);
    expect(textOf(await ask('hunt status'))).toMatch(/next/i);
    expect(textOf(await ask('incidents'))).toMatch(/no open incidents|0 open|none/i);
    expect(textOf(await ask('close nosuchhost'))).toMatch(/No open incident for/);
    expect(textOf(await ask('hunt nwo'))).toContain('hunt now');
    const uri = `${bot.world.talos.url}/Cisco-Talos/Threat-Round-Up/master/2021/1203.json`;
    expect(textOf(await ask(`hunt blog ${uri}`))).toMatch(/started|hunt/i);
    await bot.app.hunts.idle();
    expect(bot.app.store.get().hunts.at(-1)).toMatchObject({ uri, status: 'finished' });
  });

  it('answers a direct message without a mention', async () => {
    const { webex } = bot.world;
    const sent = webex.postDirect('bob@example.com', 'help');
    const reply = await webex.waitForMessage((m) => m.roomId === sent.roomId && m.personId === webex.bot.id, 10_000);
    expect(textOf(reply)).toContain('hunt now');
  });

  it('handles a card click', async () => {
    const { webex } = bot.world;
    const card = await bot.app.webex!.api.postMessage({
      roomId,
      markdown: 'card',
      attachments: [{ contentType: 'application/vnd.microsoft.card.adaptive', content: { type: 'AdaptiveCard', version: '1.3', body: [] } }],
    });
    const before = webex.messages(roomId).length;
    webex.clickCard('alice@example.com', card.id, { action: 'show_sightings', incidentId: 'no-such-incident' });
    const reply = await waitUntil(() => webex.messages(roomId).slice(before).find((m) => m.personId === webex.bot.id), 'a reply to the click', 10_000);
    expect(textOf(reply)).toMatch(/incident/i);
  });

  it('reads each command with one GET and ignores its own posts without any', async () => {
    const { webex } = bot.world;
    const start = webex.requestLog.length;
    await ask('hunt status');
    const calls = webex.requestLog.slice(start).filter((r) => r.method === 'GET');
    expect(calls.map((c) => c.path.replace(/\/[^/]+$/, '/{id}'))).toEqual(['/v1/messages/{id}']);
  });
});
