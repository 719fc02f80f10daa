import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { casebookUrl, incidentUrl, XdrHttpClient } from '../../../src/clients/xdr/client.js';
import { shortIdOf } from '../../../src/domain/ports/xdr.js';
import { UpstreamError } from '../../../src/core/errors.js';
import { silentLogger } from '../../../src/core/logger.js';
import { buildDemoScenario, type XdrEmulator } from '../../../src/emulators/xdr/index.js';
import { newIncident, startEmulator, talosThreats } from '../../emulators/xdr/helpers.js';

let emu: XdrEmulator;
let client: XdrHttpClient;
const fastRetry = { retry: { retries: 3, minTimeoutMs: 1, maxTimeoutMs: 5 } };

beforeAll(async () => {
  emu = await startEmulator({ scenario: buildDemoScenario(talosThreats()) });
});
afterAll(() => emu.stop());
beforeEach(() => {
  emu.reset();
  // The SecureX-era path; the IROH private-intel one has its own file (private-intel.test.ts).
  client = new XdrHttpClient({ xdr: emu.xdrConfig({ incidentApi: 'ctia' }), logger: silentLogger, httpOptions: fastRetry });
});

describe('XdrHttpClient CTIA', () => {
  it('creates, patches, closes and finds an incident by external id', async () => {
    const created = await client.createIncident(newIncident({ external_ids: ['sightline-target-hostname-desktop-au3ip5k'] }));
    expect(created.id).toMatch(new RegExp(`^${emu.url}/ctia/incident/incident-[0-9a-f-]{36}$`));
    const shortId = shortIdOf(created.id);

    const patched = await client.patchIncident(shortId, { description: 'count `2`', confidence: 'High', meta: { sighting_count: 2 } });
    expect(patched).toMatchObject({ confidence: 'High', meta: { sighting_count: 2 }, status: 'New' });

    const closed = await client.setIncidentStatus(created.id, 'Closed: Confirmed Threat');
    expect(closed.status).toBe('Closed: Confirmed Threat');
    expect((closed.incident_time as { closed?: string }).closed).toBeDefined();

    const found = await client.findIncidentsByExternalId('sightline-target-hostname-desktop-au3ip5k');
    expect(found.map((e) => e.id)).toEqual([created.id]);
    expect(await client.findIncidentsByExternalId('nothing-here')).toEqual([]);
    expect((await client.getIncident(shortId))?.status).toBe('Closed: Confirmed Threat');
    expect(await client.getIncident('incident-00000000-0000-4000-8000-000000000000')).toBeUndefined();
  });

  it('persists a sighting and relates it to an incident with long ids', async () => {
    const sighting = await client.createSighting({ observed_time: { start_time: '2024-05-10T08:12:03.000Z' }, source: 'Secure Endpoint - sightline' });
    const incident = await client.createIncident(newIncident());
    const rel = await client.createRelationship({
      source_ref: sighting.id,
      target_ref: incident.id,
      relationship_type: 'member-of',
      tlp: 'amber',
      external_ids: ['sightline-rel-1'],
    });
    expect(rel).toMatchObject({ source_ref: sighting.id, target_ref: incident.id, relationship_type: 'member-of' });
    expect((await client.findRelationshipsByExternalId('sightline-rel-1')).map((r) => r.id)).toEqual([rel.id]);
    expect(emu.state.sighting[0]).toMatchObject({ count: 1, confidence: 'Unknown' });
  });

  it('surfaces CTIA validation errors as a 400 UpstreamError', async () => {
    const err = await client.createIncident({ title: 'no status' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UpstreamError);
    expect((err as UpstreamError).status).toBe(400);
    expect((err as Error).message).toContain('missing-required-key');
    const rel = await client.createRelationship({ source_ref: 'sighting-1', target_ref: 'incident-2', relationship_type: 'member-of' }).catch((e: unknown) => e);
    expect((rel as UpstreamError).status).toBe(400);
  });

  it('does not blindly retry a create after a 5xx, but does after a 429', async () => {
    emu.faults.add({ match: '/ctia/incident', method: 'POST', status: 503, times: 1 });
    await expect(client.createIncident(newIncident())).rejects.toMatchObject({ status: 503 });
    expect(emu.state.incident).toHaveLength(0);
    emu.faults.add({ match: '/ctia/incident', method: 'POST', status: 429, retryAfterSeconds: 0, times: 1 });
    await client.createIncident(newIncident());
    expect(emu.calls.filter((c) => c.method === 'POST' && c.path === '/ctia/incident').map((c) => c.status)).toEqual([503, 429, 201]);
  });

  it('creates a casebook and finds it again by external id', async () => {
    const observables = talosThreats()[1]!.observables;
    const cb = await client.createCasebook({
      title: 'TALOS Roundup - Threat Win.Trojan.Darkkomet-9912346-0',
      description: 'Targets in your environment were found.',
      observables,
      external_ids: ['sightline-roundup-2021-12-03-darkkomet'],
    });
    expect(emu.state.casebook[0]).toMatchObject({ type: 'casebook', observables });
    expect((await client.findCasebookByExternalId('sightline-roundup-2021-12-03-darkkomet'))?.id).toBe(cb.id);
    expect(await client.findCasebookByExternalId('missing')).toBeUndefined();
  });

  it('lists and triggers response actions', async () => {
    const sha = talosThreats()[0]!.observables.find((o) => o.type === 'sha256')!;
    const actions = await client.listResponseActions([sha, { type: 'amp_computer_guid', value: '68e94bf7-e239-4821-90d6-b7eaa0233443' }]);
    expect(actions.map((a) => a.id).sort()).toEqual(['amp-add-sha256-scd', 'amp-start-isolation-amp-computer-guid']);
    const scd = actions.find((a) => a.id === 'amp-add-sha256-scd')!;
    expect(await client.triggerResponseAction(scd, sha)).toEqual({ status: 'success' });
    expect(emu.triggered).toEqual([{ moduleInstanceId: scd.moduleInstanceId, actionId: 'amp-add-sha256-scd', observable: sha, status: 'success' }]);
  });

  it('fills UI link templates from long ids', () => {
    const cb = 'https://private.intel.eu.amp.cisco.com:443/ctia/casebook/casebook-7d3bd8a5-6c70-4e27-9f0d-3f0c6d1b6a2e';
    expect(casebookUrl('https://visibility.eu.amp.cisco.com/investigate?spid={uuid}', cb)).toBe(
      'https://visibility.eu.amp.cisco.com/investigate?spid=7d3bd8a5-6c70-4e27-9f0d-3f0c6d1b6a2e',
    );
    const inc = 'https://private.intel.amp.cisco.com/ctia/incident/incident-2230b97f-1111-4222-8333-444455556666';
    expect(incidentUrl('https://visibility.amp.cisco.com/incidents?q=id:{shortId}#summary', inc)).toBe(
      'https://visibility.amp.cisco.com/incidents?q=id:incident-2230b97f-1111-4222-8333-444455556666#summary',
    );
    expect(incidentUrl('https://x.example/open?ref={id}', inc)).toBe(`https://x.example/open?ref=${encodeURIComponent(inc)}`);
  });
});
