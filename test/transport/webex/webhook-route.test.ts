import { createHmac } from 'node:crypto';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { WebexHttpApi } from '../../../src/clients/webex/api.js';
import { silentLogger } from '../../../src/core/logger.js';
import { WebexEmulator } from '../../../src/emulators/webex/index.js';
import { RecordingHandler } from '../../support/recording-handler.js';
import { createWebexWebhookRouter, registerWebhooks, unregisterWebhooks } from '../../../src/transport/webex/webhook-route.js';

const SECRET = 'a-long-webhook-secret-for-tests';


let emu: WebexEmulator;
let api: WebexHttpApi;
let handler: RecordingHandler;
let server: Server;
let hookUrl: string;

beforeEach(async () => {
  emu = new WebexEmulator();
  await emu.start();
  api = new WebexHttpApi({ baseUrl: emu.apiBase, token: emu.botToken, logger: silentLogger });
  handler = new RecordingHandler();
  const app = express();
  app.use('/webex/events', createWebexWebhookRouter({ secret: SECRET, api, botPersonId: emu.bot.id, handler, logger: silentLogger }));
  server = app.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  hookUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/webex/events`;
});

afterEach(async () => {
  await emu.stop();
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

function delivery(data: Record<string, unknown>, resource = 'messages') {
  return JSON.stringify({ id: 'hook', name: 'sightline', resource, event: 'created', created: '2020-01-01T00:00:00.000Z', actorId: data['personId'], data: { created: new Date().toISOString(), ...data } });
}

function post(raw: string, signature: string | undefined = createHmac('sha1', SECRET).update(raw).digest('hex')) {
  return fetch(hookUrl, { method: 'POST', headers: { 'content-type': 'application/json', ...(signature ? { 'x-spark-signature': signature } : {}) }, body: raw });
}

describe('Webex webhook route', () => {
  it('turns a signed mention in a group room into a message event with the mention stripped', async () => {
    await registerWebhooks(api, { targetUrl: hookUrl, secret: SECRET, name: 'sightline' });
    const room = emu.createRoomAsPerson('SOC', ['alice@example.com']);
    const msg = emu.postAsPerson('alice@example.com', room.id, 'hunt now', { mentionBot: true });
    const [event] = await handler.until(1);
    expect(event).toEqual({ kind: 'message', messageId: msg.id, roomId: room.id, roomType: 'group', personId: msg.personId, personEmail: 'alice@example.com', text: 'hunt now' });
  });

  it('turns a card click into a card_action event with the inputs and the clicker email', async () => {
    await registerWebhooks(api, { targetUrl: hookUrl, secret: SECRET, name: 'sightline' });
    const room = emu.createRoomAsPerson('SOC', ['bob@example.com']);
    const card = await api.postMessage({ roomId: room.id, markdown: 'Close incident?', attachments: [{ contentType: 'application/vnd.microsoft.card.adaptive', content: { type: 'AdaptiveCard', version: '1.3', body: [] } }] });
    const action = emu.clickCard('bob@example.com', card.id, { action: 'close', target: '1.2.3.4' });
    const [event] = await handler.until(1);
    expect(event).toEqual({ kind: 'card_action', actionId: action.id, messageId: card.id, roomId: room.id, personId: action.personId, personEmail: 'bob@example.com', inputs: { action: 'close', target: '1.2.3.4' } });
  });

  it('answers 401 to a missing or wrong signature and never calls the handler', async () => {
    const room = emu.createRoomAsPerson('SOC', ['alice@example.com']);
    const bad = emu.postAsPerson('alice@example.com', room.id, 'forged', { mentionBot: true });
    const raw = delivery({ id: bad.id, roomId: room.id, personId: bad.personId });
    const missing = await post(raw, '');
    expect(missing.status).toBe(401);
    const wrong = await post(raw, createHmac('sha1', 'other-secret').update(raw).digest('hex'));
    expect(wrong.status).toBe(401);
    expect(await wrong.json()).toEqual({ error: 'invalid signature' });
    // Signed over a re-serialized body instead of the raw bytes: refused too.
    const reserialized = await post(raw.replace('{', '{ '), createHmac('sha1', SECRET).update(raw).digest('hex'));
    expect(reserialized.status).toBe(401);

    const good = emu.postAsPerson('alice@example.com', room.id, 'real', { mentionBot: true });
    expect((await post(delivery({ id: good.id, roomId: room.id, personId: good.personId }))).status).toBe(200);
    const events = await handler.until(1);
    expect(events.map((e) => e.kind === 'message' && e.text)).toEqual(['real']);
  });

  it('refuses a replayed delivery and a stale one', async () => {
    const room = emu.createRoomAsPerson('SOC', ['alice@example.com']);
    const msg = emu.postAsPerson('alice@example.com', room.id, 'once', { mentionBot: true });
    const raw = delivery({ id: msg.id, roomId: room.id, personId: msg.personId });
    expect((await post(raw)).status).toBe(200);
    const again = await post(raw);
    expect(again.status).toBe(401);
    expect(await again.json()).toEqual({ error: 'replayed' });
    const stale = delivery({ id: 'other', roomId: room.id, personId: msg.personId, created: new Date(Date.now() - 6 * 60_000).toISOString() });
    expect((await post(stale)).status).toBe(401);
    expect(await handler.until(1)).toHaveLength(1);
  });

  it("ignores the bot's own messages", async () => {
    const room = emu.createRoomAsPerson('SOC', ['alice@example.com']);
    const own = await api.postMessage({ roomId: room.id, text: 'Sightline says hi' });
    expect((await post(delivery({ id: own.id, roomId: room.id, personId: emu.bot.id })))).toMatchObject({ status: 200 });
    // The delivery lies about the author: the fetched message still reveals the bot.
    const own2 = await api.postMessage({ roomId: room.id, text: 'again' });
    expect((await post(delivery({ id: own2.id, roomId: room.id, personId: 'someone-else' })))).toMatchObject({ status: 200 });
    const human = emu.postAsPerson('alice@example.com', room.id, 'status', { mentionBot: true });
    expect((await post(delivery({ id: human.id, roomId: room.id, personId: human.personId })))).toMatchObject({ status: 200 });
    const events = await handler.until(1);
    expect(events.map((e) => e.kind === 'message' && e.text)).toEqual(['status']);
  });

  it('answers 400 to a signed body that is not a delivery', async () => {
    expect((await post('{"hello":1}')).status).toBe(400);
  });
});

describe('registerWebhooks', () => {
  it('replaces only our own webhooks and leaves the token\'s others alone', async () => {
    const foreign = await api.createWebhook({ name: 'someone else', targetUrl: 'http://127.0.0.1:9/x', resource: 'all', event: 'all' });
    await registerWebhooks(api, { targetUrl: hookUrl, secret: SECRET, name: 'sightline' });
    await registerWebhooks(api, { targetUrl: hookUrl, secret: SECRET, name: 'sightline' });
    const hooks = await api.listWebhooks();
    expect(hooks.filter((h) => h.name === 'sightline').map((h) => `${h.resource}/${h.event}`).sort()).toEqual(['attachmentActions/created', 'messages/created']);
    expect(hooks.some((h) => h.id === foreign.id)).toBe(true);
    await expect(unregisterWebhooks(api, { name: 'sightline' })).resolves.toBe(2);
    expect((await api.listWebhooks()).map((h) => h.id)).toEqual([foreign.id]);
  });
});
