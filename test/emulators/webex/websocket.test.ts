import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { WebexEmulator } from '../../../src/emulators/webex/index.js';

/**
 * The emulator's websocket side against the real webex-node-bot-framework and SDK in
 * websocket mode (webex-websocket.md §1-§4): the framework starts, hears a mention and a
 * card submit, and stop() deletes the device. Plus the protocol details a raw client sees.
 */
let emu: WebexEmulator;
beforeAll(async () => {
  emu = new WebexEmulator();
  await emu.start();
  // The SDK reads these once, when first loaded (vitest runs each file in its own fork).
  process.env['HYDRA_SERVICE_URL'] = emu.apiBase;
  process.env['U2C_SERVICE_URL'] = `${emu.url}/u2c/api/v1`;
  process.env['WEBEX_LOG_LEVEL'] = 'error';
});
afterAll(async () => {
  await emu.stop();
});

describe('Webex emulator, websocket side', () => {
  it('runs the real framework in websocket mode: a mention and a card submit arrive, stop() deletes the device', async () => {
    const { default: Framework } = await import('webex-node-bot-framework');
    const framework = new Framework({ token: emu.botToken, maxStartupSpaces: 0 });
    const heard: string[] = [];
    const heardOne = new Promise<void>((resolve) => framework.on('message', (_bot, trigger) => (heard.push(trigger.text ?? ''), resolve())));
    const clicked = new Promise<unknown>((resolve) => framework.on('attachmentAction', (_bot, trigger) => resolve(trigger.attachmentAction)));
    await framework.start();
    expect(emu.websocket.stats()).toMatchObject({ devices: 1, openSockets: 1 });
    const room = emu.createRoomAsPerson('SOC', ['alice@example.com']);
    emu.postAsPerson('alice@example.com', room.id, 'help', { mentionBot: true });
    await heardOne;
    expect(heard[0]).toMatch(/help$/);
    const card = await fetch(`${emu.apiBase}/messages`, {
      method: 'POST',
      headers: { authorization: `Bearer ${emu.botToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ roomId: room.id, markdown: 'card', attachments: [{ contentType: 'application/vnd.microsoft.card.adaptive', content: { type: 'AdaptiveCard', version: '1.3', body: [] } }] }),
    }).then((r) => r.json() as Promise<{ id: string }>);
    const action = emu.clickCard('alice@example.com', card.id, { action: 'close' });
    expect(await clicked).toMatchObject({ id: action.id, inputs: { action: 'close' } });
    await framework.stop();
    expect(emu.websocket.stats().devices).toBe(0);
  });

  it('authorizes, sends buffer_state first, answers pings and counts acks; refuses sockets when told', async () => {
    const device = (await fetch(`${emu.url}/wdm/api/v1/devices`, { method: 'POST', headers: { authorization: `Bearer ${emu.botToken}`, 'content-type': 'application/json' }, body: '{"deviceType":"WEB"}' }).then((r) => r.json())) as { webSocketUrl: string; url: string };
    const ws = new WebSocket(device.webSocketUrl);
    const frames: Record<string, unknown>[] = [];
    const next = () => new Promise<Record<string, unknown>>((resolve) => ws.once('message', (d) => resolve(JSON.parse(String(d)) as Record<string, unknown>)));
    await new Promise((r) => ws.once('open', r));
    ws.send(JSON.stringify({ id: '1', type: 'authorization', data: { token: `Bearer ${emu.botToken}` } }));
    frames.push(await next());
    expect(frames[0]).toMatchObject({ sequenceNumber: 1, data: { eventType: 'mercury.buffer_state' } });
    expect(frames[0]).not.toHaveProperty('type');
    ws.send(JSON.stringify({ messageId: frames[0]!['id'], type: 'ack' }));
    ws.send(JSON.stringify({ id: 'p1', type: 'ping' }));
    expect(await next()).toEqual({ type: 'pong', id: 'p1' });
    expect(emu.websocket.stats().acks).toBeGreaterThan(0);
    const closed = new Promise<number>((r) => ws.once('close', (code) => r(code)));
    emu.websocket.mercury.closeSockets(4000, 'replaced');
    expect(await closed).toBe(4000);
    emu.websocket.mercury.refuseSockets(true);
    const refused = new WebSocket(device.webSocketUrl);
    await expect(new Promise((_, reject) => refused.once('error', reject))).rejects.toThrow(/503/);
    emu.websocket.mercury.refuseSockets(false);
  });
});

describe('Webex emulator, websocket fault switches over HTTP', () => {
  it('refuses, drops and closes on request, and rejects a close code no socket may send', async () => {
    const post = (path: string, b: unknown) => fetch(`${emu.url}/_emulator/websocket/${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(b) });
    expect((await post('refuse', { on: true })).status).toBe(204);
    expect((await post('refuse', { on: false })).status).toBe(204);
    expect((await post('drop', { count: 2 })).status).toBe(204);
    expect((await post('close', { code: 1005 })).status).toBe(400);
    expect(await (await post('close', { code: 4000, reason: 'replaced' })).json()).toEqual({ closed: 0 });
    const stats = (await (await fetch(`${emu.url}/_emulator/websocket/stats`)).json()) as Record<string, number>;
    expect(stats).toHaveProperty('openSockets');
  });
});
