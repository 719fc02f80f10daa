import { describe, expect, it } from 'vitest';
import { applySighting, type ApplyOptions } from '../../../src/domain/correlation/correlator.js';
import { compactCorrelation, Interner } from '../../../src/domain/correlation/intern.js';
import { forgetIncidentTexts, incidentJson, isIncidentLike, keepIncidentTexts, writeIncidentJson } from '../../../src/domain/correlation/incident-json.js';
import { packOp } from '../../../src/domain/correlation/packed-sighting-op.js';
import { parseLadder } from '../../../src/domain/correlation/ladder.js';
import { emptyCorrelationState, type Incident } from '../../../src/domain/correlation/types.js';
import { sighting } from './helpers.js';

const now = new Date('2022-03-01T12:00:00Z');

/** A small deterministic PRNG, so a failure replays. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32);
}

describe('incident JSON reused across snapshots', () => {
  it('is always exactly JSON.stringify, whatever the correlator and the other parts of the bot change', () => {
    const state = emptyCorrelationState();
    let n = 0;
    const opts: ApplyOptions = { rungs: parseLadder('eq 2 -> notify; gte 3 -> mention'), rejectedIsClosed: true, dryRun: false, newId: () => `inc-${++n}`, interner: new Interner() };
    const rand = rng(7);
    const hosts = ['a', 'b', 'c', 'd'];
    for (let step = 0; step < 600; step++) {
      const host = hosts[Math.floor(rand() * hosts.length)]!;
      const r = rand();
      const incidents = Object.values(state.incidents);
      const inc: Incident | undefined = incidents[Math.floor(rand() * incidents.length)];
      if (r < 0.6 || !inc) {
        const minute = Math.floor(rand() * 120);
        applySighting(state, sighting(host, { ioc: `ioc${Math.floor(rand() * 40)}.example`, source: rand() < 0.5 ? 'AMP' : 'webhook', observedAt: new Date(Date.UTC(2022, 2, 1, 8, minute)).toISOString() }), now, opts);
      } else if (r < 0.7) {
        inc.status = rand() < 0.5 ? 'Closed' : 'Open';
        if (inc.status === 'Closed') delete state.openByTarget[inc.targetKey];
      } else if (r < 0.8) {
        // The mirror queues a change, or has sent them all (an incident with none waiting is kept as bytes).
        if (rand() < 0.5) inc.xdrSync.pending.push({ id: step, kind: 'patch', attempts: 0 });
        else inc.xdrSync.pending = [];
        inc.xdrSync.lastError = rand() < 0.5 ? undefined : `e${step}`;
      } else if (r < 0.9) {
        inc.cardMessageId = `msg-${step}`;
        const fired = inc.rungsFired[0];
        if (fired) fired.outcome = `notify: sent ${step}`;
      } else {
        // A snapshot of a state read back from disk and compacted: same text.
        const loaded = JSON.parse(JSON.stringify(state)) as typeof state;
        compactCorrelation(loaded, new Interner());
        for (const i of Object.values(loaded.incidents)) expect(incidentJson(i)).toBe(JSON.stringify(i));
      }
      for (const i of Object.values(state.incidents)) expect(incidentJson(i)).toBe(JSON.stringify(i));
    }
    expect(Object.keys(state.incidents).length).toBeGreaterThan(3);
    expect(Math.max(...Object.values(state.incidents).map((i) => i.count))).toBeGreaterThan(50);
  });

  it('reuses the text of the remembered sightings while the revision stays (the correlator bumps it on every count)', () => {
    const inc = settled();
    const before = incidentJson(inc);
    // Changed behind the correlator's back (no revision bump): the reused text shows the old value...
    inc.recentSightings[0] = { ...inc.recentSightings[0]!, source: 'changed without a bump' };
    expect(incidentJson(inc)).toBe(before);
    // ...and a bump makes it serialise again.
    inc.revision += 1;
    expect(incidentJson(inc)).toBe(JSON.stringify(inc));
    expect(incidentJson(inc)).toContain('changed without a bump');
  });

  it('gives the very bytes of the last snapshot for a settled incident, and new ones once any field changes', () => {
    const inc = settled();
    const first = snapshotOf(inc).bytes;
    expect(first).toBeDefined();
    expect(snapshotOf(inc).bytes).toBe(first);
    // Fields that change without a revision bump are compared, not trusted.
    inc.status = 'Closed';
    const closed = snapshotOf(inc);
    expect(closed.bytes).toBeDefined();
    expect(closed.bytes).not.toBe(first);
    expect(closed.text).toBe(JSON.stringify(inc));
    inc.closedBy = 'analyst@example.com';
    expect(snapshotOf(inc).text).toBe(JSON.stringify(inc));
    inc.rungsFired.push({ rung: 'gte 3', count: 3, at: now.toISOString(), actions: ['notify'], dryRun: false });
    expect(snapshotOf(inc).text).toBe(JSON.stringify(inc));
    expect(snapshotOf(inc).bytes).toBe(snapshotOf(inc).bytes);
  });

  it('sees a small field changed in place deep inside, or its keys reordered, though nothing was bumped', () => {
    const inc = settled();
    inc.xdrSync.deadLetters = [{ opId: 1, kind: 'patch', reason: 'XDR said 400', attempts: 3, at: now.toISOString() }];
    const first = snapshotOf(inc).bytes;
    expect(snapshotOf(inc).bytes).toBe(first);
    // The same object, changed in place: compared by what it would serialise to, not by reference.
    inc.xdrSync.deadLetters[0]!.reason = 'XDR said 403';
    const changed = snapshotOf(inc);
    expect(changed.bytes).not.toBe(first);
    expect(changed.text).toBe(JSON.stringify(inc));
    inc.sources['AMP'] = (inc.sources['AMP'] ?? 0) + 1;
    expect(snapshotOf(inc).text).toBe(JSON.stringify(inc));
    // Same values, another key order: another text.
    const { dropped, ...rest } = inc.xdrSync;
    inc.xdrSync = { ...rest, dropped };
    expect(snapshotOf(inc).text).toBe(JSON.stringify(inc));
    // A field added, left out of the text (undefined), then given a value.
    inc.closedBy = undefined;
    expect(snapshotOf(inc).text).toBe(JSON.stringify(inc));
    inc.closedBy = 'analyst@example.com';
    expect(snapshotOf(inc).text).toBe(JSON.stringify(inc));
  });

  it('keeps no bytes for an incident still changing (counted since the last snapshot, or with XDR changes waiting), but hands its queued bodies over as kept', () => {
    const inc = settled();
    expect(snapshotOf(inc).bytes).toBeDefined();
    inc.xdrSync.pending.push({ id: 1, kind: 'patch', attempts: 0 });
    // Text made now, for this snapshot only: the writer counts it against what may wait for the disk.
    const waiting = snapshotOf(inc);
    expect(waiting.bytes).toBeUndefined();
    expect(waiting.text).toBe(JSON.stringify(inc));
    // A queued sighting's CTIM body never changes: a snapshot may hold it by reference instead of copying it.
    const body = { type: 'sighting', source: 'webhook', observables: [{ type: 'domain', value: 'evil.example' }] };
    inc.xdrSync.pending.push(packOp({ id: 2, kind: 'sighting', seq: 7, ctim: body, attempts: 0 }));
    const withBody = snapshotOf(inc);
    expect(withBody.keptTexts).toEqual([JSON.stringify(body)]);
    expect(withBody.text).toBe(JSON.stringify(inc));
    inc.xdrSync.pending = [];
    const recounted = settled();
    recounted.revision += 1;
    expect(snapshotOf(recounted).bytes).toBeUndefined();
    // Unchanged once more: from now on the same bytes.
    const again = snapshotOf(recounted).bytes;
    expect(again).toBeDefined();
    expect(snapshotOf(recounted).bytes).toBe(again);
  });

  it('forgets every cached text when asked (a quiet process), and serialises afresh after', () => {
    const inc = settled();
    const before = incidentJson(inc);
    inc.recentSightings[0] = { ...inc.recentSightings[0]!, source: 'changed without a bump' };
    expect(incidentJson(inc)).toBe(before);
    forgetIncidentTexts();
    expect(incidentJson(inc)).toBe(JSON.stringify(inc));
    keepIncidentTexts();
  });

  it('keeps no text while quiet, and keeps them again once busy', () => {
    const inc = twiceSighted();
    inc.xdrSync.pending = [];
    forgetIncidentTexts();
    try {
      incidentJson(inc);
      expect(snapshotOf(inc).bytes).toBeUndefined();
      // Nothing was kept: a change without a bump shows at the next write.
      inc.recentSightings[0] = { ...inc.recentSightings[0]!, source: 'changed while quiet' };
      expect(incidentJson(inc)).toContain('changed while quiet');
    } finally {
      keepIncidentTexts();
    }
    incidentJson(inc);
    const kept = incidentJson(inc);
    inc.recentSightings[0] = { ...inc.recentSightings[0]!, source: 'changed while busy' };
    expect(incidentJson(inc)).toBe(kept);
  });

  it('only takes values shaped like incidents', () => {
    expect(isIncidentLike({ revision: 1, recentSightings: [], iocs: [] })).toBe(true);
    expect(isIncidentLike({ revision: '1', recentSightings: [], iocs: [] })).toBe(false);
    expect(isIncidentLike(null)).toBe(false);
    expect(isIncidentLike({ revision: 1, recentSightings: [], iocs: [], toJSON: () => 'x' })).toBe(false);
  });
});

/**
 * An incident counted twice by the correlator (so it has remembered sightings to reuse), the XDR
 * mirror caught up with it, and written in two snapshots since (bytes are kept from the second).
 */
function settled(): Incident {
  const inc = twiceSighted();
  inc.xdrSync.pending = [];
  incidentJson(inc);
  incidentJson(inc);
  return inc;
}

/** An incident counted twice by the correlator (so it has remembered sightings to reuse). */
function twiceSighted(): Incident {
  const state = emptyCorrelationState();
  const opts: ApplyOptions = { rungs: [], rejectedIsClosed: true, dryRun: false, newId: () => 'inc-1', interner: new Interner() };
  applySighting(state, sighting('h', { ioc: 'first.example' }), now, opts);
  applySighting(state, sighting('h', { ioc: 'second.example' }), now, opts);
  return state.incidents['inc-1']!;
}

/**
 * What a snapshot is given for the incident: `bytes` when it comes whole as the kept bytes of an
 * earlier one, the texts it is handed as kept (queued bodies), and all of it as one text.
 */
function snapshotOf(inc: Incident): { bytes: Uint8Array | undefined; keptTexts: string[]; text: string } {
  const pieces: Array<{ kept: boolean; piece: string | Uint8Array }> = [];
  writeIncidentJson(inc, { text: (piece) => pieces.push({ kept: false, piece }), kept: (piece) => pieces.push({ kept: true, piece }) });
  const only = pieces.length === 1 && pieces[0]!.kept && typeof pieces[0]!.piece !== 'string' ? pieces[0]!.piece : undefined;
  return {
    bytes: only,
    keptTexts: pieces.flatMap((p) => (p.kept && typeof p.piece === 'string' ? [p.piece] : [])),
    text: pieces.map((p) => (typeof p.piece === 'string' ? p.piece : Buffer.from(p.piece).toString('utf8'))).join(''),
  };
}
