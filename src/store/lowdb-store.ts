import { mkdir, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { Low } from 'lowdb';
import { JSONFile } from 'lowdb/node';
import { StoreError } from '../core/errors.js';
import { emptyState, type State } from './state.js';
import type { Store } from './store.js';

/**
 * lowdb-backed store. lowdb (through steno) writes to a temp file and renames it,
 * so a crash leaves either the old or the new file, never half of one.
 *
 * Group commit: updates made in the same tick share one write; a write that
 * starts while another is in flight waits for it, so the file is written at most
 * once at a time and every caller is told only when its change is durable.
 */
export class LowdbStore implements Store {
  private dirty = false;
  private writing: Promise<void> | null = null;
  private pending: Promise<void> | null = null;
  private closed = false;
  writable = true;

  private constructor(private readonly db: Low<State>, readonly path: string) {}

  /** Opens (or creates) the state file. A file that cannot be read or parsed stops start-up and is left untouched. */
  static async open(path: string): Promise<LowdbStore> {
    let raw: string | undefined;
    try {
      raw = await readFile(path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
        throw new StoreError('store_unwritable', `The state file ${path} cannot be read (${(err as Error).message}); check its permissions or STATE_FILE.`, { cause: err });
      }
    }
    let data: State;
    if (raw === undefined) {
      data = emptyState();
      try {
        await mkdir(dirname(path), { recursive: true });
      } catch (err) {
        throw new StoreError('store_unwritable', `The folder for the state file ${path} cannot be created; check STATE_FILE.`, { cause: err });
      }
    } else {
      data = parseState(raw, path);
    }
    const db = new Low<State>(new JSONFile<State>(path), data);
    db.data = data;
    const store = new LowdbStore(db, path);
    if (raw === undefined) await store.update(() => undefined);
    return store;
  }

  get(): Readonly<State> {
    return this.db.data;
  }

  async update<T>(mutate: (state: State) => T): Promise<T> {
    if (this.closed) throw new StoreError('store_unwritable', 'The store is closed; Sightline is shutting down.');
    const result = mutate(this.db.data);
    this.dirty = true;
    await this.scheduleWrite();
    return result;
  }

  flush(): Promise<void> {
    return this.dirty ? this.scheduleWrite() : (this.writing ?? Promise.resolve());
  }

  async close(): Promise<void> {
    await this.flush();
    this.closed = true;
  }

  private scheduleWrite(): Promise<void> {
    if (this.pending) return this.pending;
    const start = async () => {
      if (this.writing) await this.writing.catch(() => undefined);
      this.pending = null;
      this.dirty = false;
      const w = this.db.write().then(
        () => {
          this.writable = true;
        },
        (err: unknown) => {
          this.writable = false;
          this.dirty = true;
          throw new StoreError('store_unwritable', `The state file ${this.path} could not be written (${(err as Error).message}); check disk space and permissions.`, { cause: err });
        },
      );
      this.writing = w.finally(() => {
        if (this.writing === tracked) this.writing = null;
      });
      const tracked = this.writing;
      return w;
    };
    // Coalesce every update made in this tick into one write.
    this.pending = new Promise<void>((resolve) => queueMicrotask(resolve)).then(start);
    return this.pending;
  }
}

export function parseState(raw: string, path: string): State {
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch (err) {
    throw new StoreError(
      'store_corrupt',
      `The state file ${path} is not valid JSON and was left untouched; restore it from a backup or move it away to start fresh.`,
      { cause: err },
    );
  }
  if (typeof parsed !== 'object' || parsed === null || (parsed as { version?: unknown }).version !== 1) {
    throw new StoreError(
      'store_corrupt',
      `The state file ${path} is not a Sightline state file (version 1) and was left untouched; check STATE_FILE.`,
    );
  }
  return { ...emptyState(), ...(parsed as State) };
}
