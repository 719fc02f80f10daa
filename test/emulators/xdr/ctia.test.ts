import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { XdrEmulator } from '../../../src/emulators/xdr/index.js';
import { api, getToken, newIncident, startEmulator } from './helpers.js';

let emu: XdrEmulator;
let token: string;
const call = (method: string, path: string, body?: unknown) => api(emu, method, path, body, token);
const short = (longId: string) => longId.split('/').pop()!;

beforeAll(async () => {
  emu = await startEmulator();
});
afterAll(() => emu.stop());
beforeEach(async () => {
  emu.reset();
  token = await getToken(emu);
});

describe('XDR emulator CTIA', () => {
  it('creates with 201 + Location, stamps server fields and ignores the client schema_version', async () => {
    const res = await call('POST', '/ctia/incident', newIncident({ schema_version: '1.0.11', type: 'incident' }));
    expect(res.status).toBe(201);
    expect(res.headers.get('location')).toBe(res.body.id);
    expect(res.body.id).toMatch(new RegExp(`^${emu.url}/ctia/incident/incident-[0-9a-f-]{36}$`));
    expect(res.body).toMatchObject({ type: 'incident', schema_version: '1.3.30', tlp: 'green', owner: expect.any(String), created: expect.any(String) });
    expect((await call('GET', `/ctia/incident/${short(res.body.id)}`)).body).toEqual(res.body);
  });

  it('validates a NewIncident like CTIA', async () => {
    const res = await call('POST', '/ctia/incident', { title: 'x', status: 'Closed-ish' });
    expect(res.status).toBe(400);
    expect(res.body.errors).toMatchObject({ incident_time: 'missing-required-key', confidence: 'missing-required-key', status: expect.stringContaining('not') });
    expect((await call('POST', '/ctia/incident', newIncident({ description: 'x'.repeat(5001) }))).status).toBe(400);
  });

  it('answers 404 JSON for missing entities', async () => {
    const res = await call('GET', '/ctia/incident/incident-00000000-0000-4000-8000-000000000000');
    expect(res.status).toBe(404);
    expect(res.body).toEqual({ error: 'Not Found' });
    expect((await call('PATCH', '/ctia/incident/incident-missing', { confidence: 'High' })).status).toBe(404);
  });

  it('PATCH merges nested objects and keeps server fields; sightings cannot be patched', async () => {
    const { body: inc } = await call('POST', '/ctia/incident', newIncident());
    const res = await call('PATCH', `/ctia/incident/${short(inc.id)}`, { confidence: 'High', incident_time: { remediated: '2024-05-11T00:00:00.000Z' }, id: 'evil' });
    expect(res.body).toMatchObject({ id: inc.id, confidence: 'High', incident_time: { opened: inc.incident_time.opened, remediated: '2024-05-11T00:00:00.000Z' } });
    expect((await call('PATCH', `/ctia/incident/${short(inc.id)}`, { status: 'Bogus' })).status).toBe(400);
    const { body: s } = await call('POST', '/ctia/sighting', { observed_time: { start_time: '2024-05-10T08:12:03.000Z' } });
    expect((await call('PATCH', `/ctia/sighting/${short(s.id)}`, { count: 2 })).status).toBe(405);
  });

  it('status route stamps closed once and keeps the first close on closed → closed', async () => {
    let now = Date.parse('2024-05-10T09:00:00Z');
    const local = await startEmulator({ now: () => new Date(now) });
    try {
      const t = await getToken(local);
      const { body: inc } = await api(local, 'POST', '/ctia/incident', newIncident(), t);
      const opened = await api(local, 'POST', `/ctia/incident/${short(inc.id)}/status`, { status: 'Open: Investigating' }, t);
      expect(opened.body.incident_time.opened).toBe('2024-05-10T09:00:00.000Z');
      now += 60_000;
      const closed = await api(local, 'POST', `/ctia/incident/${short(inc.id)}/status`, { status: 'Closed: Confirmed Threat' }, t);
      expect(closed.body).toMatchObject({ status: 'Closed: Confirmed Threat', incident_time: { closed: '2024-05-10T09:01:00.000Z' } });
      now += 60_000;
      const again = await api(local, 'POST', `/ctia/incident/${short(inc.id)}/status`, { status: 'Closed: False Positive' }, t);
      expect(again.body.incident_time.closed).toBe('2024-05-10T09:01:00.000Z');
      expect((await api(local, 'POST', `/ctia/incident/${short(inc.id)}/status`, { status: 'Done' }, t)).status).toBe(400);
      // A close made in the XDR console goes through the same logic.
      const { body: other } = await api(local, 'POST', '/ctia/incident', newIncident(), t);
      expect(local.setIncidentStatus(other.id, 'Rejected').incident_time).toMatchObject({ rejected: '2024-05-10T09:02:00.000Z' });
    } finally {
      await local.stop();
    }
  });

  it('relationships need long ids; link relates a casebook to an incident', async () => {
    const { body: inc } = await call('POST', '/ctia/incident', newIncident());
    const { body: s } = await call('POST', '/ctia/sighting', { observed_time: { start_time: '2024-05-10T08:12:03.000Z' } });
    const bad = await call('POST', '/ctia/relationship', { relationship_type: 'member-of', source_ref: short(s.id), target_ref: inc.id });
    expect(bad.status).toBe(400);
    expect(bad.body.errors.source_ref).toMatch(/long-id/);
    expect((await call('POST', '/ctia/relationship', { relationship_type: 'member-of', source_ref: s.id, target_ref: inc.id })).status).toBe(201);
    const { body: cb } = await call('POST', '/ctia/casebook', { title: 'TALOS Roundup - Threat X', observables: [{ type: 'domain', value: 'evil.example' }] });
    const link = await call('POST', `/ctia/incident/${short(inc.id)}/link`, { casebook_id: cb.id });
    expect(link.status).toBe(201);
    expect(link.body).toMatchObject({ relationship_type: 'related-to', source_ref: cb.id, target_ref: inc.id, tlp: 'amber' });
    const rels = await call('GET', `/ctia/relationship/search?target_ref=${encodeURIComponent(inc.id)}&relationship_type=member-of`);
    expect(rels.body).toHaveLength(1);
    expect(rels.headers.get('x-total-hits')).toBe('1');
  });

  it('search: exact term filters, query prefix, sort, paging headers and external_id', async () => {
    const statuses = ['Closed', 'Closed: Confirmed Threat', 'New', 'Open: Investigating', 'Closed: False Positive'];
    for (const [i, status] of statuses.entries()) {
      await call('POST', '/ctia/incident', newIncident({ status, title: `Correlated incident for: DESKTOP-${i}`, incident_time: { opened: `2024-05-1${i}T00:00:00.000Z` }, external_ids: [`ext-${i % 2}`] }));
    }
    expect((await call('GET', '/ctia/incident/search?status=Closed')).body.map((e: any) => e.status)).toEqual(['Closed']);
    const closed = await call('GET', '/ctia/incident/search?query=status:Closed*&sort_by=incident_time.opened&sort_order=desc');
    expect(closed.body.map((e: any) => e.status)).toEqual(['Closed: False Positive', 'Closed: Confirmed Threat', 'Closed']);
    const page = await call('GET', '/ctia/incident/search?sort_by=incident_time.opened:asc&limit=2&offset=2');
    expect(page.body.map((e: any) => e.title)).toEqual(['Correlated incident for: DESKTOP-2', 'Correlated incident for: DESKTOP-3']);
    expect(page.headers.get('x-total-hits')).toBe('5');
    expect(page.headers.get('x-next')).toBe('limit=2&offset=4');
    const phrase = await call('GET', `/ctia/incident/search?query=${encodeURIComponent('"DESKTOP-3"')}`);
    expect(phrase.body).toHaveLength(1);
    expect((await call('GET', '/ctia/incident/search/count?query=status:Closed*')).body).toBe(3);
    const byExt = await call('GET', '/ctia/incident/external_id/ext-1');
    expect(byExt.body.map((e: any) => e.status)).toEqual(['Closed: Confirmed Threat', 'Open: Investigating']);
  });

  it('PUT replaces, DELETE removes, casebook observables can be added', async () => {
    const { body: cb } = await call('POST', '/ctia/casebook', { title: 'a', observables: [{ type: 'domain', value: 'a.example' }] });
    const put = await call('PUT', `/ctia/casebook/${short(cb.id)}`, { title: 'b' });
    expect(put.body).toMatchObject({ id: cb.id, title: 'b', created: cb.created });
    expect(put.body.observables).toBeUndefined();
    const added = await call('POST', `/ctia/casebook/${short(cb.id)}/observables`, { operation: 'add', observables: [{ type: 'ip', value: '1.2.3.4' }] });
    expect(added.body.observables).toEqual([{ type: 'ip', value: '1.2.3.4' }]);
    expect((await call('DELETE', `/ctia/casebook/${short(cb.id)}`)).status).toBe(204);
    expect(emu.state.casebook).toHaveLength(0);
  });
});
