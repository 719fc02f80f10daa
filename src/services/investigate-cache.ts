import type { Clock } from '../core/clock.js';

/**
 * A short-lived cache of XDR answers per observable, with single flight: while
 * one lookup of a hash is under way, a second ask for it waits for that answer
 * instead of asking XDR again. So a room asking about the same hash five times
 * (even at once) costs one lookup. Bounded: the oldest entries go first.
 */
export class LookupCache<V> {
  private readonly entries = new Map<string, { value: V; expiresAt: number }>();
  private readonly inflight = new Map<string, Promise<V>>();

  constructor(
    private readonly clock: Clock,
    private readonly ttlMs: number,
    private readonly maxEntries = 10_000,
  ) {}

  /**
   * Values for `keys`: cached ones as they are, in-flight ones awaited, and the
   * rest fetched with ONE call to `fetch(missing)`, which must return a value for
   * each missing key (a key it leaves out is an error for that key's callers).
   */
  async getMany(keys: readonly string[], fetch: (missing: string[]) => Promise<Map<string, V>>): Promise<{ values: Map<string, V>; fetched: number }> {
    const now = this.clock.now().getTime();
    const values = new Map<string, V>();
    const waiting: [string, Promise<V>][] = [];
    const missing: string[] = [];
    for (const key of new Set(keys)) {
      const hit = this.entries.get(key);
      if (hit && hit.expiresAt > now) values.set(key, hit.value);
      else if (this.inflight.has(key)) waiting.push([key, this.inflight.get(key)!]);
      else missing.push(key);
    }
    if (missing.length > 0) {
      const batch = fetch(missing);
      for (const key of missing) {
        const one = batch.then((m) => {
          if (!m.has(key)) throw new Error(`no answer for ${key}`);
          return m.get(key)!;
        });
        // Callers of this batch see its failure through `batch`; others awaiting `one` handle it themselves.
        one.catch(() => undefined);
        this.inflight.set(key, one);
      }
      try {
        const fetched = await batch;
        const expiresAt = this.clock.now().getTime() + this.ttlMs;
        for (const [key, value] of fetched) {
          values.set(key, value);
          if (this.ttlMs > 0) this.remember(key, value, expiresAt);
        }
      } finally {
        for (const key of missing) this.inflight.delete(key);
      }
    }
    for (const [key, p] of waiting) values.set(key, await p);
    return { values, fetched: missing.length };
  }

  clear(): void {
    this.entries.clear();
  }

  private remember(key: string, value: V, expiresAt: number): void {
    this.entries.delete(key);
    this.entries.set(key, { value, expiresAt });
    while (this.entries.size > this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
  }
}
