import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { XdrEmulator } from '../../../src/emulators/xdr/index.js';
import { api, getToken, newIncident, startEmulator } from './helpers.js';

let emu: XdrEmulator;
let token: string;
const call = (method: string, path: string, body?: unknown) => api(emu, method, path, body, token);
const short = (longId: string) => longId.split('/').pop()!;
const PI = '/iroh/private-intel/incident';

beforeAll(async () => {
  emu = await startEmulator();
});
afterAll(() => emu.stop());
beforeEach(async () => {
  emu.reset();
  token = await getToken(emu);
});

describe('XDR emulator IROH private-intel incidents', () => {
  it('creates a CTIA incident with the XDR fields, queued for enrichment, enriched by the next read', async () => {
    const res = await call('POST', PI, newIncident({ severity: 'High', scores: { ttp: 70, global: 74 }, promotion_method: 'Automated', detection_sources: ['Umbrella'], tactics: ['TA0011'], techniques: ['T1071'], enrichment_status: 'enriched' }));
    expect(res.status).toBe(201);
    expect(res.body.id).toMatch(new RegExp(`^${emu.url}/ctia/incident/incident-[0-9a-f-]{36}$`));
    expect(res.headers.get('location')).toBe(res.body.id);
    // The client cannot claim enrichment: the server owns that field.
    expect(res.body).toMatchObject({ enrichment_status: 'queued', severity: 'High', scores: { ttp: 70, global: 74 }, promotion_method: 'Automated' });
    // The same entity through CTIA (XDR stores incidents in CTIA)…
    expect((await call('GET', `/ctia/incident/${short(res.body.id)}`)).body.id).toBe(res.body.id);
    // …and by short id, bare GUID or full URL through the wrapper.
    const guid = short(res.body.id).replace(/^incident-/, '');
    for (const id of [short(res.body.id), guid, encodeURIComponent(res.body.id)]) {
      const got = await call('GET', `${PI}/${id}`);
      expect(got.status).toBe(200);
      expect(got.body).toMatchObject({ id: res.body.id, enrichment_status: 'enriched' });
    }
    expect((await call('GET', `${PI}/incident-00000000-0000-4000-8000-000000000000`)).status).toBe(404);
  });

  it('validates like the CTIA routes, including the XDR fields', async () => {
    const missing = await call('POST', PI, { title: 'x' });
    expect(missing.status).toBe(400);
    expect(missing.body.errors).toMatchObject({ status: 'missing-required-key', confidence: 'missing-required-key', incident_time: 'missing-required-key' });
    const bad = await call('POST', PI, newIncident({ severity: 'Severe', scores: { ttp: -1 }, promotion_method: 'Robot', tactics: 'TA0001', detection_status: 'sleeping' }));
    expect(bad.status).toBe(400);
    expect(Object.keys(bad.body.errors).sort()).toEqual(['detection_status', 'promotion_method', 'scores', 'severity', 'tactics']);
    // The CTIA route checks the same fields.
    expect((await call('POST', '/ctia/incident', newIncident({ scores: { global: 'high' } }))).status).toBe(400);
    expect(emu.state.incident).toHaveLength(0);
  });

  it('patches with validation and sets every XDR sub-status with CTIA stamping', async () => {
    const { body: inc } = await call('POST', PI, newIncident());
    const id = short(inc.id);
    expect((await call('PATCH', `${PI}/${id}`, { severity: 'Critical', scores: { global: 100 } })).body).toMatchObject({ severity: 'Critical', scores: { global: 100 } });
    expect((await call('PATCH', `${PI}/${id}`, { severity: 'Huge' })).status).toBe(400);
    expect((await call('PATCH', `${PI}/incident-missing`, { severity: 'Low' })).status).toBe(404);
    for (const status of ['New: Presented', 'Open: Investigating', 'Hold: Legal', 'Closed: Near-Miss']) {
      const res = await call('POST', `${PI}/${id}/status`, { status });
      expect(res.status).toBe(200);
      expect(res.body.status).toBe(status);
    }
    const after = (await call('GET', `${PI}/${id}`)).body;
    expect(after.incident_time.closed).toBeDefined();
    expect((await call('POST', `${PI}/${id}/status`, { status: 'Hold: Forever' })).status).toBe(400);
  });

  it('searches by external id (Lucene) and term filters, with high_impact, paging headers and count', async () => {
    await call('POST', PI, newIncident({ external_ids: ['sightline-incident-inc-1'], severity: 'Low' }));
    await call('POST', PI, newIncident({ external_ids: ['sightline-incident-inc-12'], severity: 'Critical' }));
    await call('POST', '/ctia/incident', newIncident({ external_ids: ['other'], severity: 'High' }));
    const q = encodeURIComponent('external_ids:"sightline-incident-inc-12"');
    const byExt = await call('GET', `${PI}/search?query=${q}`);
    expect(byExt.body.map((i: { external_ids: string[] }) => i.external_ids)).toEqual([['sightline-incident-inc-12']]);
    const high = await call('GET', `${PI}/search?high_impact=true&sort_by=severity`);
    expect(high.body.map((i: { severity: string }) => i.severity).sort()).toEqual(['Critical', 'High']);
    expect(high.headers.get('x-total-hits')).toBe('2');
    expect((await call('GET', `${PI}/search?severity=Low`)).body).toHaveLength(1);
    expect((await call('GET', `${PI}/search/count`)).body).toBe(3);
  });
});
