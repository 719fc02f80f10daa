import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildDemoScenario, DEMO_HOSTS, type XdrEmulator } from '../../../src/emulators/xdr/index.js';
import { api, startEmulator, talosThreats } from './helpers.js';

let emu: XdrEmulator;
const threats = talosThreats();
beforeAll(async () => {
  emu = await startEmulator({ scenario: buildDemoScenario(threats), maxObservablesPerRequest: 20 });
});
afterAll(() => emu.stop());

describe('XDR emulator IROH', () => {
  it('inspect refangs and extracts hashes, IPs, domains and URLs', async () => {
    const res = await api(emu, 'POST', '/iroh/iroh-inspect/inspect', {
      content: 'Talos saw 8FDA14F91E27AFEC5C1B1F71D708775C9B6E2AF31E8331BBF26751BC0583DC7E calling ilo[.]brenz[.]pl, 46[.]32[.]233[.]226 and hxxp://evil[.]example/x.exe (dropped invoice.exe)',
    });
    expect(res.status).toBe(200);
    expect(res.body).toEqual(
      expect.arrayContaining([
        { type: 'sha256', value: '8fda14f91e27afec5c1b1f71d708775c9b6e2af31e8331bbf26751bc0583dc7e' },
        { type: 'domain', value: 'ilo.brenz.pl' },
        { type: 'ip', value: '46.32.233.226' },
        { type: 'url', value: 'http://evil.example/x.exe' },
      ]),
    );
    expect(res.body).not.toContainEqual({ type: 'domain', value: 'invoice.exe' });
    expect((await api(emu, 'POST', '/iroh/iroh-inspect/inspect', {})).body).toEqual({ content: 'missing-required-key' });
  });

  it('deliberate answers the real envelope; unknown observables get Unknown from one module', async () => {
    const [clean] = threats[0]!.observables;
    const unknown = { type: 'domain', value: 'never-seen.example' };
    const res = await api(emu, 'POST', '/iroh/iroh-enrich/deliberate/observables', [clean, unknown]);
    expect(res.status).toBe(200);
    expect(res.body.errors).toEqual([]);
    for (const m of res.body.data) expect(Object.keys(m)).toEqual(expect.arrayContaining(['module', 'module_instance_id', 'module_type_id', 'data']));
    const docs = res.body.data.flatMap((m: any) => m.data.verdicts.docs.map((d: any) => ({ module: m.module, ...d })));
    expect(docs).toContainEqual(expect.objectContaining({ module: 'Talos Intelligence', disposition: 1, disposition_name: 'Clean', observable: clean }));
    expect(docs.filter((d: any) => d.observable.value === unknown.value)).toEqual([
      expect.objectContaining({ module: 'AMP File Reputation', disposition: 5, disposition_name: 'Unknown' }),
    ]);
  });

  it('observe returns targeted sightings, targetless intel sightings and module errors', async () => {
    const res = await api(emu, 'POST', '/iroh/iroh-enrich/observe/observables', threats[0]!.observables.slice(0, 20));
    const byModule = Object.fromEntries(res.body.data.map((m: any) => [m.module, m]));
    const endpointDocs = byModule['Secure Endpoint'].data.sightings.docs;
    expect(endpointDocs[0]).toMatchObject({ type: 'sighting', internal: true, id: expect.stringMatching(/^transient:/) });
    expect(endpointDocs[0].targets[0].observables).toContainEqual({ type: 'hostname', value: DEMO_HOSTS[0]!.hostname });
    const intel = byModule['Talos Intelligence'].data.sightings.docs[0];
    expect(intel.targets).toBeUndefined();
    expect(intel.internal).toBe(false);
    expect(res.body.errors).toEqual([expect.objectContaining({ module: 'Umbrella', code: 'too-many-requests', type: 'error', module_instance_id: expect.any(String) })]);
  });

  it('refuses bodies that are not observable arrays, and too many observables', async () => {
    expect((await api(emu, 'POST', '/iroh/iroh-enrich/observe/observables', { observables: [] })).status).toBe(400);
    const many = Array.from({ length: 21 }, (_, i) => ({ type: 'domain', value: `d${i}.example` }));
    const res = await api(emu, 'POST', '/iroh/iroh-enrich/deliberate/observables', many);
    expect(res.status).toBe(400);
    expect(res.body.error_description).toMatch(/at most 20/);
  });

  it('refer gives Talos pivot links', async () => {
    const res = await api(emu, 'POST', '/iroh/iroh-enrich/refer/observables', [{ type: 'domain', value: 'cisco.com' }]);
    expect(res.body.data[0]).toMatchObject({ module: 'Talos Intelligence', url: expect.stringContaining('search=cisco.com') });
  });

  it('respond lists actions per observable type and trigger records the run', async () => {
    const list = await api(emu, 'POST', '/iroh/iroh-response/respond/observables', [{ type: 'domain', value: 'evil.example' }]);
    expect(list.body.data).toEqual([expect.objectContaining({ id: 'block', module: 'Umbrella', url: expect.stringContaining('observable_value=evil.example') })]);
    const mid = list.body.data[0].module_instance_id;
    const run = await api(emu, 'POST', `/iroh/iroh-response/respond/trigger/${mid}/block?observable_type=domain&observable_value=evil.example`, {});
    expect(run.body).toEqual({ data: { status: 'success' }, errors: [] });
    expect(emu.triggered).toContainEqual(expect.objectContaining({ actionId: 'block', observable: { type: 'domain', value: 'evil.example' } }));
    expect((await api(emu, 'POST', `/iroh/iroh-response/respond/trigger/${mid}/nope?observable_type=domain&observable_value=x.example`, {})).status).toBe(404);
  });
});
