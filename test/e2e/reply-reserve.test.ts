import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SANDBOX_SIGHTINGS_SECRET } from '../../src/sandbox/world.js';
import { signedSightingsHeaders } from '../../src/transport/http/sightings/auth.js';
import { startRunningBot, waitUntil, type RunningBot } from '../../src/sandbox/running-bot.js';

const LIMIT = 6;
const TARGETS = 9;

function sighting(host: string) {
  return { target_type: 'hostname', target_value: host, ioc_type: 'domain', ioc_value: 'evil.example', event_source: 'EDR', target_observed_time: '2026-11-20T08:00:00.000Z' };
}

/**
 * The whole bot at WEBEX_MAX_MESSAGES_PER_MINUTE=6: nine new incidents queue nine cards, more than a
 * minute's allowance. An analyst's command typed meanwhile is answered at once from the share kept
 * for replies; with one first-come-first-served queue it waited for the next window (61 s).
 */
describe('chat replies during a burst of cards', () => {
  let bot: RunningBot;
  beforeAll(async () => {
    bot = await startRunningBot({ WEBEX_MAX_MESSAGES_PER_MINUTE: String(LIMIT), CORRELATION_COALESCE_MS: '100' });
  });
  afterAll(async () => {
    await bot?.stop();
  });

  it('answers a command while cards wait for the next minute, and still posts at most the limit in the window', async () => {
    const { webex } = bot.world;
    const raw = JSON.stringify(Array.from({ length: TARGETS }, (_, i) => sighting(`host-${i}.corp.example`)));
    const res = await request(`${bot.app.http.url}/api/v1/sightings`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...signedSightingsHeaders(SANDBOX_SIGHTINGS_SECRET, raw) },
      body: raw,
    });
    expect(res.statusCode).toBe(202);
    await res.body.dump();
    const incidentsRoom = await waitUntil(() => webex.rooms().find((r) => r.title === 'Sightline Incidents'), 'the incidents room');
    const cards = () => webex.messages(incidentsRoom.id).filter((m) => m.personId === webex.bot.id);
    // The cards' share of the minute is used up: the rest wait for the next window.
    await waitUntil(() => cards().length >= LIMIT - 1, 'the first cards', 10_000);
    await new Promise((r) => setTimeout(r, 300));
    expect(cards()).toHaveLength(LIMIT - 1);

    const roomId = webex.createRoomAsPerson('Analysts', ['alice@example.com']).id;
    const sent = webex.postAsPerson('alice@example.com', roomId, 'incidents', { mentionBot: true });
    // Without the reserve the reply waited for the cards' next window, far past this wait.
    const reply = await webex.waitForMessage((m) => m.roomId === roomId && m.personId === webex.bot.id && m.parentId === sent.id, 10_000);
    expect(`${reply.markdown ?? ''}`).toMatch(/host-\d\.corp\.example/);
    // Together, cards and the reply stay within the bot's limit for the window.
    const mine = webex.messages(incidentsRoom.id).concat(webex.messages(roomId)).filter((m) => m.personId === webex.bot.id);
    expect(mine.length).toBeLessThanOrEqual(LIMIT);
  }, 30_000);
});
