import { describe, expect, it } from 'vitest';
import { FakeClock } from '../../src/core/clock.js';
import { LookupCache } from '../../src/services/investigate-cache.js';

describe('investigate lookup cache', () => {
  const fetcher = () => {
    const calls: string[][] = [];
    let fail = false;
    const fetch = async (missing: string[]) => {
      calls.push(missing);
      await new Promise((r) => setImmediate(r));
      if (fail) throw new Error('XDR down');
      return new Map(missing.map((k) => [k, `answer for ${k}`]));
    };
    return { calls, fetch, failNext: (v: boolean) => (fail = v) };
  };

  it('five concurrent asks for the same key cost one fetch', async () => {
    const cache = new LookupCache<string>(new FakeClock(), 60_000);
    const f = fetcher();
    const results = await Promise.all(Array.from({ length: 5 }, () => cache.getMany(['sha256:abc'], f.fetch)));
    expect(f.calls).toEqual([['sha256:abc']]);
    for (const r of results) expect(r.values.get('sha256:abc')).toBe('answer for sha256:abc');
  });

  it('fetches only what is missing, and again once the time is up', async () => {
    const clock = new FakeClock();
    const cache = new LookupCache<string>(clock, 60_000);
    const f = fetcher();
    await cache.getMany(['a'], f.fetch);
    const second = await cache.getMany(['a', 'b'], f.fetch);
    expect(second.fetched).toBe(1);
    expect(f.calls).toEqual([['a'], ['b']]);
    await clock.sleep(60_001);
    await cache.getMany(['a'], f.fetch);
    expect(f.calls).toEqual([['a'], ['b'], ['a']]);
  });

  it('does not keep failures: the next ask tries again', async () => {
    const cache = new LookupCache<string>(new FakeClock(), 60_000);
    const f = fetcher();
    f.failNext(true);
    await expect(cache.getMany(['a'], f.fetch)).rejects.toThrow('XDR down');
    f.failNext(false);
    expect((await cache.getMany(['a'], f.fetch)).values.get('a')).toBe('answer for a');
    expect(f.calls).toHaveLength(2);
  });

  it('with a zero lifetime every ask is a lookup', async () => {
    const cache = new LookupCache<string>(new FakeClock(), 0);
    const f = fetcher();
    await cache.getMany(['a'], f.fetch);
    await cache.getMany(['a'], f.fetch);
    expect(f.calls).toHaveLength(2);
  });
});
