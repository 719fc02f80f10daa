import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SANDBOX_SIGHTINGS_SECRET } from '../../src/sandbox/world.js';
import { signedSightingsHeaders } from '../../src/transport/http/sightings/auth.js';
import { startRunningBot, waitUntil, type RunningBot } from '../../src/sandbox/running-bot.js';

function sevenField(host: string, ioc: string, n: number) {
  return {
    target_type: 'hostname',
    target_value: host,
    ioc_type: 'domain',
    ioc_value: ioc,
    event_source: 'AMP for Endpoints',
    target_observed_time: new Date(Date.UTC(2026, 10, 20, 8, 0, n)).toISOString(),
    sighting_json: JSON.stringify({
      type: 'sighting',
      external_ids: [`e2e-${host}-${n}`],
      observed_time: { start_time: new Date(Date.UTC(2026, 10, 20, 8, 0, n)).toISOString() },
      observables: [{ type: 'domain', value: ioc }],
      targets: [{ type: 'endpoint', observables: [{ type: 'hostname', value: host }], observed_time: { start_time: '2026-11-20T08:00:00Z' } }],
      source: 'AMP for Endpoints',
    }),
  };
}

async function post(url: string, body: unknown) {
  const raw = JSON.stringify(body);
  const res = await request(`${url}/api/v1/sightings`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...signedSightingsHeaders(SANDBOX_SIGHTINGS_SECRET, raw) },
    body: raw,
  });
  return { status: res.statusCode, body: (await res.body.json()) as Record<string, unknown> };
}

describe('sighting correlation, end to end', () => {
  let bot: RunningBot;
  beforeAll(async () => {
    bot = await startRunningBot({ CORRELATION_COALESCE_MS: '200' });
  });
  afterAll(async () => {
    await bot?.stop();
  });

  it('opens one incident per target, counts sightings in chat, and closes from the card button', async () => {
    const { webex, xdr } = bot.world;
    const url = bot.app.http.url;
    const first = await post(url, sevenField('DESKTOP-AU3IP5K', 'evil.example', 1));
    expect(first.status).toBe(202);
    expect(first.body.accepted).toBe(1);

    const incidentsRoom = await waitUntil(() => webex.rooms().find((r) => r.title === 'Sightline Incidents'), 'the incidents room');
    const card = await webex.waitForMessage((m) => m.roomId === incidentsRoom.id && !!m.attachments?.length, 10_000);
    expect(card.markdown).toMatch(/desktop-au3ip5k/i);

    // A duplicate (same external id) and two new sightings for the same target.
    const batch = await post(url, [sevenField('DESKTOP-AU3IP5K', 'evil.example', 1), sevenField('desktop-au3ip5k', 'evil.example', 2), sevenField('DESKTOP-AU3IP5K', 'bad.example', 3)]);
    expect(batch.status).toBe(202);
    expect(batch.body).toMatchObject({ accepted: 2, duplicates: 1 });
    await bot.app.intake.idle();
    const open = await waitUntil(() => {
      const items = bot.app.engine.state().incidents;
      const list = Object.values(items).filter((i) => i.targetKey === 'hostname:desktop-au3ip5k');
      return list.length === 1 && list[0]!.count === 3 ? list[0] : undefined;
    }, 'count 3');
    expect(open.status).not.toMatch(/^Closed/);

    // XDR mirrors it: one incident with the count.
    await bot.app.engine.syncPending();
    const xdrIncidents = Object.values(xdr.state.incident ?? {}) as unknown as { description: string }[];
    expect(xdrIncidents).toHaveLength(1);
    expect(xdrIncidents[0]!.description).toContain('Current Amount of Security Events for Target: `3`');

    // Alice (an admin) clicks "Close incident" on the card.
    const cardBody = JSON.stringify(card.attachments![0]!.content);
    const closeData = /"action":"close_incident"[^}]*}/.exec(cardBody)?.[0];
    expect(closeData).toBeDefined();
    const inputs = JSON.parse(`{${closeData}`) as Record<string, unknown>;
    webex.clickCard('alice@example.com', card.id, inputs);
    await waitUntil(() => (bot.app.engine.incident(open.id)?.status.startsWith('Closed') ? true : undefined), 'the close');
    const reply = await webex.waitForMessage((m) => m.roomId === incidentsRoom.id && /closed/i.test(m.markdown ?? m.text ?? ''), 10_000);
    expect(reply).toBeDefined();

    // A sighting after the close opens a new incident linked to the old one.
    await post(url, sevenField('DESKTOP-AU3IP5K', 'evil.example', 9));
    await bot.app.intake.idle();
    const next = await waitUntil(() => Object.values(bot.app.engine.state().incidents).find((i) => i.targetKey === 'hostname:desktop-au3ip5k' && i.id !== open.id), 'the new incident');
    expect(next.previousIncidentId).toBe(open.id);
    await bot.app.engine.syncPending();
    const rels = Object.values(xdr.state.relationship ?? {}) as unknown as { relationship_type: string }[];
    expect(rels.some((r) => r.relationship_type === 'related-to')).toBe(true);
  });

  it('answers bad payloads with the field and the reason, and keeps the good ones', async () => {
    const url = bot.app.http.url;
    const mixed = await post(url, [sevenField('host-a', 'ok.example', 1), { target_type: 'hostname' }, sevenField('host-b', 'ok.example', 2)]);
    expect(mixed.status).toBe(202);
    expect(mixed.body.accepted).toBe(2);
    expect((mixed.body.rejected as { index: number; field: string }[])[0]).toMatchObject({ index: 1 });
    const bad = await post(url, [{ nope: true }]);
    expect(bad.status).toBe(422);
    const unsigned = await request(`${url}/api/v1/sightings`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '[]' });
    expect(unsigned.statusCode).toBe(401);
    await unsigned.body.dump();
  });

  it('50 concurrent deliveries for one new target give one incident counted 50', async () => {
    const url = bot.app.http.url;
    const results = await Promise.all(Array.from({ length: 50 }, (_, i) => post(url, sevenField('RACE-HOST', 'race.example', 100 + i))));
    expect(results.every((r) => r.status === 202)).toBe(true);
    await bot.app.intake.idle();
    const incidents = await waitUntil(() => {
      const list = Object.values(bot.app.engine.state().incidents).filter((i) => i.targetKey === 'hostname:race-host');
      return list.length === 1 && list[0]!.count === 50 ? list : undefined;
    }, 'one incident counted 50');
    expect(incidents).toHaveLength(1);
    await bot.app.engine.syncPending();
    const inXdr = (Object.values(bot.world.xdr.state.incident ?? {}) as unknown as { external_ids?: string[] }[]).filter((i) =>
      (i.external_ids ?? []).some((e) => e.includes('race-host')),
    );
    expect(inXdr).toHaveLength(1);
  });
});
