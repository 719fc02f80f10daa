import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { XdrHttpClient } from '../../../src/clients/xdr/client.js';
import { FakeClock } from '../../../src/core/clock.js';
import { silentLogger } from '../../../src/core/logger.js';
import { CorrelationEngine } from '../../../src/domain/correlation/engine.js';
import { CorrelationIncidentService } from '../../../src/domain/correlation/incident-service.js';
import { XdrEmulator } from '../../../src/emulators/xdr/index.js';
import { ManualTimers, RecordingNotifier, resetSeq, sighting, tempStore } from './helpers.js';

/** The correlator against the local XDR emulator over real HTTP (the real client, the real CTIA shapes). */
let emu: XdrEmulator;
let env: Awaited<ReturnType<typeof tempStore>>;
let engine: CorrelationEngine;
let notifier: RecordingNotifier;

beforeAll(async () => {
  emu = new XdrEmulator({
    scenario: {
      responseActions: [{ id: 'block', title: 'Block this domain', module: 'Umbrella', observableTypes: ['domain'] }],
    },
  });
  await emu.start();
});
afterAll(() => emu.stop());

beforeEach(async () => {
  emu.reset();
  resetSeq();
  env = await tempStore();
  notifier = new RecordingNotifier();
  const xdr = new XdrHttpClient({ xdr: emu.xdrConfig(), logger: silentLogger, httpOptions: { retry: { retries: 1, minTimeoutMs: 1, maxTimeoutMs: 5 } } });
  engine = new CorrelationEngine({
    awaitSideEffects: true,
    store: env.store,
    xdr,
    notifier,
    clock: new FakeClock('2022-03-01T12:00:00Z'),
    logger: silentLogger,
    config: {
      rejectedIsClosed: true,
      ladder: 'eq 2 -> notify; gte 3 -> mention; gte 5 -> respond',
      oncall: [],
      responseActions: ['umbrella-block'],
      dryRun: false,
      coalesceMs: 1000,
      statusSyncSeconds: 300,
    },
    incidentUrlTemplate: emu.xdrConfig().incidentUrlTemplate,
    timers: new ManualTimers(),
  });
});
afterEach(async () => {
  await env.store.close();
  await env.cleanup();
});

const ours = () => emu.state.incident.filter((i) => i.source === 'sightline');
const rels = (type: string) => emu.state.relationship.filter((r) => r.relationship_type === type);

describe('CorrelationEngine against the XDR emulator', () => {
  it('mirrors one incident per target with the count, member-of links and the response action at 5', async () => {
    await Promise.all(Array.from({ length: 5 }, () => engine.ingest([sighting('DESKTOP-AU3IP5K', { ioc: 'ictoms.site' })])));
    await engine.ingest([sighting('heimdallr')]);
    const incidents = ours();
    expect(incidents.map((i) => [i.title, (i.meta as { sighting_count: number }).sighting_count, i.confidence])).toEqual([
      ['Correlated incident for: desktop-au3ip5k [by Sightline]', 5, 'High'],
      ['Correlated incident for: heimdallr [by Sightline]', 1, 'Medium'],
    ]);
    expect(incidents[0]!.description).toContain('## Current Amount of Security Events for Target: `5`');
    expect(emu.state.sighting).toHaveLength(6);
    expect(rels('member-of')).toHaveLength(6);
    expect(emu.triggered).toEqual([expect.objectContaining({ actionId: 'block', observable: { type: 'domain', value: 'ictoms.site' }, status: 'success' })]);
  });

  it('keeps counting through an XDR outage and catches up without duplicates', async () => {
    const removeFault = emu.faults.add({ match: /^\/(ctia|iroh\/private-intel)\//, status: 503 });
    for (let i = 0; i < 4; i++) await engine.ingest([sighting('a')]);
    await engine.ingest([sighting('b')]);
    expect(ours()).toHaveLength(0);
    const local = Object.values(engine.state().incidents);
    expect(local.map((i) => [i.targetValue, i.count, i.xdrSync.pending.length > 0])).toEqual([
      ['a', 4, true],
      ['b', 1, true],
    ]);
    removeFault();
    expect((await engine.syncPending()).pending).toBe(0);
    await engine.syncPending();
    expect(ours().map((i) => [i.title, (i.meta as { sighting_count: number }).sighting_count])).toEqual([
      ['Correlated incident for: a [by Sightline]', 4],
      ['Correlated incident for: b [by Sightline]', 1],
    ]);
    expect(emu.state.sighting).toHaveLength(5);
    expect(rels('member-of')).toHaveLength(5);
  });

  it('respects a close in the XDR console and links the next incident related-to the closed one', async () => {
    await engine.ingest([sighting('h'), sighting('h')]);
    const first = Object.values(engine.state().incidents)[0]!;
    emu.setIncidentStatus(first.xdrId!, 'Closed: False Positive');
    expect(await engine.syncStatuses()).toEqual({ checked: 1, closed: 1 });
    expect(engine.incident(first.id)!.status).toBe('Closed: False Positive');
    await engine.ingest([sighting('h')]);
    const incidents = ours();
    expect(incidents).toHaveLength(2);
    expect(rels('related-to')).toEqual([expect.objectContaining({ source_ref: incidents[0]!.id, target_ref: incidents[1]!.id })]);
  });

  it('reads the open incidents\' statuses with one search, not one call each, and reads alone one the search does not return', async () => {
    for (let i = 0; i < 12; i++) await engine.ingest([sighting(`host-${i}`)]);
    const mine = Object.values(engine.state().incidents);
    emu.setIncidentStatus(mine[1]!.xdrId!, 'Closed: False Positive');
    emu.setIncidentStatus(mine[2]!.xdrId!, 'Closed: Confirmed Threat');
    emu.setIncidentStatus(mine[3]!.xdrId!, 'Open: Investigating');
    // Changed to another source in XDR: the search leaves it out, so it is read on its own.
    const other = emu.state.incident.find((i) => i.id === mine[4]!.xdrId)!;
    other.source = 'someone-else';
    emu.setIncidentStatus(mine[4]!.xdrId!, 'Closed: Other');
    emu.calls.length = 0;

    expect(await engine.syncStatuses()).toEqual({ checked: 12, closed: 3 });

    expect(engine.incident(mine[1]!.id)!.status).toBe('Closed: False Positive');
    expect(engine.incident(mine[3]!.id)!.status).toBe('Open: Investigating');
    expect(engine.incident(mine[4]!.id)!.status).toBe('Closed: Other');
    const reads = emu.calls.filter((c) => c.method === 'GET' && c.path.includes('/incident'));
    expect(reads.filter((c) => c.path.endsWith('/incident/search'))).toHaveLength(1);
    expect(reads.filter((c) => !c.path.endsWith('/search')).map((c) => c.path)).toEqual([expect.stringContaining(mine[4]!.xdrId!.split('/').pop()!)]);
  });

  it('closes from chat and mirrors the Closed status', async () => {
    await engine.ingest([{ ...sighting('x'), target: { type: 'endpoint', observables: [{ type: 'mac_address', value: '00:0C:29:0F:6F:0A' }] } }]);
    const view = await new CorrelationIncidentService(engine).close('000c.290f.6f0a', 'analyst@example.com');
    expect(view.status).toBe('Closed');
    expect(ours()[0]!.status).toBe('Closed');
  });
});
