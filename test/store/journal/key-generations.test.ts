import { describe, expect, it } from 'vitest';
import { KeyGenerations } from '../../../src/store/journal/key-generations.js';

/** Keys 0…n-1 remembered in order, keeping at least `keep` of them (as the dedupe index keeps sender ids). */
function fill(n: number, generationKeys: number, keep: number): KeyGenerations<string> {
  const keys = new KeyGenerations<string>(generationKeys);
  for (let i = 0; i < n; i++) {
    keys.set(`k${i}`, i);
    keys.dropOldestWhile(({ keysLeftAfter }) => keysLeftAfter >= keep);
  }
  return keys;
}

describe('KeyGenerations', () => {
  it('keeps at least the most recent keys asked for, and at most a generation more', () => {
    const keys = fill(1000, 10, 100);
    expect(keys.size).toBeGreaterThanOrEqual(100);
    expect(keys.size).toBeLessThanOrEqual(110);
    for (let i = 900; i < 1000; i++) expect(keys.get(`k${i}`)).toBe(i);
    expect(keys.get('k0')).toBeUndefined();
    expect(keys.get('k800')).toBeUndefined();
    expect([...keys.entries()]).toHaveLength(keys.size);
  });

  it('moves a key seen again to the newest generation, so it outlives its old one', () => {
    const keys = new KeyGenerations<string>(2);
    keys.set('a', 1);
    keys.set('b', 2);
    keys.set('c', 3);
    keys.set('a', 4); // seen again: newest
    keys.set('d', 5);
    expect(keys.size).toBe(4);
    keys.dropOldestWhile(({ keysLeftAfter }) => keysLeftAfter >= 2);
    expect(keys.get('b')).toBeUndefined();
    expect(keys.get('a')).toBe(4);
    expect([...keys.entries()]).toEqual([
      ['c', 3],
      ['a', 4],
      ['d', 5],
    ]);
  });

  it('drops a generation by what its newest key says, and never the one taking new keys', () => {
    const keys = new KeyGenerations<string>(2);
    for (const [key, at] of [['old1', 10], ['old2', 20], ['mid', 30], ['new', 40]] as const) keys.set(key, at);
    keys.dropOldestWhile(({ newestAt }) => newestAt < 25);
    expect([...keys.entries()].map(([k]) => k)).toEqual(['mid', 'new']);
    keys.dropOldestWhile(() => true);
    expect([...keys.entries()].map(([k]) => k)).toEqual(['mid', 'new']);
    expect(keys.size).toBe(2);
  });

  it('deletes a key from whichever generation holds it', () => {
    const keys = new KeyGenerations<string>(2);
    ['a', 'b', 'c'].forEach((k, i) => keys.set(k, i));
    keys.delete('a');
    keys.delete('c');
    keys.delete('missing');
    expect(keys.size).toBe(1);
    expect(keys.get('a')).toBeUndefined();
    expect(keys.get('b')).toBe(1);
  });
});
