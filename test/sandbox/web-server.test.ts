import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import nodemailer from 'nodemailer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SmtpEmulator } from '../../src/emulators/smtp/server.js';
import { WebexEmulator } from '../../src/emulators/webex/emulator.js';
import { buildSandboxSightings, guessIocType, startSandboxWeb, type MailView, type SandboxWeb } from '../../src/sandbox/web-server.js';
import { verifySightingsRequest } from '../../src/transport/http/sightings/auth.js';
import { parseSightingsBody } from '../../src/transport/http/sightings/schemas.js';

const SECRET = 'sandbox-hmac-secret-0123456789';

/** Reads an SSE response until `done` says the text so far is enough. */
async function readSse(res: Response, done: (text: string) => boolean): Promise<string> {
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let text = '';
  while (!done(text)) {
    const { value, done: ended } = await reader.read();
    if (ended) break;
    text += decoder.decode(value, { stream: true });
  }
  await reader.cancel();
  return text;
}

describe('buildSandboxSightings', () => {
  const now = new Date('2026-11-25T10:00:00.000Z');

  it('builds `count` 7-field payloads that Sightline accepts as distinct sightings of one target and IOC', () => {
    const payload = buildSandboxSightings({ target: 'heimdallr', ioc: 'https://ictoms.site/ictom.zip', count: 3 }, now);
    expect(payload).toHaveLength(3);
    expect(Object.keys(payload[0]!).sort()).toEqual(['event_source', 'ioc_type', 'ioc_value', 'sighting_json', 'target_observed_time', 'target_type', 'target_value']);
    expect(payload[0]).toMatchObject({ target_type: 'hostname', target_value: 'heimdallr', ioc_type: 'url', event_source: 'sandbox', target_observed_time: now.toISOString() });
    const ctim = JSON.parse(payload[0]!.sighting_json) as Record<string, unknown>;
    expect(ctim).not.toHaveProperty('id');
    expect(ctim).toMatchObject({ type: 'sighting', targets: [{ observables: [{ type: 'hostname', value: 'heimdallr' }] }], observables: [{ type: 'url', value: 'https://ictoms.site/ictom.zip' }] });

    const parsed = parseSightingsBody(JSON.parse(JSON.stringify(payload)));
    expect(parsed.problems).toEqual([]);
    expect(parsed.items).toHaveLength(3);
    expect(new Set(parsed.items.map((i) => i.dedupeKey)).size).toBe(3);
    expect(parsed.items.every((i) => i.ioc.value === 'https://ictoms.site/ictom.zip' && i.source === 'sandbox')).toBe(true);
  });

  it('keeps an explicit IOC type and refuses a hostname with spaces', () => {
    expect(buildSandboxSightings({ target: 'h1', ioc: 'ictoms.site', iocType: 'domain' }, now)[0]!.ioc_type).toBe('domain');
    expect(() => buildSandboxSightings({ target: 'two words', ioc: 'x.example' }, now)).toThrow(/no spaces/);
  });

  it.each([
    ['https://ictoms.site/ictom.zip', 'url'],
    ['hxxp://bad.example/x', 'url'],
    ['e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855', 'sha256'],
    ['da39a3ee5e6b4b0d3255bfef95601890afd80709', 'sha1'],
    ['d41d8cd98f00b204e9800998ecf8427e', 'md5'],
    ['192.168.70.220', 'ip'],
    ['2001:db8::1', 'ipv6'],
    ['phish@evil.example', 'email'],
    ['ictoms.site', 'domain'],
  ])('guesses %s is a %s', (value, type) => {
    expect(guessIocType(value)).toBe(type);
  });
});

describe('startSandboxWeb', () => {
  let webex: WebexEmulator;
  let smtp: SmtpEmulator;
  let smtpPort: number;
  let sightline: Server;
  let web: SandboxWeb;
  let webWithoutSightings: SandboxWeb;
  const received: { verified: boolean; body: unknown }[] = [];
  let answerStatus = 202;

  beforeAll(async () => {
    webex = new WebexEmulator();
    const { url: webexUrl } = await webex.start();
    smtp = new SmtpEmulator();
    ({ port: smtpPort } = await smtp.start());
    // A stand-in for Sightline's sightings route: checks the signature with Sightline's own verifier.
    const app = express();
    app.post('/api/sightings', express.raw({ type: '*/*' }), (req, res) => {
      const auth = verifySightingsRequest(
        { hmacSecret: SECRET },
        { signature: req.get('x-sightline-signature'), timestamp: req.get('x-sightline-timestamp') },
        req.body as Buffer,
        new Date(),
      );
      const body = JSON.parse((req.body as Buffer).toString('utf8')) as unknown;
      received.push({ verified: auth.ok, body });
      res.status(auth.ok ? answerStatus : 401).json(auth.ok ? { accepted: (body as unknown[]).length } : { message: auth.reason });
    });
    sightline = createServer(app);
    await new Promise<void>((resolve) => sightline.listen(0, '127.0.0.1', resolve));
    const sightingsUrl = `http://127.0.0.1:${(sightline.address() as AddressInfo).port}/api/sightings`;
    web = await startSandboxWeb({ webexUrl, smtp, sightings: { url: sightingsUrl, hmacSecret: SECRET } });
    webWithoutSightings = await startSandboxWeb({ webexUrl, smtp });
  });

  afterAll(async () => {
    await web?.stop();
    await webWithoutSightings?.stop();
    await new Promise<void>((resolve) => sightline?.close(() => resolve()));
    await smtp?.stop();
    await webex?.stop();
  });

  const postSightings = (base: SandboxWeb, body: unknown) =>
    fetch(`${base.url}/api/sightings`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

  it('serves the page and both browser bundles', async () => {
    const page = await fetch(web.url);
    expect(await page.text()).toContain('/vendor/adaptivecards.js');
    const md = await fetch(`${web.url}/vendor/markdown-it.mjs`);
    expect(md.headers.get('content-type')).toMatch(/javascript/);
    expect(await md.text()).toMatch(/export\s*\{/);
    const ac = await fetch(`${web.url}/vendor/adaptivecards.js`);
    expect(await ac.text()).toContain('AdaptiveCards');
    expect((await fetch(`${web.url}/vendor/adaptivecards.css`)).status).toBe(200);
  });

  it('proxies the emulator test API, including its live SSE stream', async () => {
    const people = (await (await fetch(`${web.url}/_emulator/people`)).json()) as { items: { type: string }[] };
    expect(people.items[0]?.type).toBe('bot');

    const events = await fetch(`${web.url}/_emulator/events`);
    expect(events.headers.get('content-type')).toBe('text/event-stream');
    const streamed = readSse(events, (t) => t.includes('"Proxy Room"'));
    const created = await fetch(`${web.url}/_emulator/rooms`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ title: 'Proxy Room', members: ['alice@example.com'] }) });
    expect(created.status).toBe(201);
    expect(await streamed).toMatch(/event: room\ndata: \{"room":\{"id":"[^"]+","title":"Proxy Room"/);

    const bad = await fetch(`${web.url}/_emulator/rooms`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(bad.status).toBe(400);
  });

  it('lists e-mail and streams new e-mail', async () => {
    const events = await fetch(`${web.url}/api/mail/events`);
    const streamed = readSse(events, (t) => t.includes('event: mail'));
    await nodemailer.createTransport({ host: '127.0.0.1', port: smtpPort, secure: false }).sendMail({ from: 'sightline@localhost', to: 'soc@example.com', subject: 'Hunt finished', text: 'No targets.' });
    const frame = /data: (.+)\n/.exec(await streamed)?.[1];
    const live = JSON.parse(frame!) as MailView;
    expect(live).toMatchObject({ from: 'sightline@localhost', to: ['soc@example.com'], subject: 'Hunt finished', text: 'No targets.' });
    const { items } = (await (await fetch(`${web.url}/api/mail`)).json()) as { items: MailView[] };
    expect(items).toEqual([live]);
  });

  it('signs and posts sightings to Sightline and returns its answer', async () => {
    const res = await postSightings(web, { target: 'heimdallr', ioc: '192.168.70.220', count: 2 });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ sent: 2, sightlineStatus: 202, answer: { accepted: 2 } });
    const last = received.at(-1)!;
    expect(last.verified).toBe(true);
    expect(last.body).toMatchObject([{ target_value: 'heimdallr', ioc_type: 'ip', ioc_value: '192.168.70.220' }, { target_value: 'heimdallr' }]);
  });

  it("passes Sightline's refusal through instead of hiding it", async () => {
    answerStatus = 422;
    try {
      const res = await postSightings(web, { target: 'heimdallr', ioc: 'ictoms.site' });
      expect(await res.json()).toMatchObject({ sent: 1, sightlineStatus: 422 });
    } finally {
      answerStatus = 202;
    }
  });

  it('refuses a bad form with the reason, and says how to turn sending on when it is off', async () => {
    const before = received.length;
    const bad = await postSightings(web, { target: '', ioc: 'x', count: 0 });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { message: string }).message).toMatch(/target.*count/s);
    const off = await postSightings(webWithoutSightings, { target: 'heimdallr', ioc: 'x.example' });
    expect(off.status).toBe(503);
    expect(((await off.json()) as { message: string }).message).toContain('sightings: { url, hmacSecret }');
    expect(await (await fetch(`${webWithoutSightings.url}/api/config`)).json()).toEqual({ sightingsEnabled: false });
    expect(received.length).toBe(before);
  });
});
