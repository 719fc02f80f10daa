import { mkdir, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { Low } from 'lowdb';
import { StoreError } from '../core/errors.js';
import type { JsonSink } from '../core/json-sink.js';
import { isIncidentLike, writeIncidentJson } from '../domain/correlation/incident-json.js';
import { emptyState, type State } from './state.js';
import { stateProblems } from './state-schema.js';
import { assertStateFolderWritable } from './writable.js';
import type { Store, UpdateOptions } from './store.js';
import { StreamingJsonFile } from './streaming-json-file.js';

/**
 * lowdb-backed store. The file is written to a temp file and renamed, so a crash
 * leaves either the old or the new file, never half of one.
 *
 * Group commit: updates made while a write is pending share the next write; the
 * file is written at most once at a time and every caller is told only when its
 * change is durable.
 *
 * Cost stays flat as the state grows: the JSON is produced in slices that yield to
 * the event loop (StreamingJsonFile), updates wait only while those slices are
 * being produced (so a snapshot is consistent), and writes are spaced by a few
 * times the last write's duration, so a large state is written less often and the
 * work per update stays about the same whatever the size.
 */
export class LowdbStore implements Store {
  private dirty = false;
  private writing: Promise<void> | null = null;
  private pending: Promise<void> | null = null;
  private closed = false;
  /** Set on shutdown: writes are no longer spaced. */
  private hurried = false;
  /** Cuts short the pause between writes (close() must not wait for it). */
  private endSpacing: (() => void) | undefined;
  private lastWriteEnd = 0;
  private lastWriteMs = 0;
  writable = true;

  private constructor(
    private readonly db: Low<State>,
    private readonly file: StreamingJsonFile<State>,
    readonly path: string,
  ) {}

  /** Opens (or creates) the state file. A file that cannot be read or parsed stops start-up and is left untouched. */
  static async open(path: string): Promise<LowdbStore> {
    // Before reading: a folder that cannot be written is refused in one sentence naming STATE_FILE, the file left as it is.
    await assertStateFolderWritable(path);
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
    const file = new StreamingJsonFile<State>(path, { leaf: stateLeafJson });
    const db = new Low<State>(file, data);
    db.data = data;
    const store = new LowdbStore(db, file, path);
    if (raw === undefined) await store.update(() => undefined);
    return store;
  }

  get(): Readonly<State> {
    return this.db.data;
  }

  async update<T>(mutate: (state: State) => T, opts: UpdateOptions = {}): Promise<T> {
    if (this.closed) throw new StoreError('store_unwritable', 'The store is closed; Sightline is shutting down.');
    // A snapshot is being turned into text: change nothing until it is consistent on its way to disk.
    await this.file.serialized;
    const result = mutate(this.db.data);
    this.dirty = true;
    const written = this.scheduleWrite();
    if (opts.durable === false) written.catch(() => undefined); // `writable` reports a failing disk
    else await written;
    return result;
  }

  flush(): Promise<void> {
    return this.dirty ? this.scheduleWrite() : (this.writing ?? Promise.resolve());
  }

  /** Shutdown has a deadline: from now on every write starts as soon as the previous one ends. */
  hurry(): void {
    this.hurried = true;
    this.endSpacing?.();
  }

  /** Writes what is left at once and refuses updates after. */
  async close(): Promise<void> {
    this.hurry();
    await this.flush();
    this.closed = true;
  }

  private scheduleWrite(): Promise<void> {
    if (this.pending) return this.pending;
    const start = async () => {
      if (this.writing) await this.writing.catch(() => undefined);
      // Space writes by a few times the last one's duration (never more than 15 s).
      const wait = Math.min(15_000, this.lastWriteEnd + this.lastWriteMs * WRITE_SPACING - performance.now());
      if (wait > 0 && !this.hurried) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, wait);
          this.endSpacing = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        this.endSpacing = undefined;
      }
      const began = performance.now();
      this.pending = null;
      this.dirty = false;
      const w = this.db.write().then(
        () => {
          this.writable = true;
          this.lastWriteEnd = performance.now();
          this.lastWriteMs = this.lastWriteEnd - began;
        },
        (err: unknown) => {
          this.writable = false;
          this.dirty = true;
          throw new StoreError('store_unwritable', `The state file ${this.path} could not be written (${(err as Error).message}); check disk space and permissions.`, { cause: err });
        },
      );
      const tracked: Promise<void> = w.finally(() => {
        if (this.writing === tracked) this.writing = null;
      });
      // Callers get the failure through `w`; this copy only tracks "a write is in flight" and must
      // never become an unhandled rejection (that would end the process).
      tracked.catch(() => undefined);
      this.writing = tracked;
      return w;
    };
    // Coalesce every update made in this tick into one write.
    this.pending = new Promise<void>((resolve) => queueMicrotask(resolve)).then(start);
    return this.pending;
  }
}

/**
 * Incidents are the bulk of the state: one that did not change since the last snapshot is
 * written from that snapshot's bytes instead of serialised again (incident-json.ts, issue 14).
 */
function stateLeafJson(value: object, path: readonly string[], sink: JsonSink): boolean {
  if (path.length !== 3 || path[0] !== 'correlation' || path[1] !== 'incidents' || !isIncidentLike(value)) return false;
  writeIncidentJson(value, sink);
  return true;
}

/** The pause after a write, as a multiple of its duration: writes then use at most ~1/(1+N) of the time. */
const WRITE_SPACING = 8;

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
  const problems = stateProblems(parsed);
  if (problems.length > 0) {
    throw new StoreError(
      'store_corrupt',
      `The state file ${path} is damaged and was left untouched: ${problems.join('; ')}. Fix or remove that part (Sightline rebuilds a missing section empty), restore it from a backup, or move the file away to start fresh.`,
    );
  }
  return { ...emptyState(), ...(parsed as State) };
}
