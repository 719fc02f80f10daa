import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createWebexHttpClient, WebexHttpApi } from '../../../../src/clients/webex/api.js';
import { WebexEmulator } from '../../../../src/emulators/webex/index.js';
import { activityRef, uuidOfHydraId } from '../../../../src/transport/webex/websocket/activity.js';
import { ActivityReader, COULD_NOT_READ_CLICK, COULD_NOT_READ_MESSAGE } from '../../../../src/transport/webex/websocket/reader.js';
import { capturingLogger } from './fakes.js';

/**
 * §5.5: a command is never dropped silently. Reads go through the bot's own client
 * (retries on 5xx), and when Webex still fails the person is asked to try again and
 * the log names the event.
 */
let emu: WebexEmulator;
let reader: ActivityReader;
let log: ReturnType<typeof capturingLogger>;
let roomId: string;

beforeAll(async () => {
  emu = new WebexEmulator();
  await emu.start();
  roomId = emu.createRoomAsPerson('Reads', ['alice@example.com']).id;
});
afterAll(async () => {
  await emu.stop();
});
beforeEach(() => {
  emu.clearFaults();
  log = capturingLogger();
  const http = createWebexHttpClient({ logger: log.logger, retry: { retries: 3, minTimeoutMs: 1, maxTimeoutMs: 5 } });
  const api = new WebexHttpApi({ baseUrl: emu.apiBase, token: emu.botToken, logger: log.logger, http });
  reader = new ActivityReader({ api, bot: emu.bot, logger: log.logger });
});

/** The activity Mercury would send for a message (ids only). */
function postRef(messageId: string, actorId: string, email?: string) {
  return activityRef({ id: uuidOfHydraId(messageId), verb: 'post', actor: { entryUUID: uuidOfHydraId(actorId), ...(email ? { emailAddress: email } : {}) }, target: { id: uuidOfHydraId(roomId), tags: [] } })!;
}

describe('ActivityReader', () => {
  it('rebuilds the Hydra ids from the activity and reads the message once', async () => {
    const msg = emu.postAsPerson('alice@example.com', roomId, 'hunt status', { mentionBot: true });
    const start = emu.requestLog.length;
    const event = await reader.read(postRef(msg.id, msg.personId));
    expect(event).toMatchObject({ kind: 'message', messageId: msg.id, roomId, personEmail: 'alice@example.com', text: 'hunt status' });
    expect(emu.requestLog.slice(start).map((r) => r.method)).toEqual(['GET']);
  });

  it('rides out 503s on the message read', async () => {
    const msg = emu.postAsPerson('alice@example.com', roomId, 'help', { mentionBot: true });
    emu.injectFault({ pathPattern: '^/v1/messages/', method: 'GET', status: 503, count: 2 });
    expect(await reader.read(postRef(msg.id, msg.personId))).toMatchObject({ kind: 'message', text: 'help' });
  });

  it('when the read keeps failing, asks the person to try again and logs the event id', async () => {
    const msg = emu.postAsPerson('alice@example.com', roomId, 'help', { mentionBot: true });
    emu.injectFault({ pathPattern: '^/v1/messages/', method: 'GET', status: 503, count: 10 });
    const ref = postRef(msg.id, msg.personId);
    expect(await reader.read(ref)).toBeUndefined();
    const reply = emu.messages(roomId).at(-1)!;
    expect(reply).toMatchObject({ personId: emu.bot.id, markdown: COULD_NOT_READ_MESSAGE });
    expect(log.lines.some((l) => l.level === 50 && l.msg.includes(ref.eventId) && l['eventId'] === ref.eventId)).toBe(true);
  });

  it('ignores the bot\'s own posts without a REST call', async () => {
    const start = emu.requestLog.length;
    const ref = postRef(emu.postAsPerson('alice@example.com', roomId, 'x').id, emu.bot.id);
    expect(reader.isOwn(ref)).toBe(true);
    expect(await reader.read(ref)).toBeUndefined();
    expect(emu.requestLog.length).toBe(start);
  });

  it('reads a card click, and the person only when the activity does not name them; a people read that keeps failing gets a reply', async () => {
    const api = new WebexHttpApi({ baseUrl: emu.apiBase, token: emu.botToken, logger: log.logger });
    const card = await api.postMessage({ roomId, markdown: 'card', attachments: [{ contentType: 'application/vnd.microsoft.card.adaptive', content: { type: 'AdaptiveCard', version: '1.3', body: [] } }] });
    const action = emu.clickCard('alice@example.com', card.id, { action: 'close' });
    const raw = (email?: string) => ({ id: uuidOfHydraId(action.id), verb: 'cardAction', actor: { entryUUID: uuidOfHydraId(action.personId), ...(email ? { emailAddress: email } : {}) }, parent: { id: uuidOfHydraId(card.id) }, target: { id: uuidOfHydraId(roomId), tags: [] } });
    emu.injectFault({ pathPattern: '^/v1/people', method: 'GET', status: 503, count: 2 });
    expect(await reader.read(activityRef(raw())!)).toMatchObject({ kind: 'card_action', actionId: action.id, personEmail: 'alice@example.com', inputs: { action: 'close' } });
    emu.injectFault({ pathPattern: '^/v1/people', method: 'GET', status: 503, count: 10 });
    expect(await reader.read(activityRef(raw('alice@example.com'))!)).toMatchObject({ personEmail: 'alice@example.com' });
    expect(await reader.read(activityRef(raw())!)).toBeUndefined();
    expect(emu.messages(roomId).at(-1)).toMatchObject({ personId: emu.bot.id, markdown: COULD_NOT_READ_CLICK });
  });
});
