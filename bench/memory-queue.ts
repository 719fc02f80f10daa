import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { applySighting } from '../src/domain/correlation/correlator.js';
import { parseLadder } from '../src/domain/correlation/ladder.js';
import { emptyCorrelationState, type CorrelationState, type SequencedSighting, type XdrOp } from '../src/domain/correlation/types.js';
import { MAX_PENDING_SIGHTINGS, enqueueForSighting } from '../src/domain/correlation/xdr-sync.js';
import { payloadFor } from './load.js';
import { hostOf } from './prepopulate.js';

/**
 * The heap a full XDR mirror queue holds (issue 14), without HTTP or a machine fast enough to fill
 * it: what a flood leaves when XDR is slower than the intake. `rounds` sightings per target, 1,000
 * targets, the memory benchmark's own request bodies (a module CTIM sighting each), through the
 * correlator and the lowdb queue exactly as the engine runs them; the queue keeps the newest
 * XDR_MIRROR_NEWEST_SIGHTINGS (20) per incident. Heap figures after two full collections.
 *
 *   npx tsx bench/memory-queue.ts [rounds=20]
 */
const TARGETS = 1_000;

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const heapUsed = (): number => {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
};

function sightingOf(n: number, target: number): SequencedSighting {
  const body = JSON.parse(payloadFor('queue', n, hostOf(target))) as Record<string, string>;
  return {
    seq: n + 1,
    dedupeKey: `queue-${n}`,
    target: { type: 'endpoint', observables: [{ type: 'hostname', value: body.target_value! }] },
    ioc: { type: body.ioc_type!, value: body.ioc_value! },
    source: body.event_source!,
    observedAt: body.target_observed_time!,
    ctim: JSON.parse(body.sighting_json!) as Record<string, unknown>,
  };
}

function fill(rounds: number, pack: boolean): CorrelationState {
  const cs = emptyCorrelationState();
  const rungs = parseLadder('eq 2 -> notify', {});
  let id = 0;
  for (let round = 0; round < rounds; round++) {
    for (let t = 0; t < TARGETS; t++) {
      const s = sightingOf(round * TARGETS + t, t);
      const r = applySighting(cs, s, new Date(), { rungs, rejectedIsClosed: true, dryRun: false, newId: () => `inc-${++id}` });
      enqueueForSighting(cs, r, s, MAX_PENDING_SIGHTINGS, { pack });
    }
  }
  return cs;
}

function measure(rounds: number, pack: boolean): { total: number; queue: number; ops: number } {
  const before = heapUsed();
  const cs = fill(rounds, pack);
  const full = heapUsed();
  const ops = Object.values(cs.incidents).reduce((n, i) => n + i.xdrSync.pending.filter((o: XdrOp) => o.kind === 'sighting').length, 0);
  for (const inc of Object.values(cs.incidents)) inc.xdrSync.pending = [];
  const emptied = heapUsed();
  return { total: full - before, queue: full - emptied, ops };
}

const rounds = Number(process.argv[2] ?? MAX_PENDING_SIGHTINGS);
// Once without measuring: code, interning tables and the JIT settle first.
measure(2, true);
const mb = (x: number) => `${(x / 1048576).toFixed(1)} MB`;
for (const pack of [false, true]) {
  const m = measure(rounds, pack);
  process.stdout.write(
    `${pack ? 'packed (text until sent)' : 'plain (parsed bodies)  '}: ${TARGETS} incidents, ${m.ops} queued sightings: ` +
      `state ${mb(m.total)}, of it the queue ${mb(m.queue)} (${Math.round(m.queue / m.ops)} B per queued sighting)\n`,
  );
}
