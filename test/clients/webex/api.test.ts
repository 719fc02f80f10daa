import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createWebexHttpClient, nextLink, WebexHttpApi } from '../../../src/clients/webex/api.js';
import { UpstreamError } from '../../../src/core/errors.js';
import { silentLogger } from '../../../src/core/logger.js';
import { WebexEmulator } from '../../../src/emulators/webex/index.js';

let emu: WebexEmulator;
let api: WebexHttpApi;
let slept: number[];

const card = { contentType: 'application/vnd.microsoft.card.adaptive' as const, content: { type: 'AdaptiveCard', version: '1.3', body: [] } };

beforeEach(async () => {
  emu = new WebexEmulator();
  await emu.start();
  slept = [];
  const http = createWebexHttpClient({ logger: silentLogger, retry: { minTimeoutMs: 1, maxTimeoutMs: 5 }, sleep: async (ms) => void slept.push(ms) });
  api = new WebexHttpApi({ baseUrl: emu.apiBase, token: emu.botToken, logger: silentLogger, http });
});

afterEach(async () => {
  await emu.stop();
});

const requests = (method: string, path: RegExp) => emu.requestLog.filter((r) => r.method === method && path.test(r.path)).length;

describe('WebexHttpApi', () => {
  it('identifies the bot', async () => {
    const me = await api.me();
    expect(me).toMatchObject({ displayName: 'Sightline', type: 'bot', emails: ['sightline@webex.bot'] });
  });

  it('follows Link rel="next" through every page of rooms', async () => {
    for (let i = 0; i < 5; i++) await api.createRoom(`room ${i}`);
    const titles: string[] = [];
    for await (const room of api.listRooms({ type: 'group', max: 2 })) titles.push(room.title);
    expect(titles.sort()).toEqual(['room 0', 'room 1', 'room 2', 'room 3', 'room 4']);
    expect(requests('GET', /^\/v1\/rooms$/)).toBe(3);
  });

  it('treats "already a member" (409) as success', async () => {
    const room = await api.createRoom('SOC');
    await api.addMember(room.id, 'alice@example.com');
    await api.addMember(room.id, 'alice@example.com');
    expect(emu.rooms().find((r) => r.id === room.id)?.members.filter((m) => m === 'alice@example.com')).toHaveLength(1);
  });

  it('absorbs a 429 on POST /messages, waiting as long as Retry-After asks', async () => {
    const room = await api.createRoom('SOC');
    emu.injectFault({ pathPattern: '^/v1/messages$', method: 'POST', status: 429, count: 1, retryAfterSeconds: 3 });
    const posted = await api.postMessage({ roomId: room.id, markdown: 'hello', attachments: [card] });
    expect(posted.roomId).toBe(room.id);
    expect(slept).toContain(3000);
    expect(emu.stats().tooManyRequests).toBe(1);
    expect(emu.messages(room.id)).toHaveLength(1);
  });

  it('does not retry POST /messages after a 5xx (it may have posted)', async () => {
    const room = await api.createRoom('SOC');
    emu.injectFault({ pathPattern: '^/v1/messages$', method: 'POST', status: 502, count: 1 });
    await expect(api.postMessage({ roomId: room.id, text: 'hi' })).rejects.toMatchObject({ status: 502 });
    expect(requests('POST', /^\/v1\/messages$/)).toBe(1);
  });

  it('retries a GET after 5xx answers', async () => {
    const room = await api.createRoom('SOC');
    const posted = await api.postMessage({ roomId: room.id, text: 'hi' });
    emu.injectFault({ pathPattern: '^/v1/messages/', method: 'GET', status: 503, count: 2 });
    const fetched = await api.getMessage(posted.id);
    expect(fetched.text).toBe('hi');
    expect(requests('GET', /^\/v1\/messages\//)).toBe(3);
  });

  it('turns a Webex error body into an UpstreamError with status, message and trackingId', async () => {
    const err = await api.getMessage('Y2lzY29zcGFyazovL3VzL01FU1NBR0UvbWlzc2luZw').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UpstreamError);
    const up = err as UpstreamError;
    expect(up.status).toBe(404);
    expect(up.trackingId).toMatch(/^ROUTER_/);
    expect(up.userMessage).toContain('The requested resource could not be found.');
  });

  it('names WEBEX_TOKEN when Webex refuses the token', async () => {
    const bad = new WebexHttpApi({ baseUrl: emu.apiBase, token: 'wrong', logger: silentLogger });
    await expect(bad.me()).rejects.toMatchObject({ status: 401, userMessage: 'Webex refused the bot token: check WEBEX_TOKEN.' });
  });

  it('surfaces message validation errors (too long, two cards)', async () => {
    const room = await api.createRoom('SOC');
    await expect(api.postMessage({ roomId: room.id, markdown: 'x'.repeat(7440) })).rejects.toMatchObject({ status: 400 });
    await expect(api.postMessage({ roomId: room.id, markdown: 'x', attachments: [card, card] })).rejects.toMatchObject({ status: 400 });
    await expect(api.postMessage({ roomId: room.id, markdown: 'x'.repeat(7439) })).resolves.toMatchObject({ roomId: room.id });
  });

  it('manages webhooks and fetches card actions', async () => {
    const hook = await api.createWebhook({ name: 'n', targetUrl: 'http://127.0.0.1:9/hook', resource: 'messages', event: 'created', secret: 's' });
    expect((await api.listWebhooks()).map((w) => w.id)).toEqual([hook.id]);
    await api.deleteWebhook(hook.id);
    await api.deleteWebhook(hook.id);
    expect(await api.listWebhooks()).toEqual([]);

    const room = await api.createRoom('SOC');
    await api.addMember(room.id, 'alice@example.com');
    const msg = await api.postMessage({ roomId: room.id, markdown: 'card', attachments: [card] });
    const action = emu.clickCard('alice@example.com', msg.id, { verdict: 'close' });
    await expect(api.getAttachmentAction(action.id)).resolves.toMatchObject({ messageId: msg.id, inputs: { verdict: 'close' } });
  });
});

describe('nextLink', () => {
  it('finds rel="next" among several links', () => {
    expect(nextLink('<https://a/v1/rooms?cursor=1>; rel="prev", <https://a/v1/rooms?cursor=3>; rel="next"')).toBe('https://a/v1/rooms?cursor=3');
    expect(nextLink('<https://a/v1/rooms?cursor=1>; rel="prev"')).toBeUndefined();
    expect(nextLink(undefined)).toBeUndefined();
  });
});
