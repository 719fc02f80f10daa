import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { applySighting, type ApplyOptions } from '../../src/domain/correlation/correlator.js';
import { Interner } from '../../src/domain/correlation/intern.js';
import { correlationOf } from '../../src/domain/correlation/types.js';
import { LowdbStore } from '../../src/store/lowdb-store.js';
import { StreamingJsonFile } from '../../src/store/streaming-json-file.js';
import { sighting } from '../domain/correlation/helpers.js';

const now = new Date('2022-03-01T12:00:00Z');

describe('state snapshots with many incidents (text of unchanged incidents reused)', () => {
  it('writes exactly JSON.stringify of the state, snapshot after snapshot, and reads back to the same state', async () => {
    const path = join(await mkdtemp(join(tmpdir(), 'sightline-snap-')), 'state.json');
    const store = await LowdbStore.open(path);
    let n = 0;
    const opts: ApplyOptions = { rungs: [], rejectedIsClosed: true, dryRun: false, newId: () => `inc-${++n}`, interner: new Interner() };
    // More than 64 incidents: the incidents map is written entry by entry, where the reuse applies.
    await store.update((s) => {
      for (let i = 0; i < 150; i++) applySighting(correlationOf(s), sighting(`host-${i}`), now, opts);
    });
    expect(await readFile(path, 'utf8')).toBe(JSON.stringify(store.get()));
    for (let round = 0; round < 3; round++) {
      await store.update((s) => {
        const cs = correlationOf(s);
        for (let i = 0; i < 10; i++) applySighting(cs, sighting(`host-${(i * 7 + round) % 150}`, { ioc: `r${round}.example` }), now, opts);
        cs.incidents['inc-3']!.status = `Status ${round}`;
        cs.incidents['inc-4']!.xdrSync.pending.push({ id: round, kind: 'patch', attempts: round });
      });
      expect(await readFile(path, 'utf8')).toBe(JSON.stringify(store.get()));
    }
    const reopened = await LowdbStore.open(path);
    expect(reopened.get()).toEqual(JSON.parse(JSON.stringify(store.get())));
  });

  it('uses the leaf text it is given for entries written whole, by their path', async () => {
    const path = join(await mkdtemp(join(tmpdir(), 'sightline-snap-')), 'state.json');
    const seen: string[] = [];
    const file = new StreamingJsonFile<object>(path, {
      leaf: (_value, p, sink) => {
        seen.push(p.join('.'));
        if (p.join('.') !== 'a.k5') return false;
        sink.kept('"reused"');
        return true;
      },
    });
    const a = Object.fromEntries(Array.from({ length: 70 }, (_, i) => [`k${i}`, { i }]));
    await file.write({ a, b: { x: { y: 1 } } });
    const written = JSON.parse(await readFile(path, 'utf8')) as { a: Record<string, unknown>; b: unknown };
    expect(written.a['k5']).toBe('reused');
    expect(written.a['k6']).toEqual({ i: 6 });
    expect(written.b).toEqual({ x: { y: 1 } });
    expect(seen).toContain('a.k69');
    expect(seen).toContain('b.x');
  });

  it('reaches every incident of the real state shape, where the reuse applies, though correlation has few keys', async () => {
    // The incidents map sits under correlation's six keys: a section written whole would be one blocking
    // JSON.stringify of nearly the whole state, and no incident's text would ever be reused.
    const path = join(await mkdtemp(join(tmpdir(), 'sightline-snap-')), 'state.json');
    const store = await LowdbStore.open(path);
    let n = 0;
    const opts: ApplyOptions = { rungs: [], rejectedIsClosed: true, dryRun: false, newId: () => `inc-${++n}`, interner: new Interner() };
    await store.update((s) => {
      for (let i = 0; i < 70; i++) applySighting(correlationOf(s), sighting(`host-${i}`), now, opts);
    });
    const seen: string[] = [];
    const file = new StreamingJsonFile<object>(`${path}.copy`, {
      leaf: (_value, p) => {
        seen.push(p.join('.'));
        return false;
      },
    });
    await file.write(store.get());
    expect(seen.filter((p) => p.startsWith('correlation.incidents.'))).toHaveLength(70);
    expect(seen).not.toContain('correlation');
    expect(seen).not.toContain('correlation.incidents');
    expect(await readFile(`${path}.copy`, 'utf8')).toBe(JSON.stringify(store.get()));
  });
});
