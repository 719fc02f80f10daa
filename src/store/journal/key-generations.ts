/**
 * Keys with a number each (when they were seen), forgotten oldest first, a generation at a time.
 *
 * Why not one Map evicting its first key: V8's Map keeps insertion order by leaving a hole for each
 * deleted entry until the table is rebuilt, and finding the first live key walks over every hole
 * before it. Held at capacity (every new key evicting the oldest), that walk grew to tens of
 * thousands of holes per sighting — ~60 µs a key at 200,000 keys, measured — and each rebuild of the
 * full table stopped everything for 20–50 ms (issue 14: a 22 ms stall traced to it).
 *
 * Here keys go into the newest of several small Maps; when it holds `generationKeys` a new one is
 * started, and the oldest generations are dropped whole, never entry by entry. A lookup asks the
 * generations newest first (a handful of hash probes); no table grows beyond `generationKeys`.
 */
export class KeyGenerations<K> {
  /** Oldest first; the last one takes new keys. */
  private readonly generations: Array<{ keys: Map<K, number>; newest: number }> = [];
  private total = 0;

  constructor(private readonly generationKeys = 32_768) {
    this.startGeneration();
  }

  get size(): number {
    return this.total;
  }

  get(key: K): number | undefined {
    for (let i = this.generations.length - 1; i >= 0; i--) {
      const at = this.generations[i]!.keys.get(key);
      if (at !== undefined) return at;
    }
    return undefined;
  }

  /** Remembers `key` as seen at `at`, as the newest key (an older entry for it is removed). */
  set(key: K, at: number): void {
    this.delete(key);
    let current = this.generations.at(-1)!;
    if (current.keys.size >= this.generationKeys) current = this.startGeneration();
    current.keys.set(key, at);
    if (at > current.newest) current.newest = at;
    this.total++;
  }

  delete(key: K): void {
    for (const generation of this.generations) if (generation.keys.delete(key)) this.total--;
  }

  /**
   * Drops the oldest generation while `drop(it)` says so; the one taking new keys always stays.
   * `keysLeftAfter` is how many keys would be left without it, `newestAt` the highest number in it.
   */
  dropOldestWhile(drop: (oldest: { keysLeftAfter: number; newestAt: number }) => boolean): void {
    while (this.generations.length > 1) {
      const oldest = this.generations[0]!;
      if (!drop({ keysLeftAfter: this.total - oldest.keys.size, newestAt: oldest.newest })) return;
      this.generations.shift();
      this.total -= oldest.keys.size;
    }
  }

  /** Every key with its number, oldest generation first (insertion order within one). */
  *entries(): Generator<[K, number]> {
    for (const generation of [...this.generations]) yield* generation.keys;
  }

  private startGeneration(): { keys: Map<K, number>; newest: number } {
    const generation = { keys: new Map<K, number>(), newest: Number.NEGATIVE_INFINITY };
    this.generations.push(generation);
    return generation;
  }
}
