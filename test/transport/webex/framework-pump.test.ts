import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebexHttpApi } from '../../../src/clients/webex/api.js';
import { silentLogger } from '../../../src/core/logger.js';
import { WebexEmulator } from '../../../src/emulators/webex/index.js';
import { RecordingHandler } from '../../support/recording-handler.js';
import { FrameworkPump } from '../../../src/transport/webex/framework-pump.js';

/**
 * The framework adapter, run in the framework's WEBHOOK mode against the emulator
 * (webex.md §2.2): fully offline. The SDK reads HYDRA_SERVICE_URL / U2C_SERVICE_URL
 * when first loaded, so they are set here before `pump.start()` imports it; vitest
 * runs each test file in its own fork, so no other file has loaded it in this process.
 */

let emu: WebexEmulator;
let server: Server;
let pump: FrameworkPump;
const handler = new RecordingHandler();
let listenersBefore: number;

beforeAll(async () => {
  emu = new WebexEmulator();
  await emu.start();
  process.env['HYDRA_SERVICE_URL'] = emu.apiBase;
  process.env['U2C_SERVICE_URL'] = `${emu.url}/u2c/api/v1`;
  const app = express();
  server = app.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  const hookUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  pump = new FrameworkPump({ token: emu.botToken, handler, logger: silentLogger, webhook: { url: hookUrl, secret: 'framework-test-secret' } });
  app.post('/hook', ...pump.webhookHandler());
  listenersBefore = process.listenerCount('unhandledRejection');
  await pump.start();
  // The framework's start() resolves before its webhooks exist (webex.md §1.3).
  await emu.waitForWebhook((w) => w.resource === 'attachmentActions');
});

afterAll(async () => {
  await pump?.stop();
  await emu?.stop();
  server?.closeAllConnections();
  await new Promise((r) => server?.close(r));
});

describe('FrameworkPump (framework webhook mode, offline)', () => {
  it('installs an unhandledRejection guard while running', () => {
    expect(process.listenerCount('unhandledRejection')).toBe(listenersBefore + 1);
  });

  it('delivers an analyst mention to handle() as a typed message event', async () => {
    const room = emu.createRoomAsPerson('SOC', ['alice@example.com']);
    const msg = emu.postAsPerson('alice@example.com', room.id, 'incidents open', { mentionBot: true });
    const events = await handler.until(1);
    expect(events[0]).toEqual({ kind: 'message', messageId: msg.id, roomId: room.id, roomType: 'group', personId: msg.personId, personEmail: 'alice@example.com', text: 'incidents open' });
  });

  it('delivers a card click to handle() as a card_action event', async () => {
    const api = new WebexHttpApi({ baseUrl: emu.apiBase, token: emu.botToken, logger: silentLogger });
    const room = emu.createRoomAsPerson('Cards', ['bob@example.com']);
    const card = await api.postMessage({ roomId: room.id, markdown: 'Close?', attachments: [{ contentType: 'application/vnd.microsoft.card.adaptive', content: { type: 'AdaptiveCard', version: '1.3', body: [] } }] });
    const action = emu.clickCard('bob@example.com', card.id, { action: 'close' });
    const events = await handler.until(2);
    expect(events[1]).toEqual({ kind: 'card_action', actionId: action.id, messageId: card.id, roomId: room.id, personId: action.personId, personEmail: 'bob@example.com', inputs: { action: 'close' } });
  });

  it('removes its webhooks and its guard on stop', async () => {
    await pump.stop();
    expect(emu.webhooks()).toEqual([]);
    expect(process.listenerCount('unhandledRejection')).toBe(listenersBefore);
  });
});
