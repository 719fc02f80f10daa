import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSharedApp, type SharedApp } from '../../src/app/shared/index.js';
import { loadConfig } from '../../src/config/load.js';
import { createLogger } from '../../src/core/logger.js';
import { freePort } from '../../src/sandbox/free-port.js';
import { waitUntil } from '../../src/sandbox/running-bot.js';
import { SANDBOX_ADMINS, SANDBOX_SIGHTINGS_SECRET, startWorld, type EmulatedWorld } from '../../src/sandbox/world.js';
import { createPool } from '../../src/store/postgres/pool.js';
import { signedSightingsHeaders } from '../../src/transport/http/sightings/auth.js';
import { createTestDatabase, testPostgres, type TestDatabase } from '../support/postgres.js';

const server = await testPostgres();

function sighting(host: string, n: number) {
  const at = new Date(Date.UTC(2026, 10, 20, 8, 0, n)).toISOString();
  return { target_type: 'hostname', target_value: host, ioc_type: 'domain', ioc_value: 'evil.example', event_source: 'AMP for Endpoints', target_observed_time: at, id: `pg-e2e-${host}-${n}` };
}

async function post(url: string, body: unknown) {
  const raw = JSON.stringify(body);
  const res = await request(`${url}/api/v1/sightings`, { method: 'POST', headers: { 'content-type': 'application/json', ...signedSightingsHeaders(SANDBOX_SIGHTINGS_SECRET, raw) }, body: raw });
  return { status: res.statusCode, body: (await res.body.json()) as Record<string, unknown> };
}

describe.skipIf(!server)('two instances on one PostgreSQL database (DATABASE_URL), end to end', () => {
  let world: EmulatedWorld;
  let db: TestDatabase;
  const apps: SharedApp[] = [];

  beforeAll(async () => {
    world = await startWorld();
    db = await createTestDatabase(server!);
    const logger = createLogger({ level: 'silent' });
    for (let i = 0; i < 2; i++) {
      const config = loadConfig(world.env({ HTTP_PORT: String(await freePort()), DATABASE_URL: db.url, LEADER_POLL_SECONDS: '1', CORRELATION_COALESCE_MS: '100', WEBEX_MODE: 'websocket' }));
      apps.push(await startSharedApp({ config, logger }));
    }
  }, 60_000);
  afterAll(async () => {
    for (const app of apps) await app.stop(5000);
    await world?.stop();
    await db?.drop();
  });

  it('counts sightings sent to either instance once, into one incident per target, with one card each; one leader; chat answered once', async () => {
    await waitUntil(() => (apps.filter((a) => a.isLeader()).length === 1 ? true : undefined), 'a leader', 10_000);
    const hosts = ['pg-host-1', 'pg-host-2', 'pg-host-3'];
    for (let n = 0; n < 12; n++) {
      const app = apps[n % 2]!;
      const res = await post(app.http.url, sighting(hosts[n % 3]!, n));
      expect(res.status).toBe(202);
    }
    // The same ids again, on the other instance: duplicates, counted nowhere.
    const again = await post(apps[1]!.http.url, [sighting(hosts[0]!, 0), sighting(hosts[1]!, 1)]);
    expect(again.body).toMatchObject({ accepted: 0, duplicates: 2 });

    const pool = createPool({ url: db.url });
    try {
      // Asked of the database, so polled here (waitUntil's probe is synchronous).
      let counts: Array<{ target_key: string; count: number }> = [];
      for (const deadline = Date.now() + 30_000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 100))) {
        const { rows } = await pool.query<{ target_key: string; count: number }>('SELECT target_key, count FROM incidents WHERE closed_at IS NULL ORDER BY target_key');
        counts = rows;
        if (rows.length === 3 && rows.every((r) => Number(r.count) === 4)) break;
      }
      expect(counts.map((r) => Number(r.count))).toEqual([4, 4, 4]);
      expect(counts.map((r) => r.target_key)).toEqual(hosts.map((h) => `hostname:${h}`));

      const incidentsRoom = await waitUntil(() => world.webex.rooms().find((r) => r.title === 'Sightline Incidents'), 'the incidents room', 15_000);
      const cards = await waitUntil(() => {
        const found = world.webex.messages(incidentsRoom.id).filter((m) => !m.parentId && m.attachments?.length);
        return found.length >= 3 ? found : undefined;
      }, 'the three cards', 15_000);
      await new Promise((r) => setTimeout(r, 1000));
      expect(world.webex.messages(incidentsRoom.id).filter((m) => !m.parentId && m.attachments?.length)).toHaveLength(cards.length);
      expect(cards).toHaveLength(3);

      // Both instances hold a websocket: an analyst's command reaches both, and is answered once.
      const room = world.webex.createRoomAsPerson('PG e2e', [SANDBOX_ADMINS[0]!]);
      const asked = world.webex.postAsPerson(SANDBOX_ADMINS[0]!, room.id, 'incidents', { mentionBot: true });
      await waitUntil(() => world.webex.messages(room.id).find((m) => m.id !== asked.id), 'the answer', 15_000);
      await new Promise((r) => setTimeout(r, 1500));
      const answers = world.webex.messages(room.id).filter((m) => m.id !== asked.id);
      expect(answers).toHaveLength(1);
      expect(answers[0]!.markdown ?? answers[0]!.text).toMatch(/pg-host-1/);
    } finally {
      await pool.end();
    }
  }, 90_000);
});
