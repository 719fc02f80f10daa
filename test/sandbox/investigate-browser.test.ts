import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SANDBOX_INVESTIGATE_EXAMPLE } from '../../src/sandbox/demo/investigate.js';
import { startRunningBot, waitUntil, type RunningBot } from '../../src/sandbox/running-bot.js';
import { startSandboxWeb, type SandboxWeb } from '../../src/sandbox/web-server.js';
import { roomItemByTitle, SANDBOX } from '../../src/sandbox/web/selectors.js';

/**
 * `investigate` as an analyst does it in the sandbox: the whole bot against the
 * emulators, the Webex-like page in headless Chromium. Types the demo paste, sees
 * the card, clicks "Block this domain", confirms, and sees the result.
 */
const CHROMIUM = '/usr/bin/chromium';
const SCREENSHOTS = path.resolve(process.cwd(), 'artifacts/screenshots');

describe.skipIf(!existsSync(CHROMIUM))(`investigate in the sandbox, in Chromium (skipped when ${CHROMIUM} is missing)`, () => {
  let bot: RunningBot;
  let web: SandboxWeb;
  let profileDir: string;
  let context: BrowserContext;
  let page: Page;
  const shot = (name: string) => page.screenshot({ path: path.join(SCREENSHOTS, `${name}.png`) });

  beforeAll(async () => {
    await mkdir(SCREENSHOTS, { recursive: true });
    bot = await startRunningBot();
    bot.world.webex.createRoomAsPerson('SOC sandbox', ['alice@example.com', 'bob@example.com']);
    web = await startSandboxWeb({ webexUrl: bot.world.webex.url, smtp: bot.world.smtp });
    profileDir = await mkdtemp(path.join(tmpdir(), 'sightline-chromium-'));
    context = await chromium.launchPersistentContext(profileDir, {
      executablePath: CHROMIUM,
      headless: true,
      viewport: { width: 1360, height: 1000 },
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    page = await context.newPage();
    await page.goto(web.url);
    await page.waitForSelector('body[data-ready="true"]');
  }, 60_000);

  afterAll(async () => {
    await context?.close();
    await web?.stop();
    await bot?.stop();
    if (profileDir) await rm(profileDir, { recursive: true, force: true });
  });

  it('investigate → card → Block this domain → Confirm → success', async () => {
    await page.click(roomItemByTitle('SOC sandbox'));
    await page.fill(SANDBOX.compose, SANDBOX_INVESTIGATE_EXAMPLE);
    await page.press(SANDBOX.compose, 'Enter');

    const card = page.locator(SANDBOX.card, { hasText: 'Investigation' }).first();
    await card.waitFor({ timeout: 20_000 });
    const cardText = await card.textContent();
    for (const expected of ['Malicious', 'Suspicious', 'Clean', 'Unknown', 'DESKTOP-AU3IP5K', 'Secure Endpoint']) expect(cardText).toContain(expected);
    await card.scrollIntoViewIfNeeded();
    await shot('investigate-card');

    const before = bot.world.xdr.triggered.length;
    await card.locator(SANDBOX.cardButton, { hasText: 'Block this domain' }).first().click();
    const confirmCard = page.locator(SANDBOX.card, { hasText: 'Confirm response action' }).first();
    await confirmCard.waitFor({ timeout: 15_000 });
    expect(bot.world.xdr.triggered.length).toBe(before);
    await shot('investigate-confirm');

    await confirmCard.locator(SANDBOX.cardButton, { hasText: 'Confirm' }).first().click();
    await waitUntil(() => bot.world.xdr.triggered.length > before || undefined, 'the block action to run');
    await page.locator(SANDBOX.messageText, { hasText: /success/ }).first().waitFor({ timeout: 15_000 });
    await shot('investigate-done');
    expect(bot.world.xdr.triggered.slice(before)).toEqual([expect.objectContaining({ actionId: 'block', observable: { type: 'domain', value: 'api.ipify.org' } })]);
  }, 120_000);
});
