import { beforeEach, describe, expect, it } from 'vitest';
import { applySighting, type ApplyOptions } from '../../../src/domain/correlation/correlator.js';
import { parseLadder } from '../../../src/domain/correlation/ladder.js';
import { emptyCorrelationState, MAX_IOCS, MAX_RECENT_SIGHTINGS, type CorrelationState } from '../../../src/domain/correlation/types.js';
import { resetSeq, sighting } from './helpers.js';

const now = new Date('2022-03-01T12:00:00Z');
let state: CorrelationState;
let n = 0;
const opts: ApplyOptions = {
  rungs: parseLadder('eq 2 -> notify; gte 3 -> mention; gte 5 -> respond'),
  rejectedIsClosed: true,
  dryRun: false,
  newId: () => `inc-${++n}`,
};

beforeEach(() => {
  state = emptyCorrelationState();
  n = 0;
  resetSeq();
});

describe('applySighting', () => {
  it('opens an incident on the first sighting of a target, keyed by the normalised target', () => {
    const r = applySighting(state, sighting('DESKTOP-AU3IP5K'), now, opts);
    expect(r.created).toBe(true);
    expect(r.rung).toBeUndefined();
    expect(r.incident).toMatchObject({ id: 'inc-1', targetKey: 'hostname:desktop-au3ip5k', count: 1, status: 'New' });
    expect(state.openByTarget).toEqual({ 'hostname:desktop-au3ip5k': 'inc-1' });
    expect(state.lastAppliedSeq).toBe(1);
  });

  it('counts further sightings into the one open incident and crosses each rung once', () => {
    const labels: (string | undefined)[] = [];
    for (let i = 0; i < 7; i++) labels.push(applySighting(state, sighting('heimdallr'), now, opts).rung?.label);
    expect(labels).toEqual([undefined, 'eq 2', 'gte 3', undefined, 'gte 5', undefined, undefined]);
    const inc = state.incidents['inc-1']!;
    expect(inc.count).toBe(7);
    expect(inc.rungsFired.map((r) => [r.rung, r.count, r.dryRun])).toEqual([
      ['eq 2', 2, false],
      ['gte 3', 3, false],
      ['gte 5', 5, false],
    ]);
    expect(Object.keys(state.incidents)).toHaveLength(1);
  });

  it('keeps different targets apart and the same host under different spellings together', () => {
    applySighting(state, sighting('host-a'), now, opts);
    applySighting(state, sighting('HOST-A.'), now, opts);
    applySighting(state, sighting('host-b'), now, opts);
    expect(Object.values(state.incidents).map((i) => [i.targetValue, i.count])).toEqual([
      ['host-a', 2],
      ['host-b', 1],
    ]);
  });

  it.each(['Closed', 'Closed: False Positive', 'Rejected'])('opens a new incident linked to the previous one once it is %s', (status) => {
    applySighting(state, sighting('heimdallr'), now, opts);
    state.incidents['inc-1']!.status = status;
    const r = applySighting(state, sighting('heimdallr'), now, opts);
    expect(r.created).toBe(true);
    expect(r.previous?.id).toBe('inc-1');
    expect(r.incident.previousIncidentId).toBe('inc-1');
    expect(r.incident.count).toBe(1);
    expect(state.openByTarget['hostname:heimdallr']).toBe('inc-2');
  });

  it('keeps counting into a Rejected incident when Rejected is configured as open', () => {
    applySighting(state, sighting('heimdallr'), now, opts);
    state.incidents['inc-1']!.status = 'Rejected';
    const r = applySighting(state, sighting('heimdallr'), now, { ...opts, rejectedIsClosed: false });
    expect(r.created).toBe(false);
    expect(r.incident.count).toBe(2);
  });

  it('uses observed times, handling out-of-order arrivals', () => {
    applySighting(state, sighting('h', { observedAt: '2022-03-01T10:00:00Z', ioc: 'b.example' }), now, opts);
    applySighting(state, sighting('h', { observedAt: '2022-03-01T12:00:00Z', ioc: 'c.example' }), now, opts);
    applySighting(state, sighting('h', { observedAt: '2022-03-01T08:00:00Z', ioc: 'a.example' }), now, opts);
    const inc = state.incidents['inc-1']!;
    expect(inc.firstSeen).toBe('2022-03-01T08:00:00.000Z');
    expect(inc.lastSeen).toBe('2022-03-01T12:00:00.000Z');
    expect(inc.lastIoc.value).toBe('c.example');
    expect(inc.initial.ioc.value).toBe('a.example');
    expect(inc.recentSightings.map((s) => s.ioc.value).sort()).toEqual(['b.example', 'c.example']);
  });

  it('keeps per-incident detail bounded while the count stays exact', () => {
    for (let i = 0; i < 300; i++) applySighting(state, sighting('h', { ioc: `evil${i % 60}.example`, source: `src-${i % 40}` }), now, opts);
    const inc = state.incidents['inc-1']!;
    expect(inc.count).toBe(300);
    expect(inc.recentSightings).toHaveLength(MAX_RECENT_SIGHTINGS);
    expect(inc.iocs).toHaveLength(MAX_IOCS);
    expect(Object.keys(inc.sources).length).toBeLessThanOrEqual(20);
    expect(inc.iocs[0]!.value).toBe('evil59.example');
  });

  it('records a rung as a dry run when configured so', () => {
    applySighting(state, sighting('h'), now, { ...opts, dryRun: true });
    const r = applySighting(state, sighting('h'), now, { ...opts, dryRun: true });
    expect(r.incident.rungsFired).toEqual([expect.objectContaining({ rung: 'eq 2', dryRun: true, actions: ['notify'] })]);
  });
});
