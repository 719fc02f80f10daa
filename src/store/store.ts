import type { State } from './state.js';

/**
 * The one door to persisted state. Reads come from memory; `update` runs the
 * mutator synchronously on the in-memory state (so decisions and changes happen
 * atomically with respect to other callers) and resolves once the change is on disk.
 */
export interface Store {
  get(): Readonly<State>;
  update<T>(mutate: (state: State) => T, opts?: UpdateOptions): Promise<T>;
  /** Resolves when everything changed so far is on disk. */
  flush(): Promise<void>;
  close(): Promise<void>;
  /** True when the last write succeeded (for /readyz). */
  readonly writable: boolean;
}

export interface UpdateOptions {
  /**
   * false: resolve once the change is applied in memory; it reaches disk with the next
   * write. For progress that is safe to redo after a crash (a delivered notification
   * removed from the outbox, an XDR op marked done), so it does not wait for a disk write.
   */
  durable?: boolean;
}
