import type pg from 'pg';
import type { Logger } from '../../core/logger.js';
import type { IncomingSighting } from '../../domain/correlation/intake.js';
import { autocommit, inTransaction, prepared } from './pool.js';

/**
 * The committed sightings log: the PostgreSQL side of the journal. `append` resolves once
 * its rows are COMMITTED (the 202 point), so a sighting acknowledged by any instance
 * survives that instance. The sighting's id (its dedupeKey) is unique in the table: an id
 * seen before, on any instance, is reported as a duplicate and counted once.
 *
 * Group commit: appends arriving while a commit is in flight wait and then go together in
 * the next transaction (one INSERT for all of them), so the cost per sighting falls as load
 * rises instead of one commit per request. Rows keep arrival order in `seq` (with gaps).
 *
 * The reader side: `claim` takes the oldest unapplied rows with FOR UPDATE SKIP LOCKED and
 * marks them applied (dropping their body: see migration 9) in the same transaction as whatever `apply` writes, so each row is
 * applied once even with several readers, and a reader that fails leaves its rows for the next.
 * Seqs come from a sequence, so a row may commit after a higher seq was claimed; it is
 * claimed by the next call. Order is by seq, not guaranteed across concurrent readers.
 */
export interface LoggedSighting {
  seq: number;
  id: string;
  item: IncomingSighting;
  acceptedAt: Date;
}

export interface AppendOutcome {
  accepted: number;
  duplicates: number;
  /** Per item, in the order given: its seq when new, or duplicate. */
  items: Array<{ id: string; seq: number } | { id: string; duplicate: true }>;
}

export interface SightingsLogOptions {
  /** Most rows in one group transaction; a bigger backlog is split over several. */
  maxGroupRows?: number;
  /**
   * Connections the appends use, apart from everything else (default: the log's pool). The 202
   * waits on an append: on a pool shared with the apply loop, delivery and the XDR mirror (which
   * hold connections while Webex or XDR answer), an append waited its turn behind them.
   */
  appendPool?: pg.Pool;
  /** Groups committing at once (default 2): the next group is sent while the last one's WAL flush runs. */
  groupsInFlight?: number;
  /**
   * How often a claim looks at the whole log instead of from its floor (default 1,000 ms): the longest a
   * sighting whose seq is below the floor (committed late, or let go by another reader) waits. See `claim`.
   */
  fullScanMs?: number;
  /** The clock of `fullScanMs` (tests). */
  nowMs?: () => number;
  logger?: Logger;
}

interface Waiting {
  items: IncomingSighting[];
  resolve(outcome: AppendOutcome): void;
  reject(err: unknown): void;
}

/** SQLSTATEs after which the whole group is simply tried again (the id order should make them rare). */
const RETRYABLE = new Set(['40P01', '40001']);
const MAX_TRIES = 3;

function isDataError(err: unknown): boolean {
  return ((err as { cause?: { code?: string } }).cause?.code ?? '').startsWith('22');
}

export class PostgresSightingsLog {
  private waiting: Waiting[] = [];
  /** Groups being committed now. */
  private inFlight = 0;
  private scheduled = false;
  private idleWaiters: Array<() => void> = [];
  private readonly maxGroupRows: number;
  private readonly appendPool: pg.Pool;
  private readonly groupsInFlight: number;
  /** Group transactions committed and rows in them, for the benchmark and the tests. */
  readonly stats = { groups: 0, rows: 0 };
  /** Claims start at this seq, except a full one every `fullScanMs` (see `claim`). */
  private floor = 0;
  private lastFullScan = Number.NEGATIVE_INFINITY;
  private readonly fullScanMs: number;
  private readonly nowMs: () => number;

  constructor(
    private readonly pool: pg.Pool,
    opts: SightingsLogOptions = {},
  ) {
    this.maxGroupRows = opts.maxGroupRows ?? 5000;
    this.appendPool = opts.appendPool ?? pool;
    this.groupsInFlight = Math.max(1, opts.groupsInFlight ?? 2);
    this.fullScanMs = opts.fullScanMs ?? 1000;
    this.nowMs = opts.nowMs ?? Date.now;
  }

  /** Resolves once every item is committed (or known as a duplicate); rejects with a StoreError, and nothing is acknowledged. */
  append(items: IncomingSighting[]): Promise<AppendOutcome> {
    if (items.length === 0) return Promise.resolve({ accepted: 0, duplicates: 0, items: [] });
    return new Promise((resolve, reject) => {
      this.waiting.push({ items, resolve, reject });
      this.schedule();
    });
  }

  /** Resolves when every append made so far has committed or failed. */
  async flushed(): Promise<void> {
    while (this.waiting.length > 0 || this.inFlight > 0 || this.scheduled) await new Promise<void>((r) => this.idleWaiters.push(r));
  }

  private schedule(): void {
    if (this.scheduled || this.inFlight >= this.groupsInFlight) return;
    this.scheduled = true;
    // setImmediate: appends made in the same turn of the event loop join one group.
    setImmediate(() => {
      this.scheduled = false;
      while (this.waiting.length > 0 && this.inFlight < this.groupsInFlight) void this.send(this.takeGroup());
      this.settle();
    });
  }

  /** Commits one group; when it is done, what arrived meanwhile goes as the next group. */
  private async send(group: Waiting[]): Promise<void> {
    this.inFlight++;
    try {
      const outcomes = await this.commitGroup(group);
      group.forEach((w, i) => w.resolve(outcomes[i]!));
    } catch (err) {
      if (group.length > 1 && isDataError(err)) {
        // One request's bad value must not fail the others that shared its transaction: each alone.
        for (const w of group) await this.commitGroup([w]).then((o) => w.resolve(o[0]!), w.reject);
      } else {
        for (const w of group) w.reject(err);
      }
    } finally {
      this.inFlight--;
      if (this.waiting.length > 0) this.schedule();
      this.settle();
    }
  }

  private settle(): void {
    if (this.waiting.length > 0 || this.inFlight > 0 || this.scheduled) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }

  private takeGroup(): Waiting[] {
    const group: Waiting[] = [];
    let rows = 0;
    while (this.waiting.length > 0 && (group.length === 0 || rows + this.waiting[0]!.items.length <= this.maxGroupRows)) {
      const w = this.waiting.shift()!;
      group.push(w);
      rows += w.items.length;
    }
    return group;
  }

  private async commitGroup(group: Waiting[]): Promise<AppendOutcome[]> {
    const all = group.flatMap((w) => w.items);
    let inserted: Map<string, number> | undefined;
    for (let attempt = 1; !inserted; attempt++) {
      try {
        // One statement for the whole group, committed on its own (no BEGIN/COMMIT round trips: a
        // single INSERT is atomic); ON CONFLICT DO NOTHING also skips an id repeated within it.
        // Seqs are taken in arrival order, rows inserted in id order: two instances inserting the same
        // ids then lock them in the same order and wait for each other instead of deadlocking.
        inserted = await autocommit(this.appendPool, 'accepting sightings', async (client) => {
          const { rows } = await client.query<{ seq: string; id: string }>(prepared(
            `WITH input AS MATERIALIZED (
               SELECT e->>'dedupeKey' AS id, e, nextval('sightings_seq_seq') AS seq
               FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS t(e, n) ORDER BY n
             )
             INSERT INTO sightings (seq, id, item)
             SELECT seq, id, e FROM input ORDER BY id, seq
             ON CONFLICT (id) DO NOTHING
             RETURNING seq, id`,
            [JSON.stringify(all)],
          ));
          return new Map(rows.map((r) => [r.id, Number(r.seq)]));
        });
      } catch (err) {
        const code = ((err as { cause?: { code?: string } }).cause ?? {}).code;
        if (attempt >= MAX_TRIES || !code || !RETRYABLE.has(code)) throw err;
      }
    }
    this.stats.groups++;
    this.stats.rows += inserted.size;
    // The first occurrence of a new id in the group owns its row; every later one is a duplicate.
    const owned = new Set<string>();
    return group.map((w) => {
      const items = w.items.map((item) => {
        const seq = inserted.get(item.dedupeKey);
        if (seq === undefined || owned.has(item.dedupeKey)) return { id: item.dedupeKey, duplicate: true as const };
        owned.add(item.dedupeKey);
        return { id: item.dedupeKey, seq };
      });
      const accepted = items.filter((i) => 'seq' in i).length;
      return { accepted, duplicates: items.length - accepted, items };
    });
  }

  /**
   * Takes up to `limit` of the oldest unapplied rows no other reader holds, runs `apply` with
   * them inside the transaction, and marks them applied when it returns. If `apply` throws,
   * nothing is marked and the rows are there for the next claim.
   *
   * Where the scan starts: every applied row leaves a dead entry at the low end of
   * `sightings_unapplied`, which only VACUUM removes (new seqs go to the right end, so those index pages
   * are never split and cleaned again): a scan from the start walks every sighting applied since the
   * last vacuum (10 ms a claim after 40 s of flood with two instances). So a claim starts at a floor: the
   * lowest seq the last full scan found unapplied. Rows below it can still appear (a seq committed after
   * a higher one, a claim of another instance rolled back): a full scan every `fullScanMs` takes them.
   */
  async claim<T>(
    limit: number,
    apply: (rows: LoggedSighting[], tx: pg.PoolClient) => Promise<T>,
    /** Seqs `apply` left for a later claim (not marked applied; free again once this commits). */
    left?: (result: T) => readonly number[],
  ): Promise<{ claimed: number; result?: T }> {
    return inTransaction(this.pool, 'applying accepted sightings', async (tx) => {
      const take = (floor: number) =>
        tx.query<{ seq: string; id: string; item: IncomingSighting; accepted_at: Date }>(
          prepared(`SELECT seq, id, item, accepted_at FROM sightings WHERE applied_at IS NULL AND seq >= $2 ORDER BY seq LIMIT $1 FOR UPDATE SKIP LOCKED`, [limit, floor]),
        );
      let full = this.nowMs() - this.lastFullScan >= this.fullScanMs;
      let { rows } = await take(full ? 0 : this.floor);
      // Nothing from the floor: look at the whole log before saying there is nothing (callers wait for "nothing left").
      if (!full && rows.length === 0) {
        full = true;
        ({ rows } = await take(0));
      }
      if (full) {
        this.lastFullScan = this.nowMs();
        // Found nothing: every row to come has a seq above any there is, so the floor stays valid.
        if (rows.length > 0) this.floor = Number(rows[0]!.seq);
      }
      if (rows.length === 0) return { claimed: 0 };
      const claimed = rows.map((r) => ({ seq: Number(r.seq), id: r.id, item: r.item, acceptedAt: r.accepted_at }));
      const result = await apply(claimed, tx);
      const leave = new Set(left?.(result) ?? []);
      const marked = claimed.flatMap((r) => (leave.has(r.seq) ? [] : [r.seq]));
      // The body goes with the mark (migration 9): the row stays for its id; the new version it writes is then ~100 bytes, not ~1.4 kB.
      if (marked.length > 0) await tx.query(prepared('UPDATE sightings SET applied_at = now(), item = NULL WHERE seq = ANY($1::bigint[])', [marked]));
      return { claimed: claimed.length, result };
    });
  }
}
