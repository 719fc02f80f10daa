import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import express from 'express';
import nodemailer from 'nodemailer';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SmtpEmulator } from '../../src/emulators/smtp/server.js';
import { WebexEmulator } from '../../src/emulators/webex/emulator.js';
import type { EmuAction, EmuMessage } from '../../src/emulators/webex/model.js';
import { startSandboxWeb, type SandboxWeb } from '../../src/sandbox/web-server.js';
import { verifySightingsRequest } from '../../src/transport/http/sightings/auth.js';
import { parseSightingsBody } from '../../src/transport/http/sightings/schemas.js';
import { messageById, roomItemByTitle, SANDBOX } from '../../src/sandbox/web/selectors.js';

/**
 * The sandbox page in a real headless Chromium, against a real Webex emulator and
 * SMTP emulator. The test plays the bot itself through the emulator's REST API
 * with the bot token (Sightline is not wired in here).
 */
const CHROMIUM = '/usr/bin/chromium';
const hasChromium = existsSync(CHROMIUM);
const SCREENSHOTS = path.resolve(process.cwd(), 'artifacts/screenshots');
const ALICE = 'alice@example.com';
const BOB = 'bob@example.com';

const card = {
  $schema: 'http://adaptivecards.io/schemas/adaptive-card.json',
  type: 'AdaptiveCard',
  version: '1.3',
  body: [
    { type: 'TextBlock', text: 'Target found: heimdallr', size: 'Large', weight: 'Bolder', wrap: true, color: 'Attention' },
    { type: 'TextBlock', text: 'Seen talking to **ictoms.site** by _AMP for Endpoints_.', wrap: true },
    { type: 'FactSet', facts: [{ title: 'Incident', value: 'incident-7f3c' }, { title: 'Sightings', value: '3' }] },
  ],
  actions: [
    { type: 'Action.Submit', title: 'Close incident', data: { action: 'close_incident', incidentId: 'incident-7f3c' } },
    { type: 'Action.OpenUrl', title: 'Open in XDR', url: 'https://xdr.us.security.cisco.com/incidents/incident-7f3c' },
  ],
};

describe.skipIf(!hasChromium)(`sandbox page in Chromium (skipped when ${CHROMIUM} is missing: apt-get install chromium)`, () => {
  let webex: WebexEmulator;
  let smtp: SmtpEmulator;
  let smtpPort: number;
  let web: SandboxWeb;
  let profileDir: string;
  let context: BrowserContext;
  let page: Page;
  const pageErrors: string[] = [];

  async function asBot<T>(method: string, urlPath: string, body: unknown): Promise<T> {
    const res = await fetch(`${webex.apiBase}${urlPath}`, {
      method,
      headers: { authorization: `Bearer ${webex.botToken}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    expect(res.status, await res.clone().text()).toBeLessThan(300);
    return (await res.json()) as T;
  }

  const shot = (name: string) => page.screenshot({ path: path.join(SCREENSHOTS, `${name}.png`) });

  beforeAll(async () => {
    await mkdir(SCREENSHOTS, { recursive: true });
    webex = new WebexEmulator();
    const { url: webexUrl } = await webex.start();
    smtp = new SmtpEmulator();
    ({ port: smtpPort } = await smtp.start());
    web = await startSandboxWeb({ webexUrl, smtp });
    profileDir = await mkdtemp(path.join(tmpdir(), 'sightline-chromium-'));
    context = await chromium.launchPersistentContext(profileDir, {
      executablePath: CHROMIUM,
      headless: true,
      viewport: { width: 1360, height: 860 },
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    page = context.pages()[0] ?? (await context.newPage());
    page.on('pageerror', (err) => pageErrors.push(err.message));
    await page.goto(web.url);
    await page.locator('body[data-ready="true"]').waitFor();
  }, 60_000);

  afterAll(async () => {
    await context?.close();
    await web?.stop();
    await smtp?.stop();
    await webex?.stop();
    if (profileDir) await rm(profileDir, { recursive: true, force: true });
  });

  it('shows a space the bot creates, live, and renders its markdown, card and threaded reply', async () => {
    const room = await asBot<{ id: string }>('POST', '/rooms', { title: 'SOC Hunt' });
    await asBot('POST', '/memberships', { roomId: room.id, personEmail: ALICE });
    await page.locator(roomItemByTitle('SOC Hunt')).waitFor();

    const intro = await asBot<EmuMessage>('POST', '/messages', { roomId: room.id, markdown: 'Weekly hunt **finished**: 1 target found.' });
    const withCard = await asBot<EmuMessage>('POST', '/messages', {
      roomId: room.id,
      markdown: 'Target found: heimdallr (your client cannot show cards)',
      attachments: [{ contentType: 'application/vnd.microsoft.card.adaptive', content: card }],
    });
    await asBot('POST', '/messages', { roomId: room.id, parentId: intro.id, markdown: 'Details are in the `#soc` mailbox.' });

    await page.locator(roomItemByTitle('SOC Hunt')).click();
    await expect.poll(() => page.locator(SANDBOX.roomTitle).textContent()).toBe('SOC Hunt');

    const introEl = page.locator(messageById(intro.id));
    expect(await introEl.locator(`${SANDBOX.messageText} strong`).textContent()).toBe('finished');
    expect(await introEl.locator(SANDBOX.messageAuthor).first().textContent()).toBe('Sightline');
    // The reply sits inside its parent's thread, not in the main stream.
    const reply = introEl.locator(`${SANDBOX.thread} ${SANDBOX.message}`);
    await reply.waitFor();
    expect(await reply.locator('code').textContent()).toBe('#soc');

    const cardEl = page.locator(`${messageById(withCard.id)} ${SANDBOX.card}`);
    await cardEl.waitFor();
    expect(await cardEl.textContent()).toContain('Target found: heimdallr');
    expect(await cardEl.locator('strong').textContent()).toBe('ictoms.site');
    expect(await cardEl.textContent()).toContain('incident-7f3c');
    // Webex shows the card, not the fallback markdown.
    expect(await page.locator(messageById(withCard.id)).textContent()).not.toContain('cannot show cards');
    await shot('space-with-card');
  });

  it('sends a card click as the chosen analyst and the compose box posts with a bot mention', async () => {
    const alice = webex.people().find((p) => p.emails.includes(ALICE))!;
    const bob = webex.people().find((p) => p.emails.includes(BOB))!;
    const room = webex.rooms().find((r) => r.title === 'SOC Hunt')!;
    const cardMessage = webex.messages(room.id).find((m) => m.attachments)!;

    const clicked = new Promise<EmuAction>((resolve) => webex.events.once('action', ({ action }) => resolve(action)));
    await page.locator(messageById(cardMessage.id)).locator(SANDBOX.cardButton, { hasText: 'Close incident' }).click();
    const action = await clicked;
    expect(action).toMatchObject({ messageId: cardMessage.id, personId: alice.id, roomId: room.id, inputs: { action: 'close_incident', incidentId: 'incident-7f3c' } });
    await page.locator(SANDBOX.cardFeedback, { hasText: 'Alice Analyst' }).waitFor();

    await page.locator(SANDBOX.compose).fill('hunt now');
    await page.locator(SANDBOX.compose).press('Enter');
    const typed = await webex.waitForMessage((m) => m.roomId === room.id && m.personId === alice.id);
    expect(typed.text).toBe('Sightline hunt now');
    expect(typed.mentionedPeople).toEqual([webex.bot.id]);
    await page.locator(`${messageById(typed.id)} .mention`).waitFor();

    await page.locator(SANDBOX.analystPicker).selectOption(BOB);
    await page.locator(SANDBOX.compose).fill('status');
    await page.locator(SANDBOX.compose).press('Enter');
    const fromBob = await webex.waitForMessage((m) => m.roomId === room.id && m.personId === bob.id);
    expect(fromBob.text).toBe('Sightline status');
    await page.locator(messageById(fromBob.id)).waitFor();
    // The box empties once the send is answered, which may come after the message shows in the room
    // (the room's stream can be faster than the POST's answer): wait for it, then check it stayed empty.
    await page.waitForFunction(`document.querySelector(${JSON.stringify(SANDBOX.compose)})?.value === ''`, undefined, { timeout: 5_000 });
    expect(await page.locator(SANDBOX.compose).inputValue()).toBe('');
    await shot('space-after-compose');
  });

  it('lists an e-mail sent to the SMTP emulator in the mailbox tab', async () => {
    await page.locator(SANDBOX.tabSpaces).click();
    await nodemailer.createTransport({ host: '127.0.0.1', port: smtpPort, secure: false }).sendMail({
      from: 'sightline@localhost',
      to: 'soc@example.com',
      subject: 'Found targets – Win.Packed.Zusy-9878674-0',
      text: 'heimdallr contacted ictoms.site\nIncident: incident-7f3c',
      html: '<p><b>heimdallr</b> contacted ictoms.site</p>',
    });
    // The badge counts mail that arrived while another view was open.
    await page.locator(SANDBOX.mailBadge, { hasText: '1' }).waitFor();
    await page.locator(SANDBOX.tabMailbox).click();
    const item = page.locator(SANDBOX.mailItem, { hasText: 'Found targets – Win.Packed.Zusy-9878674-0' });
    await item.waitFor();
    expect(await item.textContent()).toContain('soc@example.com');
    await item.click();
    expect(await page.locator(SANDBOX.mailBody).textContent()).toBe('heimdallr contacted ictoms.site\nIncident: incident-7f3c');
    expect(await page.locator(SANDBOX.mailBadge).isHidden()).toBe(true);
    await shot('mailbox');
  });

  it('says sending sightings is off when no Sightline URL is configured, and never threw in the page', async () => {
    await page.locator(SANDBOX.tabSightings).click();
    expect(await page.locator(SANDBOX.sightingsSend).isDisabled()).toBe(true);
    for (const sel of [SANDBOX.sightingsTarget, SANDBOX.sightingsIoc, SANDBOX.sightingsIocType, SANDBOX.sightingsCount]) await page.locator(sel).waitFor();
    expect(await page.locator(SANDBOX.sightingsResult).isHidden()).toBe(true);
    expect(await page.locator(SANDBOX.status).textContent()).toContain('Live');
    await shot('sightings-off');
    expect(pageErrors).toEqual([]);
  });

  it('sends signed sightings from the panel to Sightline and shows its answer', async () => {
    // A stand-in for Sightline's sightings route, checking with Sightline's own verifier and parser.
    const secret = 'browser-test-hmac-secret-0123';
    const accepted: number[] = [];
    const app = express();
    app.post('/api/sightings', express.raw({ type: '*/*' }), (req, res) => {
      const headers = { signature: req.get('x-sightline-signature'), timestamp: req.get('x-sightline-timestamp') };
      const auth = verifySightingsRequest({ hmacSecret: secret }, headers, req.body as Buffer, new Date());
      if (!auth.ok) return void res.status(401).json({ message: auth.reason });
      const parsed = parseSightingsBody(JSON.parse((req.body as Buffer).toString('utf8')));
      accepted.push(parsed.items.length);
      res.status(202).json({ accepted: parsed.items.length, problems: parsed.problems });
    });
    const sightline: Server = createServer(app);
    await new Promise<void>((resolve) => sightline.listen(0, '127.0.0.1', resolve));
    const withSightings = await startSandboxWeb({
      webexUrl: webex.url,
      smtp,
      sightings: { url: `http://127.0.0.1:${(sightline.address() as AddressInfo).port}/api/sightings`, hmacSecret: secret },
    });
    const second = await context.newPage();
    try {
      await second.goto(withSightings.url);
      await second.locator('body[data-ready="true"]').waitFor();
      await second.locator(SANDBOX.tabSightings).click();
      await second.locator(SANDBOX.sightingsTarget).fill('heimdallr');
      await second.locator(SANDBOX.sightingsIoc).fill('ictoms.site');
      await second.locator(SANDBOX.sightingsIocType).selectOption('domain');
      await second.locator(SANDBOX.sightingsCount).fill('3');
      await second.locator(SANDBOX.sightingsSend).click();
      const result = second.locator(`${SANDBOX.sightingsResult}.ok`);
      await result.waitFor();
      expect(await result.textContent()).toContain('Sent 3 sighting(s); Sightline answered 202');
      expect(accepted).toEqual([3]);
      await second.screenshot({ path: path.join(SCREENSHOTS, 'sightings-sent.png') });
    } finally {
      await second.close();
      await withSightings.stop();
      await new Promise<void>((resolve) => sightline.close(() => resolve()));
    }
  });

  it('creates a space from the rail with the bot in it', async () => {
    await page.locator(SANDBOX.newSpaceButton).click();
    await page.locator(SANDBOX.newSpaceTitle).fill('Threat Intel');
    await page.locator(SANDBOX.newSpaceTitle).press('Enter');
    await expect.poll(() => page.locator(SANDBOX.roomTitle).textContent()).toBe('Threat Intel');
    const room = webex.rooms().find((r) => r.title === 'Threat Intel');
    expect(room?.members).toEqual([BOB, webex.bot.emails[0]]);
    expect(await page.locator(SANDBOX.roomList).locator(SANDBOX.roomItem).count()).toBe(2);
  });
});
