import { afterEach, describe, expect, it } from 'vitest';
import { XdrHttpClient } from '../../../src/clients/xdr/client.js';
import { UpstreamError } from '../../../src/core/errors.js';
import { silentLogger } from '../../../src/core/logger.js';
import type { Observable } from '../../../src/domain/types.js';
import { buildDemoScenario, endpointTarget, type XdrEmulator } from '../../../src/emulators/xdr/index.js';
import { startEmulator, talosThreats } from '../../emulators/xdr/helpers.js';

const fastRetry = { retry: { retries: 3, minTimeoutMs: 1, maxTimeoutMs: 5 } };
const allObservables = (): Observable[] => talosThreats('2021/0723.json').flatMap((t) => t.observables);
const enrichCalls = (emu: XdrEmulator, kind: string) => emu.calls.filter((c) => c.path === `/iroh/iroh-enrich/${kind}/observables`);

let emu: XdrEmulator;
afterEach(() => emu?.stop());

describe('XdrHttpClient enrichment', () => {
  it('splits observables into batches of batchSize: N observables → ceil(N / batch) calls', async () => {
    emu = await startEmulator();
    const observables = [...new Map(allObservables().map((o) => [`${o.type}|${o.value}`, o])).values()];
    expect(observables.length).toBeGreaterThan(100);
    const client = new XdrHttpClient({ xdr: emu.xdrConfig({ batchSize: 40 }), logger: silentLogger, httpOptions: fastRetry });
    const result = await client.deliberate(observables);
    const expected = Math.ceil(observables.length / 40);
    expect(result.calls).toBe(expected);
    expect(enrichCalls(emu, 'deliberate')).toHaveLength(expected);
    // Every observable got exactly one (Unknown) verdict back, across all batches.
    expect(result.verdicts).toHaveLength(observables.length);
    expect(result.verdicts.every((v) => v.disposition === 5)).toBe(true);
  });

  it('never has more than `concurrency` calls in flight, even across parallel hunts', async () => {
    emu = await startEmulator({ latencyMs: 15 });
    const observables = allObservables();
    const client = new XdrHttpClient({ xdr: emu.xdrConfig({ batchSize: 10, concurrency: 3 }), logger: silentLogger, httpOptions: fastRetry });
    await Promise.all([client.deliberate(observables), client.observe(observables), client.deliberate(observables.slice(0, 50))]);
    expect(emu.stats.maxInFlight).toBe(3);
  });

  it('reads verdicts, targeted and targetless sightings, legacy module-type and a missing disposition_name', async () => {
    const [threat] = talosThreats();
    const [hash, ip] = threat!.observables.filter((o) => o.type === 'sha256' || o.type === 'ip');
    emu = await startEmulator({
      scenario: {
        modules: [{ name: 'Umbrella', legacyType: 'UmbrellaInvestigateModule' }],
        verdicts: [
          { observable: hash, module: 'Secure Endpoint', disposition: 2, omitName: true },
          { observable: ip, module: 'Umbrella', disposition: 1 },
        ],
        sightings: [
          { observable: hash, module: 'Secure Endpoint', targets: [endpointTarget({ hostname: 'DESKTOP-AU3IP5K', ip: '10.1.2.3' }, '2024-05-10T08:12:03.000Z')] },
          { observable: hash, module: 'Talos Intelligence', source: 'Talos Threat Advisory Blog', internal: false },
        ],
      },
    });
    const client = new XdrHttpClient({ xdr: emu.xdrConfig(), logger: silentLogger, httpOptions: fastRetry });
    const verdicts = await client.deliberate([hash!, ip!]);
    expect(verdicts.verdicts).toContainEqual({ observable: hash, disposition: 2, module: 'Secure Endpoint' });
    expect(verdicts.verdicts).toContainEqual({ observable: ip, disposition: 1, module: 'Umbrella' });
    const observed = await client.observe([hash!]);
    const [onHost, intel] = [observed.sightings.find((s) => s.module === 'Secure Endpoint'), observed.sightings.find((s) => s.module === 'Talos Intelligence')];
    expect(onHost?.sighting.targets?.[0]?.observables).toContainEqual({ type: 'hostname', value: 'DESKTOP-AU3IP5K' });
    expect(intel?.sighting.targets).toBeUndefined();
    expect(intel?.sighting.internal).toBe(false);
  });

  it('returns per-module errors from a 200 instead of throwing', async () => {
    emu = await startEmulator({ scenario: buildDemoScenario(talosThreats()) });
    const client = new XdrHttpClient({ xdr: emu.xdrConfig(), logger: silentLogger, httpOptions: fastRetry });
    const result = await client.observe(talosThreats()[0]!.observables);
    expect(result.errors).toEqual([{ module: 'Umbrella', code: 'too-many-requests', message: 'Rate limited', type: 'error' }]);
    expect(result.sightings.length).toBeGreaterThan(0);
  });

  it('retries enrichment after 5xx answers and dropped connections', async () => {
    emu = await startEmulator();
    emu.faults.add({ match: '/iroh/iroh-enrich/observe', status: 503, times: 2 });
    emu.faults.add({ match: '/iroh/iroh-enrich/deliberate', drop: true, times: 1 });
    const client = new XdrHttpClient({ xdr: emu.xdrConfig(), logger: silentLogger, httpOptions: fastRetry });
    const observed = await client.observe([{ type: 'domain', value: 'a.example.com' }]);
    expect(observed.calls).toBe(1);
    expect(enrichCalls(emu, 'observe').map((c) => c.status)).toEqual([503, 503, 200]);
    await client.deliberate([{ type: 'domain', value: 'a.example.com' }]);
    expect(enrichCalls(emu, 'deliberate').map((c) => c.status)).toEqual([0, 200]);
    expect(client.callCount).toBe(1 + 3 + 2); // token + observe attempts + deliberate attempts
  });

  it('waits as long as Retry-After asks on a 429', async () => {
    emu = await startEmulator();
    emu.faults.add({ match: '/iroh/iroh-enrich/deliberate', status: 429, retryAfterSeconds: 2, times: 1 });
    const slept: number[] = [];
    const client = new XdrHttpClient({
      xdr: emu.xdrConfig(),
      logger: silentLogger,
      httpOptions: { ...fastRetry, sleep: async (ms) => void slept.push(ms) },
    });
    await client.deliberate([{ type: 'domain', value: 'a.example.com' }]);
    expect(slept).toEqual([2000]);
    expect(enrichCalls(emu, 'deliberate').map((c) => c.status)).toEqual([429, 200]);
  });

  it('stays under an org rate limit by honouring 429 + Retry-After', async () => {
    emu = await startEmulator();
    emu.setRateLimit({ requests: 3, windowMs: 200 });
    const client = new XdrHttpClient({ xdr: emu.xdrConfig({ batchSize: 5, concurrency: 2 }), logger: silentLogger, httpOptions: { retry: { retries: 20, minTimeoutMs: 1, maxTimeoutMs: 5 } } });
    const observables = Array.from({ length: 40 }, (_, i) => ({ type: 'domain', value: `h${i}.example.com` }));
    const result = await client.deliberate(observables);
    expect(result.verdicts).toHaveLength(40);
    expect(enrichCalls(emu, 'deliberate').filter((c) => c.status === 200)).toHaveLength(8);
    expect(enrichCalls(emu, 'deliberate').some((c) => c.status === 429)).toBe(true);
  });

  it('fails with an UpstreamError when a batch keeps failing', async () => {
    emu = await startEmulator();
    emu.faults.add({ match: '/iroh/iroh-enrich', status: 500 });
    const client = new XdrHttpClient({ xdr: emu.xdrConfig(), logger: silentLogger, httpOptions: { retry: { retries: 1, minTimeoutMs: 1, maxTimeoutMs: 2 } } });
    await expect(client.observe([{ type: 'domain', value: 'a.example.com' }])).rejects.toBeInstanceOf(UpstreamError);
  });

  it('asks nothing for an empty list', async () => {
    emu = await startEmulator();
    const client = new XdrHttpClient({ xdr: emu.xdrConfig(), logger: silentLogger });
    expect(await client.deliberate([])).toEqual({ verdicts: [], errors: [], calls: 0 });
    expect(emu.calls).toHaveLength(0);
  });
});
