import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { XdrHttpClient } from '../../../src/clients/xdr/client.js';
import { incidentPaths } from '../../../src/clients/xdr/incident-api.js';
import { shortIdOf } from '../../../src/domain/ports/xdr.js';
import { silentLogger } from '../../../src/core/logger.js';
import type { XdrEmulator } from '../../../src/emulators/xdr/index.js';
import { newIncident, startEmulator } from '../../emulators/xdr/helpers.js';

let emu: XdrEmulator;
let client: XdrHttpClient;
const fastRetry = { retry: { retries: 3, minTimeoutMs: 1, maxTimeoutMs: 5 } };

beforeAll(async () => {
  emu = await startEmulator();
});
afterAll(() => emu.stop());
beforeEach(() => {
  emu.reset();
  client = new XdrHttpClient({ xdr: emu.xdrConfig({ incidentApi: 'private-intel' }), logger: silentLogger, httpOptions: fastRetry });
});

describe('XdrHttpClient with XDR_INCIDENT_API=private-intel', () => {
  it('creates, patches, sets a sub-status and reads incidents through /iroh/private-intel, the rest through CTIA', async () => {
    const created = await client.createIncident(newIncident({ external_ids: ['sightline-incident-inc-1'] }));
    const shortId = shortIdOf(created.id);
    expect(created.enrichment_status).toBe('queued');
    await client.patchIncident(shortId, { severity: 'High' });
    await client.setIncidentStatus(created.id, 'Hold: Internal');
    expect(await client.getIncident(shortId)).toMatchObject({ status: 'Hold: Internal', severity: 'High', enrichment_status: 'enriched' });
    expect(await client.getIncident('incident-00000000-0000-4000-8000-000000000000')).toBeUndefined();
    const sighting = await client.createSighting({ observed_time: { start_time: '2024-05-10T08:12:03.000Z' } });
    await client.createRelationship({ source_ref: sighting.id, target_ref: created.id, relationship_type: 'member-of' });
    const paths = emu.calls.filter((c) => !c.path.includes('oauth2')).map((c) => `${c.method} ${c.path.replace(/incident-[0-9a-f-]{36}/, '{id}')}`);
    expect(paths).toEqual([
      'POST /iroh/private-intel/incident',
      'PATCH /iroh/private-intel/incident/{id}',
      'POST /iroh/private-intel/incident/{id}/status',
      'GET /iroh/private-intel/incident/{id}',
      'GET /iroh/private-intel/incident/{id}',
      'POST /ctia/sighting',
      'POST /ctia/relationship',
    ]);
  });

  it('finds incidents by exact external id (a longer id sharing the prefix is not a match)', async () => {
    const one = await client.createIncident(newIncident({ external_ids: ['sightline-target-hostname-pc-1'] }));
    const other = await client.createIncident(newIncident({ external_ids: ['sightline-target-hostname-pc-12'] }));
    expect((await client.findIncidentsByExternalId('sightline-target-hostname-pc-1')).map((e) => e.id)).toEqual([one.id]);
    expect((await client.findIncidentsByExternalId('sightline-target-hostname-pc-12')).map((e) => e.id)).toEqual([other.id]);
    expect(await client.findIncidentsByExternalId('nothing-here')).toEqual([]);
    expect(emu.calls.at(-1)).toMatchObject({ path: '/iroh/private-intel/incident/search' });
  });

  it('does not blindly retry a create after a 5xx (the caller looks the external id up first)', async () => {
    emu.faults.add({ match: '/iroh/private-intel/incident', method: 'POST', status: 503, times: 1 });
    await expect(client.createIncident(newIncident())).rejects.toMatchObject({ status: 503 });
    expect(emu.state.incident).toHaveLength(0);
  });

  it('builds both path families from the configured hosts', () => {
    const bases = { irohBase: 'https://visibility.eu.amp.cisco.com/iroh', ctiaBase: 'https://private.intel.eu.amp.cisco.com/ctia' };
    const pi = incidentPaths('private-intel', bases);
    const ctia = incidentPaths('ctia', bases);
    expect(pi.status('https://private.intel.eu.amp.cisco.com/ctia/incident/incident-1')).toBe('https://visibility.eu.amp.cisco.com/iroh/private-intel/incident/incident-1/status');
    expect(ctia.one('incident-1')).toBe('https://private.intel.eu.amp.cisco.com/ctia/incident/incident-1');
    expect(ctia.byExternalId('a b')).toBe('https://private.intel.eu.amp.cisco.com/ctia/incident/external_id/a%20b');
    expect(new URL(pi.byExternalId('x"y')).searchParams.get('query')).toBe('external_ids:"x\\"y"');
  });
});
