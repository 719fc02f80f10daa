import pg from 'pg';
import { StoreError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import { emptyState, type State } from '../state.js';
import { stateProblems } from '../state-schema.js';
import type { Store, UpdateOptions } from '../store.js';
import { poolError } from './pool.js';

/**
 * The small, rarely written part of the state on PostgreSQL: hunts, Talos cursors and posts,
 * ETags, rooms, the RSS/X modules' memory, the investigate desk — everything of `State` but
 * the sections that are tables in PostgreSQL (TABLE_SECTIONS: incidents, the outbox and its
 * keys and dead letters). One jsonb row (`control_state`, migration 4), so the code that keeps
 * these facts (HuntRunner, TalosPostsHunt, RoomDirectory, the modules, ResponseActionDesk)
 * runs unchanged through `Store`.
 *
 * Several instances share the row. `get()` is this instance's copy in memory. `update` runs
 * this instance's updates one at a time: it locks the row (`FOR UPDATE`), loads it first when
 * its revision is not the copy's (another instance wrote since), runs `mutate` on the copy,
 * writes the document with revision + 1 and commits. So a mutate always decides on the latest
 * document, and two instances never lose each other's change (the confirm-once of a response
 * action holds across instances). Each commit NOTIFYs `CONTROL_CHANNEL`; the other instances
 * LISTEN on a connection of their own and load the row, and every `refreshMs` (and after the
 * listening connection comes back) they compare revisions, in case a notification was missed.
 *
 * A failed write puts the copy back to the last committed document and rejects with a
 * StoreError sentence; `writable` says whether the last write worked (for /readyz).
 */
export interface ControlStoreOptions {
  logger: Logger;
  /** How often the revision is compared, in case a notification was missed (ms). */
  refreshMs?: number;
}

export const CONTROL_CHANNEL = 'sightline_control';
export const DEFAULT_CONTROL_REFRESH_MS = 5_000;
/** Pause before listening again after the listening connection was cut (at most refreshMs). */
const RECONNECT_MS = 1_000;

/** Sections of State kept in tables on PostgreSQL: never written to the document. */
export const TABLE_SECTIONS = ['correlation', 'outbox', 'outboxKeys', 'outboxDead'] as const;

const DOING = 'saving the hunts, Talos cursors, rooms and module state (the control document)';

interface Row {
  doc: unknown;
  revision: string;
}

export class PostgresControlStore implements Store {
  private state: State;
  private revision: number;
  /** The document as last committed (or loaded): what a failed write puts the copy back to. */
  private committed: string;
  /** Updates and reloads of this instance, one at a time. */
  private tail: Promise<unknown> = Promise.resolve();
  private refreshQueued = false;
  private closed = false;
  private listener: pg.Client | undefined;
  private pollTimer: NodeJS.Timeout | undefined;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private warnedSections = false;
  writable = true;

  private constructor(
    private readonly pool: pg.Pool,
    private readonly opts: Required<ControlStoreOptions>,
    row: Row,
  ) {
    this.committed = JSON.stringify(row.doc);
    this.state = stateFromDoc(row.doc);
    this.revision = Number(row.revision);
  }

  /** Reads the document (migrations applied before: migration 4 makes the row) and starts listening. */
  static async open(pool: pg.Pool, opts: ControlStoreOptions): Promise<PostgresControlStore> {
    const row = await readRow(pool, 'reading the control document');
    const store = new PostgresControlStore(pool, { refreshMs: DEFAULT_CONTROL_REFRESH_MS, ...opts }, row);
    await store.listen();
    store.pollTimer = setInterval(() => store.scheduleRefresh(), store.opts.refreshMs);
    store.pollTimer.unref();
    return store;
  }

  get(): Readonly<State> {
    return this.state;
  }

  /** The revision of the copy in memory (each committed write adds one). */
  get currentRevision(): number {
    return this.revision;
  }

  update<T>(mutate: (state: State) => T, opts: UpdateOptions = {}): Promise<T> {
    if (this.closed) return Promise.reject(new StoreError('store_unwritable', 'The store is closed; Sightline is shutting down.'));
    if (opts.durable !== false) return this.enqueue(() => this.write(mutate));
    // Not durable: the caller has its answer once mutate ran under the lock; the commit follows
    // at once, in order. When the write fails the change is dropped (logged, `writable` false):
    // such changes are safe to redo, and a `void store.update(…)` must never reject unhandled.
    return new Promise<T>((resolve, reject) => {
      let answered = false;
      const applied = (result: T) => {
        answered = true;
        resolve(result);
      };
      this.enqueue(() => this.write(mutate, applied)).then(
        (result) => !answered && resolve(result),
        (err: unknown) => !answered && reject(err as Error),
      );
    });
  }

  /** Resolves once every update and reload asked for so far has finished (committed or failed). */
  async flush(): Promise<void> {
    await this.tail;
  }

  /** Finishes what is queued, then stops listening; the pool is the caller's to end. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.pollTimer);
    clearTimeout(this.reconnectTimer);
    await this.flush();
    const listener = this.listener;
    this.listener = undefined;
    await listener?.end().catch(() => undefined);
  }

  private enqueue<T>(step: () => Promise<T>): Promise<T> {
    const run = this.tail.then(step, step);
    this.tail = run.catch(() => undefined);
    return run;
  }

  /**
   * One update, as a step of the queue. On failure the copy goes back to the last committed
   * document (if COMMIT's outcome is unknown, the next update or refresh sees the row's revision
   * differ and loads it). `applied` (not durable) is answered as soon as mutate ran; when the row
   * could not even be locked, from a scratch run on the copy, which is then put back.
   */
  private async write<T>(mutate: (state: State) => T, applied?: (result: T) => void): Promise<T> {
    let mutated = false;
    try {
      return await this.commit(mutate, (result) => {
        mutated = true;
        applied?.(result);
      });
    } catch (err) {
      this.rollback();
      if (err instanceof MutateFailed) throw err.cause;
      this.writable = false;
      const e = poolError(this.pool, err, DOING);
      if (applied) {
        if (!mutated) {
          try {
            applied(mutate(this.state));
          } finally {
            this.rollback();
          }
        }
        this.opts.logger.warn({ err: e.message }, 'a change to the control document was not saved (not durable: dropped)');
      }
      throw e;
    }
  }

  private async commit<T>(mutate: (state: State) => T, applied: (result: T) => void): Promise<T> {
    const client = await this.pool.connect();
    let broken = false;
    // A connection cut between statements emits 'error' on the checked-out client; the next statement fails with it.
    const onError = () => (broken = true);
    client.on('error', onError);
    try {
      await client.query('BEGIN');
      const { rows } = await client.query<Row>('SELECT doc, revision FROM control_state WHERE id = 1 FOR UPDATE');
      if (!rows[0]) throw missingRow();
      const revision = Number(rows[0].revision);
      if (revision !== this.revision) this.adopt(rows[0]);
      let result: T;
      try {
        result = mutate(this.state);
      } catch (err) {
        throw new MutateFailed(err);
      }
      const text = JSON.stringify(this.documentOf());
      applied(result);
      if (text === this.committed) {
        // Nothing changed (e.g. a decide-once mutate that found it done): no write, no revision, no reloads elsewhere.
        await client.query('COMMIT');
        return result;
      }
      await client.query('UPDATE control_state SET doc = $1::jsonb, revision = $2, updated_at = now() WHERE id = 1', [text, revision + 1]);
      // Delivered to the listeners at COMMIT, and only if it commits.
      await client.query('SELECT pg_notify($1, $2)', [CONTROL_CHANNEL, String(revision + 1)]);
      await client.query('COMMIT');
      this.revision = revision + 1;
      this.committed = text;
      this.writable = true;
      return result;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => (broken = true));
      throw err;
    } finally {
      client.removeListener('error', onError);
      client.release(broken);
    }
  }

  /** The document to write: the state without the table sections (which are also cleared from the copy). */
  private documentOf(): Record<string, unknown> {
    const s = this.state as unknown as Record<string, unknown>;
    const misplaced = TABLE_SECTIONS.filter((k) => (k === 'outbox' ? (this.state.outbox?.length ?? 0) > 0 : s[k] !== undefined));
    if (misplaced.length > 0 && !this.warnedSections) {
      this.warnedSections = true;
      this.opts.logger.warn({ sections: misplaced }, 'something wrote a section the PostgreSQL store keeps in tables into the control document; it was dropped (check the wiring)');
    }
    const doc: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(s)) if (!(TABLE_SECTIONS as readonly string[]).includes(k)) doc[k] = v;
    for (const k of TABLE_SECTIONS) delete s[k];
    this.state.outbox = [];
    return doc;
  }

  /** Takes the row as the copy (another instance wrote it). */
  private adopt(row: Row): void {
    this.state = stateFromDoc(row.doc);
    this.revision = Number(row.revision);
    this.committed = JSON.stringify(row.doc);
  }

  private rollback(): void {
    this.state = stateFromDoc(JSON.parse(this.committed));
  }

  /**
   * Loads the document now if another instance changed it (after this instance's queued
   * updates). For a newly elected leader before it resumes hunts: its copy is then the latest
   * even if a notification was lost. Rejects with a StoreError when the row cannot be read.
   */
  refresh(): Promise<void> {
    return this.enqueue(() => this.reloadIfChanged());
  }

  private async reloadIfChanged(): Promise<void> {
    if (this.closed) return;
    let revision: number | undefined;
    try {
      const { rows } = await this.pool.query<{ revision: string }>('SELECT revision FROM control_state WHERE id = 1');
      revision = rows[0] ? Number(rows[0].revision) : undefined;
    } catch (err) {
      throw poolError(this.pool, err, 'reloading the control document');
    }
    if (revision !== undefined && revision !== this.revision) this.adopt(await readRow(this.pool, 'reloading the control document'));
  }

  /** A refresh queued behind this instance's updates (one waiting at most): on a notification, the poll, a reconnect. */
  private scheduleRefresh(): void {
    if (this.closed || this.refreshQueued) return;
    this.refreshQueued = true;
    void this.enqueue(async () => {
      this.refreshQueued = false;
      await this.reloadIfChanged().catch((err: unknown) =>
        this.opts.logger.warn({ err: (err as Error).message }, 'the control document could not be reloaded; the next refresh tries again'),
      );
    });
  }

  private async listen(): Promise<void> {
    if (this.closed) return;
    const base = this.pool.options as pg.ClientConfig & { application_name?: string };
    const client = new pg.Client({ ...base, application_name: `${base.application_name ?? 'sightline'} (control)` });
    let gone = false;
    const lost = (why: string) => {
      if (gone) return;
      gone = true;
      if (this.listener === client) this.listener = undefined;
      void client.end().catch(() => undefined);
      if (this.closed) return;
      this.opts.logger.warn({ reason: why }, 'the control document listener was cut; reconnecting (changes are picked up by the periodic refresh meanwhile)');
      this.reconnectSoon();
    };
    client.on('notification', (msg) => {
      if (msg.channel === CONTROL_CHANNEL && Number(msg.payload) !== this.revision) this.scheduleRefresh();
    });
    client.on('error', (err) => lost(err.message));
    client.on('end', () => lost('the connection ended'));
    try {
      await client.connect();
      await client.query(`LISTEN ${CONTROL_CHANNEL}`);
    } catch (err) {
      gone = true;
      await client.end().catch(() => undefined);
      this.opts.logger.warn({ err: (err as Error).message }, 'cannot listen for control document changes; retrying (the periodic refresh picks them up meanwhile)');
      this.reconnectSoon();
      return;
    }
    if (this.closed) {
      await client.end().catch(() => undefined);
      return;
    }
    this.listener = client;
    // What changed while nobody listened.
    this.scheduleRefresh();
  }

  private reconnectSoon(): void {
    if (this.closed) return;
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = setTimeout(() => void this.listen(), Math.min(this.opts.refreshMs, RECONNECT_MS));
    this.reconnectTimer.unref();
  }
}

/** A mutate that threw: its own error goes back to the caller, unchanged. */
class MutateFailed {
  constructor(readonly cause: unknown) {}
}

function missingRow(): StoreError {
  return new StoreError('store_corrupt', 'The control document (table control_state) has no row; it is made by schema migration 4, so restore the database from a backup or recreate it.');
}

async function readRow(pool: pg.Pool, doing: string): Promise<Row> {
  let rows: Row[];
  try {
    ({ rows } = await pool.query<Row>('SELECT doc, revision FROM control_state WHERE id = 1'));
  } catch (err) {
    throw poolError(pool, err, doing);
  }
  if (!rows[0]) throw missingRow();
  return rows[0];
}

/** The document as a State: checked as the lowdb file is, the table sections empty. */
export function stateFromDoc(doc: unknown): State {
  if (typeof doc !== 'object' || doc === null || (doc as { version?: unknown }).version !== 1) {
    throw new StoreError('store_corrupt', 'The control document (table control_state) is not a Sightline state (version 1); restore the database from a backup.');
  }
  const problems = stateProblems(doc);
  if (problems.length > 0) {
    throw new StoreError('store_corrupt', `The control document (table control_state) is damaged: ${problems.join('; ')}. Fix that part of the row or restore the database from a backup.`);
  }
  const state = { ...emptyState(), ...(doc as State) };
  for (const k of TABLE_SECTIONS) delete (state as unknown as Record<string, unknown>)[k];
  state.outbox = [];
  return state;
}

/** The control document of a lowdb state: what migrate-state writes (the table sections left out). */
export function controlDocumentOf(state: State): Record<string, unknown> {
  return Object.fromEntries(Object.entries(state).filter(([k]) => !(TABLE_SECTIONS as readonly string[]).includes(k)));
}
