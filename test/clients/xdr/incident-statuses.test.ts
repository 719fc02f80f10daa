import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { XdrHttpClient } from '../../../src/clients/xdr/client.js';
import { silentLogger } from '../../../src/core/logger.js';
import { shortIdOf } from '../../../src/domain/ports/xdr.js';
import type { XdrEmulator } from '../../../src/emulators/xdr/index.js';
import { newIncident, startEmulator } from '../../emulators/xdr/helpers.js';

/** The status sync's read: our incidents' statuses by paged search, against the emulator (both incident APIs). */
let emu: XdrEmulator;
const fastRetry = { retry: { retries: 1, minTimeoutMs: 1, maxTimeoutMs: 5 } };

beforeAll(async () => {
  emu = await startEmulator();
});
afterAll(() => emu.stop());
beforeEach(() => emu.reset());

const searches = () => emu.calls.filter((c) => c.method === 'GET' && c.path.endsWith('/incident/search'));

describe.each(['private-intel', 'ctia'] as const)('XdrHttpClient.incidentStatusesSince (%s)', (incidentApi) => {
  it('reads the status of every incident of ours created since a time, a thousand a search, paged by creation time (no offset, which Elasticsearch refuses past 10,000 hits)', async () => {
    const client = new XdrHttpClient({ xdr: emu.xdrConfig({ incidentApi }), logger: silentLogger, httpOptions: fastRetry });
    const ids = Array.from({ length: 2_345 }, (_, i) => `incident-${String(i).padStart(8, '0')}-0000-4000-8000-000000000000`);
    emu.seedIncidents(ids, newIncident());
    emu.setIncidentStatus(ids[7]!, 'Closed: False Positive');
    emu.setIncidentStatus(ids[2_300]!, 'Open: Investigating');
    // Not ours: another source's incident is left out.
    emu.seedIncidents(['incident-99999999-0000-4000-8000-000000000000'], newIncident({ source: 'another-module' }));
    const before = emu.calls.length;

    const statuses = await client.incidentStatusesSince('sightline', '2000-01-01T00:00:00.000Z');

    expect(statuses.size).toBe(2_345);
    expect(statuses.get(ids[7]!)).toBe('Closed: False Positive');
    expect(statuses.get(ids[2_300]!)).toBe('Open: Investigating');
    expect(statuses.get(ids[0]!)).toBe('New');
    expect(statuses.has('incident-99999999-0000-4000-8000-000000000000')).toBe(false);
    // Three pages of a thousand (each page after the first starts at the last one's `created`).
    expect(emu.calls.length - before).toBeGreaterThanOrEqual(3);
    expect(emu.calls.length - before).toBeLessThanOrEqual(4);
    for (const call of searches()) {
      const q = new URLSearchParams(call.query);
      expect(q.get('source')).toBe('sightline');
      expect(q.getAll('fields').sort()).toEqual(['created', 'id', 'status']);
      expect(q.get('offset')).toBeNull();
    }
  });

  it('leaves out incidents created before the time asked', async () => {
    const client = new XdrHttpClient({ xdr: emu.xdrConfig({ incidentApi }), logger: silentLogger, httpOptions: fastRetry });
    const old = await client.createIncident(newIncident());
    await new Promise((resolve) => setTimeout(resolve, 5));
    const since = new Date().toISOString();
    await new Promise((resolve) => setTimeout(resolve, 5));
    const recent = await client.createIncident(newIncident());
    const statuses = await client.incidentStatusesSince('sightline', since);
    expect([...statuses.keys()]).toEqual([shortIdOf(recent.id)]);
    expect(statuses.has(shortIdOf(old.id))).toBe(false);
  });
});
