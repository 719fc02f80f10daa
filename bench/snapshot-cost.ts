/**
 * What one state snapshot costs at a given store size, while a flood counts into 1,000 of its
 * incidents: wall time, CPU, and what it allocates in the JavaScript heap (V8's sampling heap
 * profiler, objects the collector already took included). The ingest benchmark shows the same
 * cost only as part of a noisy end-to-end figure; this isolates it (issue 14).
 *
 *   npx tsx bench/snapshot-cost.ts [incidents]      (default 10,000; 10 sightings each)
 *
 * Each round counts one sighting into each of 1,000 open incidents (correlator and XDR queue, as the
 * intake does), then writes the state once. The first two rounds are left out: incidents settle there.
 */
import { Session } from 'node:inspector';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { applySighting, type ApplyOptions } from '../src/domain/correlation/correlator.js';
import { Interner } from '../src/domain/correlation/intern.js';
import { correlationOf, type SequencedSighting } from '../src/domain/correlation/types.js';
import { enqueueForSighting } from '../src/domain/correlation/xdr-sync.js';
import { LowdbStore } from '../src/store/lowdb-store.js';
import type { State } from '../src/store/state.js';
import { iocOf, SOURCE, targetOf, writeCorrelationStore } from './prepopulate.js';

interface ProfileNode {
  selfSize: number;
  children: ProfileNode[];
}

const incidents = Number(process.argv[2] ?? 10_000);
const HOT = Math.min(1_000, incidents);
const ROUNDS = 7;

const session = new Session();
session.connect();
const post = <T>(method: string, params: object = {}): Promise<T> =>
  new Promise((resolve, reject) => session.post(method, params, (err, result) => (err ? reject(err) : resolve(result as T))));
const allocated = (node: ProfileNode): number => node.children.reduce((sum, child) => sum + allocated(child), node.selfSize);

const dir = await mkdtemp(join(tmpdir(), 'sightline-snapshot-cost-'));
try {
  const file = join(dir, 'state.json');
  const { openHosts } = await writeCorrelationStore(file, { incidents, sightings: incidents * 10 });
  const store = await LowdbStore.open(file);
  const opts: ApplyOptions = { rungs: [], rejectedIsClosed: true, dryRun: false, newId: () => `probe-${Date.now()}`, interner: new Interner() };
  let seq = 1e9;
  await post('HeapProfiler.enable');
  const rows: string[] = [];
  // Writes one after the other, without the pause the store leaves between them.
  store.hurry();
  for (let round = 0; round < ROUNDS; round++) {
    // Counted in the live state as the correlator does inside an update; the write below is what is measured.
    const cs = correlationOf(store.get() as State);
    for (let i = 0; i < HOT; i++) {
      const s: SequencedSighting = { seq: ++seq, dedupeKey: `probe-${seq}`, target: targetOf(openHosts[i]!), ioc: iocOf(seq), source: SOURCE, observedAt: new Date().toISOString() };
      enqueueForSighting(cs, applySighting(cs, s, new Date(), opts), s, undefined, { pack: true });
    }
    await post('HeapProfiler.startSampling', { samplingInterval: 4096, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
    const began = performance.now();
    const cpu = process.cpuUsage();
    await store.update(() => undefined);
    const used = process.cpuUsage(cpu);
    const { profile } = await post<{ profile: { head: ProfileNode } }>('HeapProfiler.stopSampling');
    if (round >= 2) {
      rows.push(`| ${round - 1} | ${(performance.now() - began).toFixed(0)} ms | ${((used.user + used.system) / 1000).toFixed(0)} ms | ${(allocated(profile.head) / 1e6).toFixed(1)} MB |`);
    }
  }
  process.stdout.write(`Snapshot of ${incidents.toLocaleString('en-US')} incidents, ${HOT.toLocaleString('en-US')} of them counted since the last one:\n\n| write | wall | CPU | allocated in the heap |\n|---|---|---|---|\n${rows.join('\n')}\n`);
  await store.close();
} finally {
  await rm(dir, { recursive: true, force: true });
}
