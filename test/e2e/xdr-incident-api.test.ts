import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { SANDBOX_SIGHTINGS_SECRET } from '../../src/sandbox/world.js';
import { signedSightingsHeaders } from '../../src/transport/http/sightings/auth.js';
import { startRunningBot, type RunningBot } from '../../src/sandbox/running-bot.js';

/**
 * Issue 18, done-when, through the whole bot: the same sightings give the same XDR
 * incidents with XDR_INCIDENT_API=private-intel and =ctia — one per target, the
 * counts, related-to after a console close, a console Hold that keeps counting —
 * with severity, scores, promotion method, detection sources and MITRE ids set.
 */
function sighting(host: string, n: number, extra: Record<string, unknown> = {}) {
  const at = new Date(Date.UTC(2026, 10, 20, 8, 0, n)).toISOString();
  return {
    target_type: 'hostname',
    target_value: host,
    ioc_type: 'domain',
    ioc_value: 'evil.example',
    event_source: n % 2 ? 'AMP for Endpoints' : 'Umbrella',
    target_observed_time: at,
    sighting_json: JSON.stringify({ type: 'sighting', external_ids: [`parity-${host}-${n}`], observed_time: { start_time: at }, ...extra }),
  };
}

let bot: RunningBot | undefined;
afterEach(async () => {
  await bot?.stop();
  bot = undefined;
});

async function post(body: unknown): Promise<void> {
  const raw = JSON.stringify(body);
  const res = await request(`${bot!.app.http.url}/api/v1/sightings`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...signedSightingsHeaders(SANDBOX_SIGHTINGS_SECRET, raw) },
    body: raw,
  });
  expect(res.statusCode).toBe(202);
  await res.body.dump();
  await bot!.app.intake.idle();
  await bot!.app.engine.syncPending();
}

async function run(api: 'private-intel' | 'ctia') {
  bot = await startRunningBot({ XDR_INCIDENT_API: api, CORRELATION_COALESCE_MS: '0' });
  const { xdr } = bot.world;
  await post([sighting('WS-1', 1, { tactics: ['TA0011'], techniques: ['T1071.004'] }), sighting('WS-1', 2), sighting('WS-1', 3), sighting('WS-2', 4)]);
  const local = () => Object.values(bot!.app.engine.state().incidents);
  const ws1 = local().find((i) => i.targetValue === 'ws-1')!;
  const ws2 = local().find((i) => i.targetValue === 'ws-2')!;
  xdr.setIncidentStatus(ws1.xdrId!, 'Closed: Confirmed Threat');
  xdr.setIncidentStatus(ws2.xdrId!, 'Hold: Legal');
  const synced = await bot.app.engine.syncStatuses();
  await post([sighting('WS-1', 5), sighting('WS-2', 6)]);
  const ours = xdr.state.incident.filter((i) => i.source === 'sightline');
  const calls = xdr.calls.filter((c) => /incident/.test(c.path)).map((c) => c.path);
  return {
    synced,
    local: local().map((i) => [i.targetValue, i.count, i.status]),
    xdr: ours.map((i) => [i.title, (i.meta as { sighting_count: number }).sighting_count, i.status, i.severity, i.scores, i.promotion_method, i.detection_sources, i.tactics, i.techniques]),
    related: xdr.state.relationship.filter((r) => r.relationship_type === 'related-to').map((r) => [ours.findIndex((i) => i.id === r.source_ref), ours.findIndex((i) => i.id === r.target_ref)]),
    members: xdr.state.relationship.filter((r) => r.relationship_type === 'member-of').length,
    viaIroh: calls.length > 0 && calls.every((p) => p.startsWith('/iroh/private-intel/incident')),
    viaCtia: calls.length > 0 && calls.every((p) => p.startsWith('/ctia/incident')),
  };
}

describe('XDR_INCIDENT_API, end to end through the bot', () => {
  it('private-intel and ctia give the same incidents', async () => {
    const { viaIroh, viaCtia: _c1, ...iroh } = await run('private-intel');
    await bot!.stop();
    bot = undefined;
    const { viaCtia, viaIroh: _i2, ...ctia } = await run('ctia');
    expect(viaIroh).toBe(true);
    expect(viaCtia).toBe(true);
    expect(iroh).toEqual(ctia);
    expect(iroh.synced).toEqual({ checked: 2, closed: 1 });
    expect(iroh.local).toEqual([
      ['ws-1', 3, 'Closed: Confirmed Threat'],
      ['ws-2', 2, 'Hold: Legal'],
      ['ws-1', 1, 'New'],
    ]);
    expect(iroh.xdr).toEqual([
      ['Correlated incident for: ws-1 [by Sightline]', 3, 'Closed: Confirmed Threat', 'High', { ttp: 70, global: 74 }, 'Automated', ['AMP for Endpoints', 'Umbrella'], ['TA0011'], ['T1071.004']],
      ['Correlated incident for: ws-2 [by Sightline]', 2, 'Hold: Legal', 'Medium', { ttp: 50, global: 52 }, 'Automated', ['Umbrella'], undefined, undefined],
      ['Correlated incident for: ws-1 [by Sightline]', 1, 'New', 'Low', { ttp: 30, global: 30 }, 'Automated', ['AMP for Endpoints'], undefined, undefined],
    ]);
    expect(iroh.related).toEqual([[0, 2]]);
    expect(iroh.members).toBe(6);
  });
});
