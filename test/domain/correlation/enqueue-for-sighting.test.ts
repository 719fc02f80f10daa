import { beforeEach, describe, expect, it } from 'vitest';
import { applySighting, type ApplyOptions } from '../../../src/domain/correlation/correlator.js';
import { parseLadder } from '../../../src/domain/correlation/ladder.js';
import { emptyCorrelationState, type CorrelationState, type XdrOp } from '../../../src/domain/correlation/types.js';
import { ctimSighting, enqueueForSighting } from '../../../src/domain/correlation/xdr-sync.js';
import { resetSeq, sighting } from './helpers.js';

const now = new Date('2026-12-04T06:00:00Z');
let state: CorrelationState;
let n = 0;
const opts: ApplyOptions = { rungs: parseLadder('gte 100 -> notify'), rejectedIsClosed: true, dryRun: false, newId: () => `inc-${++n}` };

beforeEach(() => {
  state = emptyCorrelationState();
  n = 0;
  resetSeq();
});

/** Counts `count` sightings of one host into the state and queues their XDR ops, as the engine does. */
function burst(count: number, newest: number, pack: boolean): { pending: XdrOp[]; unmirrored: number | undefined; seqs: number[] } {
  const seqs: number[] = [];
  for (let i = 0; i < count; i++) {
    const s = sighting('burst-host');
    seqs.push(s.seq);
    enqueueForSighting(state, applySighting(state, s, now, opts), s, newest, { pack });
  }
  const inc = Object.values(state.incidents)[0]!;
  return { pending: inc.xdrSync.pending, unmirrored: inc.xdrSync.unmirrored, seqs };
}

describe('enqueueForSighting: a burst bigger than the per-incident queue', () => {
  for (const pack of [false, true]) {
    it(`keeps the newest sightings waiting, counts the dropped ones, and keeps every other op${pack ? ' (packed, as lowdb holds them)' : ''}`, () => {
      const { pending, unmirrored, seqs } = burst(25, 20, pack);
      const waiting = pending.filter((op): op is Extract<XdrOp, { kind: 'sighting' }> => op.kind === 'sighting');
      expect(waiting.map((op) => op.seq)).toEqual(seqs.slice(5));
      expect(unmirrored).toBe(5);
      // The incident's create and its one patch stay queued, ahead of the sightings.
      expect(pending.filter((op) => op.kind !== 'sighting').map((op) => op.kind)).toEqual(['create_incident', 'patch']);
      expect(pending[0]!.kind).toBe('create_incident');
    });
  }

  it('drops nothing while the queue holds no more than the newest asked for', () => {
    const { pending, unmirrored } = burst(20, 20, false);
    expect(pending.filter((op) => op.kind === 'sighting')).toHaveLength(20);
    expect(unmirrored).toBeUndefined();
  });

  it('leaves a sighting already in XDR alone (only waiting ones count against the limit)', () => {
    burst(3, 3, false);
    const inc = Object.values(state.incidents)[0]!;
    const first = inc.xdrSync.pending.find((op) => op.kind === 'sighting') as Extract<XdrOp, { kind: 'sighting' }>;
    first.xdrSightingId = 'sighting-in-xdr';
    const { pending, unmirrored } = burst(1, 3, false);
    expect(pending.some((op) => op.kind === 'sighting' && op.xdrSightingId === 'sighting-in-xdr')).toBe(true);
    expect(pending.filter((op) => op.kind === 'sighting' && !op.xdrSightingId)).toHaveLength(3);
    expect(unmirrored).toBeUndefined();
  });
});

describe('ctimSighting: the external id it gives XDR', () => {
  // XDR finds our copy of a sighting again by this id: an upgrade that computed it differently would post a
  // second copy of every sighting still waiting. This is the value earlier versions sent.
  it('is derived from the dedupe key as before', () => {
    const body = ctimSighting({ ...sighting('h'), dedupeKey: 'ext-1' });
    expect(body.external_ids).toEqual(['sightline-sighting-4c4afe32eedbefa769db75d3ecf5aa2d']);
  });
});
