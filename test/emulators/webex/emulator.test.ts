import { createHmac } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { hydraKind, WebexEmulator } from '../../../src/emulators/webex/index.js';

let emu: WebexEmulator;
let receiver: Server;
let received: { headers: Record<string, string | string[] | undefined>; raw: string }[];
let receiverUrl: string;

beforeEach(async () => {
  emu = new WebexEmulator({ rateLimit: { maxMessages: 3, windowMs: 60_000, retryAfterSeconds: 7 } });
  await emu.start();
  received = [];
  receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({ headers: req.headers, raw: Buffer.concat(chunks).toString('utf8') });
      res.end('ok');
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
});

afterEach(async () => {
  await emu.stop();
  await new Promise((r) => receiver.close(r));
});

const rest = (path: string, init: { method?: string; body?: unknown; token?: string } = {}) =>
  fetch(`${emu.apiBase}${path}`, {
    method: init.method ?? 'GET',
    headers: { authorization: `Bearer ${init.token ?? emu.botToken}`, 'content-type': 'application/json' },
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
  });

const testApi = (path: string, body?: unknown) =>
  fetch(`${emu.url}/_emulator${path}`, { method: body === undefined ? 'GET' : 'POST', headers: { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });

async function registerHook(resource: string, event = 'created') {
  const res = await rest('/webhooks', { method: 'POST', body: { name: 'test', targetUrl: receiverUrl, resource, event, secret: 'hook-secret' } });
  expect(res.status).toBe(200);
}

describe('Webex emulator REST', () => {
  it('issues realistic Hydra ids and answers 401 with a Webex error body', async () => {
    const me = (await (await rest('/people/me')).json()) as { id: string };
    expect(Buffer.from(me.id, 'base64url').toString()).toMatch(/^ciscospark:\/\/us\/PEOPLE\/[0-9a-f-]{36}$/);
    const res = await rest('/people/me', { token: 'nope' });
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({ message: expect.any(String), errors: [{ description: expect.any(String) }], trackingId: expect.stringMatching(/^ROUTER_/) });
  });

  it('answers batched people lookups with {items}', async () => {
    const people = emu.people();
    const ids = people.slice(0, 2).map((p) => p.id);
    const res = await rest(`/people/?id=${ids.join(',')}&showAllTypes=false`);
    const body = (await res.json()) as { items: { id: string }[] };
    expect(body.items.map((p) => p.id).sort()).toEqual([...ids].sort());
  });

  it('answers 409 with a Webex body for a duplicate membership', async () => {
    const room = (await (await rest('/rooms', { method: 'POST', body: { title: 'SOC' } })).json()) as { id: string };
    expect(hydraKind(room.id)).toBe('ROOM');
    expect((await rest('/memberships', { method: 'POST', body: { roomId: room.id, personEmail: 'alice@example.com' } })).status).toBe(200);
    const dup = await rest('/memberships', { method: 'POST', body: { roomId: room.id, personEmail: 'alice@example.com' } });
    expect(dup.status).toBe(409);
    expect(await dup.json()).toMatchObject({ message: expect.any(String), errors: [{ description: expect.any(String) }], trackingId: expect.any(String) });
  });

  it('pages lists with max and a Link header', async () => {
    for (let i = 0; i < 3; i++) await rest('/rooms', { method: 'POST', body: { title: `r${i}` } });
    const first = await rest('/rooms?max=2');
    const link = first.headers.get('link');
    expect(link).toMatch(/^<http:\/\/127\.0\.0\.1:\d+\/v1\/rooms\?.*>; rel="next"$/);
    expect(((await first.json()) as { items: unknown[] }).items).toHaveLength(2);
    const next = await fetch(/<([^>]+)>/.exec(link!)![1]!, { headers: { authorization: `Bearer ${emu.botToken}` } });
    expect(next.headers.get('link')).toBeNull();
    expect(((await next.json()) as { items: unknown[] }).items).toHaveLength(1);
    expect((await rest('/rooms?max=0')).status).toBe(400);
  });

  it('refuses non-card attachments and oversized cards', async () => {
    const room = (await (await rest('/rooms', { method: 'POST', body: { title: 'SOC' } })).json()) as { id: string };
    const notCard = await rest('/messages', { method: 'POST', body: { roomId: room.id, text: 'x', attachments: [{ contentType: 'application/vnd.microsoft.card.adaptive', content: { type: 'Thing' } }] } });
    expect(notCard.status).toBe(400);
    const huge = { type: 'AdaptiveCard', version: '1.3', body: [{ type: 'TextBlock', text: 'y'.repeat(17 * 1024) }] };
    const tooBig = await rest('/messages', { method: 'POST', body: { roomId: room.id, text: 'x', attachments: [{ contentType: 'application/vnd.microsoft.card.adaptive', content: huge }] } });
    expect(tooBig.status).toBe(400);
  });

  it('rate limits message posts per token with 429 and Retry-After', async () => {
    const room = (await (await rest('/rooms', { method: 'POST', body: { title: 'SOC' } })).json()) as { id: string };
    for (let i = 0; i < 3; i++) expect((await rest('/messages', { method: 'POST', body: { roomId: room.id, text: `m${i}` } })).status).toBe(200);
    const limited = await rest('/messages', { method: 'POST', body: { roomId: room.id, text: 'm3' } });
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('7');
    expect(emu.stats()).toMatchObject({ tooManyRequests: 1, messagesPosted: { [room.id]: 3 } });
  });
});

describe('Webex emulator webhooks and test API', () => {
  it('delivers a signed messages:created for an analyst mention, but not for unmentioned or bot messages', async () => {
    await registerHook('messages');
    const room = (await (await testApi('/rooms', { title: 'SOC', members: ['alice@example.com'] })).json()) as { id: string };
    await testApi(`/rooms/${room.id}/messages`, { personEmail: 'alice@example.com', text: 'chatting among humans' });
    await rest('/messages', { method: 'POST', body: { roomId: room.id, text: 'bot speaking' } });
    const res = await testApi(`/rooms/${room.id}/messages`, { personEmail: 'alice@example.com', text: 'hunt now', mentionBot: true });
    expect(res.status).toBe(201);
    const message = (await res.json()) as { id: string; text: string; mentionedPeople: string[] };
    expect(message.text).toBe('Sightline hunt now');
    expect(message.mentionedPeople).toEqual([emu.bot.id]);
    await emu.deliveriesIdle();

    expect(received).toHaveLength(1);
    const [delivery] = received;
    expect(delivery!.headers['x-spark-signature']).toBe(createHmac('sha1', 'hook-secret').update(delivery!.raw).digest('hex'));
    const body = JSON.parse(delivery!.raw) as Record<string, unknown>;
    expect(body).toMatchObject({ name: 'test', resource: 'messages', event: 'created', targetUrl: receiverUrl, actorId: expect.any(String), data: { id: message.id, roomId: room.id, personEmail: 'alice@example.com' } });
    expect(JSON.stringify(body['data'])).not.toContain('hunt now');
  });

  it('delivers 1:1 messages without a mention and card clicks to an attachmentActions webhook', async () => {
    await registerHook('messages');
    await registerHook('attachmentActions');
    const direct = (await (await testApi('/direct', { personEmail: 'bob@example.com', text: 'status' })).json()) as { roomId: string; roomType: string };
    expect(direct.roomType).toBe('direct');
    const card = (await (await rest('/messages', { method: 'POST', body: { roomId: direct.roomId, markdown: 'pick', attachments: [{ contentType: 'application/vnd.microsoft.card.adaptive', content: { type: 'AdaptiveCard', version: '1.3', body: [] } }] } })).json()) as { id: string };
    const action = (await (await testApi('/actions', { personEmail: 'bob@example.com', messageId: card.id, inputs: { choice: 'a' } })).json()) as { id: string };
    await emu.deliveriesIdle();
    const bodies = received.map((r) => JSON.parse(r.raw) as { resource: string; data: { id: string } });
    expect(bodies.map((b) => b.resource)).toEqual(['messages', 'attachmentActions']);
    expect(bodies[1]!.data.id).toBe(action.id);
  });

  it('injects faults and reports stats over HTTP', async () => {
    expect((await testApi('/faults', { pathPattern: '^/v1/people/me$', status: 503, count: 1 })).status).toBe(204);
    expect((await rest('/people/me')).status).toBe(503);
    expect((await rest('/people/me')).status).toBe(200);
    const people = (await (await testApi('/people')).json()) as { items: { emails: string[] }[] };
    expect(people.items.flatMap((p) => p.emails)).toEqual(expect.arrayContaining(['alice@example.com', 'mallory@evil.example']));
    const stats = (await (await testApi('/stats')).json()) as { requests: number };
    expect(stats.requests).toBe(2);
  });

  it('streams room, membership and message events over Server-Sent Events', async () => {
    const controller = new AbortController();
    const res = await fetch(`${emu.url}/_emulator/events`, { signal: controller.signal });
    const reader = res.body!.getReader();
    const room = emu.createRoomAsPerson('SOC', ['alice@example.com']);
    emu.postAsPerson('alice@example.com', room.id, 'hello', { mentionBot: true });
    let text = '';
    while (!text.includes('event: message')) text += new TextDecoder().decode((await reader.read()).value);
    controller.abort();
    expect(text).toContain('event: room');
    expect(text).toContain('event: membership');
    expect(text).toContain('"text":"Sightline hello"');
  });

  it('waitForMessage resolves for a future bot post', async () => {
    const room = emu.createRoomAsPerson('SOC', ['alice@example.com']);
    const waiting = emu.waitForMessage((m) => m.personId === emu.bot.id);
    await rest('/messages', { method: 'POST', body: { roomId: room.id, markdown: '**done**' } });
    await expect(waiting).resolves.toMatchObject({ roomId: room.id, markdown: '**done**', text: 'done' });
  });
});
