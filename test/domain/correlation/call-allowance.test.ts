import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FakeClock } from '../../../src/core/clock.js';
import { createLogger, silentLogger } from '../../../src/core/logger.js';
import { CallAllowance, meteredMirrorXdr, mirrorAllowance } from '../../../src/domain/correlation/call-allowance.js';
import { CorrelationEngine } from '../../../src/domain/correlation/engine.js';
import { MIRROR_CONCURRENCY } from '../../../src/domain/correlation/xdr-ops.js';
import { FakeXdr, ManualTimers, RecordingNotifier, quietCorrelationConfig, resetSeq, sighting, tempStore } from './helpers.js';

describe('CallAllowance', () => {
  it('allows a burst of five minutes’ worth, then refills at the hourly rate', () => {
    const clock = new FakeClock();
    const a = new CallAllowance(3_600, clock); // one call a second, burst 300
    expect(a.burst).toBe(300);
    for (let i = 0; i < 300; i++) {
      expect(a.hasRoom()).toBe(true);
      a.spend();
    }
    expect(a.hasRoom()).toBe(false);
    expect(a.waitMs()).toBe(1_000);
    clock.advance(999);
    expect(a.hasRoom()).toBe(false);
    clock.advance(1);
    expect(a.hasRoom()).toBe(true);
    // A long quiet spell refills no more than the burst.
    clock.advance(24 * 3_600_000);
    for (let i = 0; i < 300; i++) a.spend();
    expect(a.hasRoom()).toBe(false);
  });

  it('lets an op that started finish its calls, and pays the overdraft back before the next', () => {
    const clock = new FakeClock();
    const a = new CallAllowance(3_600, clock, 1);
    a.spend();
    a.spend();
    a.spend(); // a create: lookup, POST, then its sighting's relationship
    expect(a.hasRoom()).toBe(false);
    expect(a.waitMs()).toBe(3_000);
    clock.advance(2_999);
    expect(a.hasRoom()).toBe(false);
    clock.advance(1);
    expect(a.hasRoom()).toBe(true);
  });

  it('holds every call until a 429’s Retry-After has passed, whatever allowance is left', () => {
    const clock = new FakeClock();
    const a = new CallAllowance(4_000, clock);
    a.holdFor(30_000);
    a.holdFor(5_000); // a shorter answer does not shorten the hold
    expect(a.hasRoom()).toBe(false);
    expect(a.waitMs()).toBe(30_000);
    clock.advance(30_000);
    expect(a.hasRoom()).toBe(true);
  });

  it('refills nothing, and takes nothing away, when the clock goes back', () => {
    const clock = new FakeClock('2022-03-01T12:00:00Z');
    const a = new CallAllowance(3_600, clock, 2);
    a.spend();
    clock.set('2022-03-01T11:00:00Z');
    expect(a.hasRoom()).toBe(true);
    a.spend();
    expect(a.hasRoom()).toBe(false);
  });

  it('is full again only once the burst has refilled and no hold is in place', () => {
    const clock = new FakeClock();
    const a = new CallAllowance(3_600, clock, 3);
    expect(a.isFull()).toBe(true);
    a.spend();
    expect(a.isFull()).toBe(false);
    clock.advance(1_000);
    expect(a.isFull()).toBe(true);
    a.holdFor(5_000);
    expect(a.isFull()).toBe(false);
    clock.advance(5_000);
    expect(a.isFull()).toBe(true);
  });

  it('is off when XDR_MIRROR_CALLS_PER_HOUR is 0 or unset', () => {
    const clock = new FakeClock();
    expect(mirrorAllowance(0, clock)).toBeUndefined();
    expect(mirrorAllowance(undefined, clock)).toBeUndefined();
    expect(mirrorAllowance(4_000, clock)?.burst).toBe(333);
  });

  it('counts each of the mirror’s XDR calls, optional ones included', async () => {
    const clock = new FakeClock();
    const a = new CallAllowance(3_600, clock, 10);
    const xdr = new FakeXdr();
    const metered = meteredMirrorXdr(xdr, a);
    const created = await metered.createIncident({ title: 't' });
    await metered.findIncidentsByExternalId('x');
    await metered.findSightingsByExternalId!('y');
    await metered.patchIncident(created.id.split('/').pop()!, { title: 'u' });
    expect(xdr.callCount).toBe(4);
    expect(a.waitMs()).toBe(0);
    for (let i = 0; i < 6; i++) a.spend();
    expect(a.hasRoom()).toBe(false);
  });
});

describe('the lowdb mirror within XDR_MIRROR_CALLS_PER_HOUR', () => {
  const config = quietCorrelationConfig({ mirrorCallsPerHour: 120 }); // two calls a minute, burst 10
  let env: Awaited<ReturnType<typeof tempStore>>;
  let xdr: FakeXdr;
  let clock: FakeClock;
  let e: CorrelationEngine;

  beforeEach(async () => {
    env = await tempStore();
    xdr = new FakeXdr();
    clock = new FakeClock('2022-03-01T12:00:00Z');
    resetSeq();
    e = new CorrelationEngine({
      awaitSideEffects: true,
      store: env.store,
      xdr,
      notifier: new RecordingNotifier(),
      clock,
      logger: silentLogger,
      config,
      incidentUrlTemplate: 'https://visibility.amp.cisco.com/incidents?q=id:{shortId}#summary',
      timers: new ManualTimers(),
    });
  });
  afterEach(async () => {
    await env.store.close();
    await env.cleanup();
  });

  it('spends no more than its burst in a flood of new incidents, counts every sighting, and catches up later', async () => {
    for (let i = 0; i < 20; i++) await e.ingest([sighting(`host-${i}`)]);
    // An op that starts with allowance left finishes (at most 2 calls), a few workers at once.
    expect(xdr.callCount).toBeGreaterThanOrEqual(10);
    expect(xdr.callCount).toBeLessThanOrEqual(10 + MIRROR_CONCURRENCY * 2);
    const local = Object.values(e.state().incidents);
    expect(local).toHaveLength(20);
    expect(local.every((i) => i.count === 1)).toBe(true);
    const mirrored = xdr.incidents.size;
    expect(mirrored).toBeLessThan(20);

    // Nothing more while the allowance is spent, however often a pass is asked for.
    const before = xdr.callCount;
    for (let i = 0; i < 5; i++) await e.syncPending();
    expect(xdr.callCount).toBe(before);

    // An hour later (two calls a minute, refilled up to the burst each pass) everything is there, once.
    for (let minute = 0; minute < 60; minute++) {
      clock.advance(60_000);
      await e.syncPending();
    }
    expect(xdr.incidents.size).toBe(20);
    expect(xdr.sightings).toHaveLength(20);
    expect(Object.values(e.state().incidents).every((i) => i.xdrId && i.xdrSync.pending.length === 0)).toBe(true);
  });

  it('tells the engineer once when it starts holding back and once when it has caught up, not at every refill', async () => {
    const logs: Record<string, unknown>[] = [];
    const logged = new CorrelationEngine({
      awaitSideEffects: true,
      store: env.store,
      xdr,
      notifier: new RecordingNotifier(),
      clock,
      logger: createLogger({ level: 'info', destination: { write: (line: string) => void logs.push(JSON.parse(line) as Record<string, unknown>) } }),
      config,
      incidentUrlTemplate: 'https://visibility.amp.cisco.com/incidents?q=id:{shortId}#summary',
      timers: new ManualTimers(),
    });
    const held = () => logs.filter((l) => String(l.msg).startsWith('XDR mirror is holding back')).length;
    const caughtUp = () => logs.filter((l) => l.msg === 'XDR mirror has caught up within its share of the XDR budget').length;
    for (let i = 0; i < 20; i++) await logged.ingest([sighting(`host-${i}`)]);
    await logged.syncPending();
    expect(held()).toBe(1);
    // A backlog: a call's worth refills, is spent, and the mirror is held again — still one line.
    for (let round = 0; round < 10; round++) {
      clock.advance(30_000);
      await logged.syncPending();
      await logged.syncPending();
    }
    expect(held()).toBe(1);
    expect(caughtUp()).toBe(0);
    // The backlog clears, and the allowance refills whole: one line says so.
    for (let minute = 0; minute < 60; minute++) {
      clock.advance(60_000);
      await logged.syncPending();
    }
    expect(xdr.incidents.size).toBe(20);
    expect(caughtUp()).toBe(1);
    expect(held()).toBe(1);
  });

  it('makes no XDR call until a 429’s Retry-After has passed', async () => {
    xdr.fault = (call) => (call === 'createIncident' ? 429 : undefined);
    await e.ingest([sighting('a')]);
    expect(xdr.incidents.size).toBe(0);
    xdr.fault = undefined;
    const before = xdr.callCount;
    // FakeXdr's 429 names no Retry-After: the mirror waits a minute.
    clock.advance(59_000);
    await e.syncPending();
    expect(xdr.callCount).toBe(before);
    clock.advance(1_000);
    await e.syncPending();
    expect(xdr.incidents.size).toBe(1);
  });
});
