import { beforeEach, describe, expect, it } from 'vitest';
import { applySighting, type ApplyOptions } from '../../../src/domain/correlation/correlator.js';
import { compactCorrelation, Interner } from '../../../src/domain/correlation/intern.js';
import { emptyCorrelationState, type CorrelationState } from '../../../src/domain/correlation/types.js';
import { resetSeq, sighting } from './helpers.js';

const now = new Date('2022-03-01T12:00:00Z');
let state: CorrelationState;
let n = 0;
let opts: ApplyOptions;

beforeEach(() => {
  state = emptyCorrelationState();
  n = 0;
  resetSeq();
  opts = { rungs: [], rejectedIsClosed: true, dryRun: false, newId: () => `inc-${++n}`, interner: new Interner() };
});

describe('interning the correlation state', () => {
  it('gives every sighting of one IOC the same frozen {type, value}, across incidents', () => {
    for (const host of ['a', 'b', 'a', 'c', 'a']) applySighting(state, sighting(host, { ioc: 'ictoms.site' }), now, opts);
    applySighting(state, sighting('a', { ioc: 'other.example' }), now, opts);
    const [a, b] = [state.incidents['inc-1']!, state.incidents['inc-2']!];
    const shared = a.initial.ioc;
    expect(Object.isFrozen(shared)).toBe(true);
    expect(b.initial.ioc).toBe(shared);
    expect(a.recentSightings[0]!.ioc).toBe(shared);
    expect(a.lastIoc).toEqual({ type: 'domain', value: 'other.example' });
    expect(a.lastIoc).not.toBe(shared);
    // The per-incident IOC tally is its own object (it is counted in place), not the shared one.
    expect(a.iocs.find((i) => i.value === 'ictoms.site')).toMatchObject({ count: 3 });
    expect(shared).toEqual({ type: 'domain', value: 'ictoms.site' });
  });

  it('is bounded: past its capacity the table starts over instead of growing', () => {
    const t = new Interner(3);
    const first = t.ioc('domain', 'x0');
    for (let i = 1; i < 3; i++) t.ioc('domain', `x${i}`);
    expect(t.ioc('domain', 'x0')).toBe(first);
    t.ioc('domain', 'x3'); // the table was full: it starts over with this one
    expect(t.ioc('domain', 'x0')).not.toBe(first);
    expect(t.ioc('domain', 'x0')).toEqual(first);
  });

  it('compacts a state read from disk without changing a byte of it, and shares its IOC objects', () => {
    for (let i = 0; i < 30; i++) applySighting(state, sighting(`h${i % 3}`, { ioc: `ioc${i % 4}.example`, source: i % 2 ? 'AMP' : 'webhook' }), now, opts);
    const json = JSON.stringify(state);
    const loaded = JSON.parse(json) as CorrelationState;
    const a = Object.values(loaded.incidents)[0]!;
    const b = Object.values(loaded.incidents)[1]!;
    expect(a.initial.ioc).not.toBe(b.initial.ioc);
    compactCorrelation(loaded, new Interner());
    expect(JSON.stringify(loaded)).toBe(json);
    const byValue = (inc: typeof a, v: string) => [inc.initial, ...inc.recentSightings].find((r) => r.ioc.value === v)?.ioc;
    expect(byValue(a, 'ioc0.example')).toBeDefined();
    expect(byValue(a, 'ioc0.example')).toBe(byValue(b, 'ioc0.example'));
    expect(Object.isFrozen(a.initial.ioc)).toBe(true);
  });

  it('leaves an IOC record with fields it does not know as it is', () => {
    applySighting(state, sighting('h'), now, opts);
    const loaded = JSON.parse(JSON.stringify(state)) as CorrelationState;
    const inc = loaded.incidents['inc-1']!;
    (inc.initial.ioc as unknown as Record<string, unknown>)['extra'] = 1;
    compactCorrelation(loaded, new Interner());
    expect(inc.initial.ioc).toEqual({ type: 'domain', value: 'ictoms.site', extra: 1 });
    expect(Object.isFrozen(inc.initial.ioc)).toBe(false);
  });
});
