import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FakeClock } from '../../../src/core/clock.js';
import { NotFoundError, ValidationError } from '../../../src/core/errors.js';
import { silentLogger } from '../../../src/core/logger.js';
import { CorrelationEngine } from '../../../src/domain/correlation/engine.js';
import { CorrelationIncidentService } from '../../../src/domain/correlation/incident-service.js';
import type { SequencedSighting } from '../../../src/domain/correlation/types.js';
import { FakeXdr, ManualTimers, RecordingNotifier, resetSeq, sighting, tempStore } from './helpers.js';

let env: Awaited<ReturnType<typeof tempStore>>;
let xdr: FakeXdr;
let notifier: RecordingNotifier;
let engine: CorrelationEngine;
let service: CorrelationIncidentService;
let seq = 100;

function on(type: string, value: string, observedAt: string): SequencedSighting {
  seq++;
  return {
    seq,
    dedupeKey: `k${seq}`,
    target: { type: 'endpoint', observables: [{ type, value }] },
    ioc: { type: 'sha256', value: 'a'.repeat(64) },
    source: 'webhook',
    observedAt,
  };
}

beforeEach(async () => {
  env = await tempStore();
  xdr = new FakeXdr();
  notifier = new RecordingNotifier();
  resetSeq();
  seq = 100;
  let n = 0;
  engine = new CorrelationEngine({
    awaitSideEffects: true,
    store: env.store,
    xdr,
    notifier,
    clock: new FakeClock('2022-03-01T12:00:00Z'),
    logger: silentLogger,
    config: { rejectedIsClosed: true, ladder: 'eq 2 -> notify', oncall: [], responseActions: [], dryRun: false, coalesceMs: 1000, statusSyncSeconds: 0 },
    timers: new ManualTimers(),
    newId: () => `inc-${++n}`,
  });
  service = new CorrelationIncidentService(engine);
});
afterEach(async () => {
  await env.store.close();
  await env.cleanup();
});

describe('CorrelationIncidentService.list', () => {
  beforeEach(async () => {
    await engine.ingest([
      sighting('old-host', { observedAt: '2022-03-01T08:00:00Z' }),
      sighting('mid-host', { observedAt: '2022-03-01T09:00:00Z' }),
      sighting('new-host', { observedAt: '2022-03-01T10:00:00Z' }),
    ]);
    await engine.closeIncident('inc-2', 'analyst');
  });

  it('lists open incidents newest last-seen first with the total', () => {
    const { items, total } = service.list('open', 1, 10);
    expect(total).toBe(2);
    expect(items.map((i) => i.targetValue)).toEqual(['new-host', 'old-host']);
  });
  it('lists closed and all, paged from page 1', () => {
    expect(service.list('closed', 1, 10).items.map((i) => i.id)).toEqual(['inc-2']);
    expect(service.list('all', 1, 2).items.map((i) => i.id)).toEqual(['inc-3', 'inc-2']);
    expect(service.list('all', 2, 2)).toEqual({ items: [expect.objectContaining({ id: 'inc-1' })], total: 3 });
    expect(service.list('all', 3, 2).items).toEqual([]);
  });
});

describe('CorrelationIncidentService.close', () => {
  it.each(['00:0C:29:0F:6F:0A', '00-0c-29-0f-6f-0a', '000c.290f.6f0a', '000c290f6f0a', 'mac_address:00:0c:29:0f:6f:0a'])(
    'finds a MAC target typed as %s',
    async (typed) => {
      await engine.ingest([on('mac_address', '00:0c:29:0f:6f:0a', '2022-03-01T10:00:00Z')]);
      const view = await service.close(typed, 'analyst@example.com', 'reimaged');
      expect(view).toMatchObject({ targetKey: 'mac_address:00:0c:29:0f:6f:0a', status: 'Closed' });
      expect(notifier.of('incident_closed')).toEqual([expect.objectContaining({ by: 'analyst@example.com', reason: 'reimaged' })]);
      expect([...xdr.incidents.values()][0]!.status).toBe('Closed');
    },
  );

  it('finds IPs, hostnames in any case, typed values and incident ids', async () => {
    await engine.ingest([
      on('ip', '10.0.0.7', '2022-03-01T10:00:00Z'),
      on('hostname', 'DESKTOP-AU3IP5K', '2022-03-01T10:00:00Z'),
      on('user', 'jdoe', '2022-03-01T10:00:00Z'),
      on('amp_computer_guid', 'guid-1', '2022-03-01T10:00:00Z'),
    ]);
    expect((await service.close('10.0.0.7', 'a')).targetKey).toBe('ip:10.0.0.7');
    expect((await service.close('desktop-au3ip5k', 'a')).targetKey).toBe('hostname:desktop-au3ip5k');
    expect((await service.close('jdoe', 'a')).targetKey).toBe('user:jdoe');
    expect((await service.close('inc-4', 'a')).targetKey).toBe('amp_computer_guid:guid-1');
    expect(service.list('open', 1, 10).total).toBe(0);
  });

  it('says how to find open incidents when there is none for the target', async () => {
    await engine.ingest([sighting('h')]);
    await service.close('h', 'a');
    const err = await service.close('h', 'a').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NotFoundError);
    expect((err as NotFoundError).userMessage).toBe('No open incident for h: try `incidents` to see open ones');
    await expect(service.close('  ', 'a')).rejects.toBeInstanceOf(ValidationError);
  });
});

describe('CorrelationIncidentService.sightings', () => {
  it('returns the kept sightings newest first, limited', async () => {
    await engine.ingest([
      sighting('h', { observedAt: '2022-03-01T10:00:00Z', ioc: 'a.example' }),
      sighting('h', { observedAt: '2022-03-01T12:00:00Z', ioc: 'c.example', source: 'rss:talos' }),
      sighting('h', { observedAt: '2022-03-01T11:00:00Z', ioc: 'b.example' }),
    ]);
    expect(service.sightings('inc-1', 2)).toEqual([
      { observedAt: '2022-03-01T12:00:00.000Z', ioc: 'domain:c.example', source: 'rss:talos' },
      { observedAt: '2022-03-01T11:00:00.000Z', ioc: 'domain:b.example', source: 'AMP for Endpoints' },
    ]);
    const xdrShort = engine.incident('inc-1')!.xdrId!.split('/').pop()!;
    expect(service.sightings(xdrShort, 10)).toHaveLength(3);
    expect(() => service.sightings('inc-404', 5)).toThrow(NotFoundError);
  });
});

describe('CorrelationIncidentService.closeById (the card button)', () => {
  it('closes the incident the card shows: a hostname "ip:10.1.1.1" is not the IP 10.1.1.1', async () => {
    await engine.ingest([on('ip', '10.1.1.1', '2022-03-01T10:00:00Z'), on('hostname', 'ip:10.1.1.1', '2022-03-01T10:00:00Z')]);
    const byTarget = Object.fromEntries(Object.values(engine.state().incidents).map((i) => [i.targetKey, i.id]));
    const hostIncident = byTarget['hostname:ip:10.1.1.1']!;
    const result = await service.closeById(hostIncident, 'admin@example.com');
    expect(result).toMatchObject({ closed: true, incident: { id: hostIncident, targetKey: 'hostname:ip:10.1.1.1', status: 'Closed' } });
    expect(engine.incident(byTarget['ip:10.1.1.1']!)!.status).not.toMatch(/^Closed/);
  });

  it('an old card of a closed incident closes nothing and names the target’s open incident', async () => {
    await engine.ingest([on('hostname', 'host-9', '2022-03-01T10:00:00Z')]);
    await service.closeById('inc-1', 'admin@example.com');
    await engine.ingest([on('hostname', 'host-9', '2022-03-01T11:00:00Z')]);
    const result = await service.closeById('inc-1', 'admin@example.com');
    expect(result).toMatchObject({ closed: false, incident: { id: 'inc-1' }, open: { id: 'inc-2' } });
    expect(engine.incident('inc-2')!.status).not.toMatch(/^Closed/);
  });

  it('an unknown id is a NotFoundError with what to try', async () => {
    await expect(service.closeById('nope', 'a')).rejects.toThrow(NotFoundError);
  });
});
