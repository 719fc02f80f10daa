import type pg from 'pg';
import type { Incident, XdrDeadLetter, XdrOp } from '../../domain/correlation/types.js';
import { MAX_PERMANENT_FAILURES } from '../../domain/correlation/xdr-ops.js';
import { MAX_PENDING_SIGHTINGS, isWaitingSighting } from '../../domain/correlation/xdr-sync.js';
import { INCIDENT_COLUMNS, incidentOf, loadRecentSightings, loadRungs, opOf, type IncidentRow, type OpRow } from './incident-rows.js';
import { poolError } from './pool.js';

/**
 * The XDR changes waiting (`xdr_ops`), mirrored by whichever instance claims them.
 *
 * A claim holds ONE incident through a session advisory lock (`pg_try_advisory_lock` on the
 * incident's id, on a connection kept for the claim): two mirrors never hold the same incident,
 * and nothing else waits for it. The incident ROW is not locked while XDR answers: counting a
 * sighting of that target goes on meanwhile (it used to wait for the mirror's whole claim, and a
 * counting batch locks all its targets, so one slow XDR call held up every target's counting).
 * The claim reads the incident and its ops in id order (create before sightings), the caller runs
 * them against XDR and marks each done or failed. Commits per claim, whatever its ops (each is a
 * WAL flush; they were three per mirrored sighting): the "being sent" mark of its sightings, one
 * before the first POST (it must be durable before XDR creates anything), and everything done, in
 * one statement at the end (`flush`) or before a failure is recorded. A crash in between leaves
 * the ops queued and they run again — safe, because every XDR op looks up its external id first,
 * and a marked sighting is looked up before it is created. A patch (or a create) rendered from the incident as read is marked done only while the
 * incident's `revision` is still the one read; counted meanwhile, the patch stays for the next
 * claim, so the newest count always reaches XDR. An incident is claimable when its FIRST op is
 * due, so a failed op waits — and holds back the ops behind it — until it is due again.
 */
export interface PostgresXdrQueueOptions {
  /** Permanent refusals (4xx) of one op before it becomes a dead letter (default: the domain's MAX_PERMANENT_FAILURES, as lowdb). */
  deadLetterAfter?: number;
  /** Ops read per claim (default 20). */
  maxOps?: number;
  /** XDR_MIRROR_NEWEST_SIGHTINGS: sightings of an incident waiting for XDR beyond its newest this many are dropped (and counted) by its next claim (default: the domain's MAX_PENDING_SIGHTINGS, as lowdb). */
  newestSightings?: number;
}

export interface XdrFailure {
  message: string;
  /** XDR refused it for good (a 4xx): counts towards the dead letter. Otherwise it is only retried. */
  permanent: boolean;
  /** When to try this incident again. */
  retryAfterMs: number;
}

export interface XdrClaim {
  /** The incident as the domain renders it (rungs, newest sightings); `xdrSync.pending` = `ops`. */
  readonly incident: Incident;
  /** Its waiting ops in id order, with their CTIM bodies. */
  readonly ops: readonly XdrOp[];
  /** The op is applied in XDR: it leaves the queue (with the incident's XDR id, for a create) when the claim ends, in one commit with the others. */
  done(op: XdrOp, result?: { xdrId?: string }): Promise<void>;
  /**
   * XDR stored this sighting: recorded at once (committed), so a retry (after a failure or a crash)
   * only re-tries the relationship instead of creating it twice. With `untilFlush`, recorded when
   * the claim ends (or fails): for a caller that can look the sighting up by its external id.
   */
  recordSightingId(op: XdrOp, xdrSightingId: string, opts?: { untilFlush?: boolean }): Promise<void>;
  /**
   * This sighting is about to be POSTed: noted at once (committed, as its `last_error`), so whoever
   * runs the op after a crash between the POST and the claim's end looks it up by its external id
   * instead of creating it twice. The first call of a claim notes all its sightings in one write;
   * the ones it never sends are un-noted when it ends.
   */
  sendingSighting(op: XdrOp): Promise<void>;
  /** The op failed: it waits (`retryAfterMs`), or becomes a dead letter after `deadLetterAfter` refusals. Ends the claim's work. */
  failed(op: XdrOp, failure: XdrFailure): Promise<'waiting' | 'dead'>;
  /**
   * The op cannot run yet (it needs another incident's XDR id, or its own): it and the ops behind
   * it wait `retryAfterMs`, with no error recorded. Ends the claim's work.
   */
  defer(op: XdrOp, retryAfterMs: number): Promise<void>;
  /** Another incident's XDR id (for related-to): null when not mirrored yet, undefined when no longer kept. */
  xdrIdOf(incidentId: string): Promise<string | null | undefined>;
}

/** Incidents looked at per claim: the first whose claim lock is free is taken (two instances × four claims at once may hold eight). */
const CLAIM_CANDIDATES = 16;

/** Due ops the quick candidate search looks at before the search by incident takes over. */
const QUICK_SCAN_OPS = 256;

/**
 * Incidents whose FIRST op is due, oldest first. The quick search walks the oldest due ops and keeps
 * those first in their incident: one index probe each, and enough while heads are near the front.
 * But ops wait behind a head that is not due (a blocked op, XDR's Retry-After, a backoff) while
 * staying due themselves: in a flood that is thousands of due ops, every one probed on every claim
 * (the bench measured 177 ms a search with one instance, 1.4 s with two: all of PostgreSQL's CPU).
 */
const QUICK_CANDIDATES_SQL = `SELECT o.incident_id FROM (
    SELECT incident_id, id, next_attempt_at FROM xdr_ops WHERE next_attempt_at <= now() ORDER BY next_attempt_at, id LIMIT ${QUICK_SCAN_OPS}
  ) o
  WHERE (SELECT p.id FROM xdr_ops p WHERE p.incident_id = o.incident_id ORDER BY p.incident_id, p.id LIMIT 1) = o.id
  ORDER BY o.next_attempt_at, o.id
  LIMIT $1`;
// Why a scalar subquery and not NOT EXISTS: xdr_ops grows from nothing within seconds in a flood,
// before autovacuum has analyzed it; planned for "one row", the anti-join scanned the whole
// incident index once per candidate (573 ms a search under the bench's load). A correlated
// subquery with LIMIT 1 is always one index probe, whatever the statistics say.

const QUICK_SCAN_FULL_SQL = `SELECT count(*) >= ${QUICK_SCAN_OPS} AS full FROM (SELECT 1 FROM xdr_ops WHERE next_attempt_at <= now() LIMIT ${QUICK_SCAN_OPS}) d`;

/**
 * When the quick search finds no head, this one visits each incident's first op (a loose index
 * scan of xdr_ops_by_incident): one probe per incident with ops waiting, however many ops wait.
 */
const HEADS_CANDIDATES_SQL = `WITH RECURSIVE heads AS (
    (SELECT incident_id, id, next_attempt_at FROM xdr_ops ORDER BY incident_id, id LIMIT 1)
    UNION ALL
    SELECT n.incident_id, n.id, n.next_attempt_at FROM heads h
    CROSS JOIN LATERAL (SELECT x.incident_id, x.id, x.next_attempt_at FROM xdr_ops x WHERE x.incident_id > h.incident_id ORDER BY x.incident_id, x.id LIMIT 1) n
  )
  SELECT incident_id FROM heads WHERE next_attempt_at <= now() ORDER BY next_attempt_at, id LIMIT $1`;

/**
 * Drops an incident's waiting sightings beyond its newest `$2` and adds them to its `xdr_unmirrored`:
 * the domain's rule (xdr-sync.ts `enqueueForSighting`, `isWaitingSighting`: a sighting op without an XDR id),
 * applied when the mirror gets to the incident rather than at each count. Counting then writes only
 * the new op, where it read every waiting op of the incident to drop the oldest (about 20 in a
 * flood, the largest statement of a counting batch) and deleted one op per sighting. XDR gets the
 * same sightings: the newest, as they are when the mirror sends them. The incident's row is updated
 * only when something was dropped (it may wait for a counting batch holding the row, which waits
 * for nothing this holds). Its new `xdr_unmirrored`, or null when nothing was dropped.
 */
const TRIM_SIGHTINGS_SQL = `WITH extra AS (
    SELECT id FROM xdr_ops WHERE incident_id = $1 AND kind = 'sighting' AND xdr_sighting_id IS NULL ORDER BY incident_id DESC, id DESC OFFSET $2
  ), gone AS (DELETE FROM xdr_ops x USING extra WHERE x.id = extra.id RETURNING 1),
  dropped AS (SELECT count(*)::int AS n FROM gone),
  counted AS (UPDATE incidents SET xdr_unmirrored = xdr_unmirrored + dropped.n FROM dropped WHERE id = $1 AND dropped.n > 0 RETURNING xdr_unmirrored)
  SELECT (SELECT xdr_unmirrored FROM counted) AS unmirrored`;

/** An op's `last_error` while its sighting is being POSTed (see `sendingSighting`). */
const SENDING = 'sent to XDR; no answer recorded yet (look it up before creating it again)';

export class PostgresXdrQueue {
  constructor(
    private readonly pool: pg.Pool,
    private readonly opts: PostgresXdrQueueOptions = {},
  ) {}

  /**
   * Claims the incident whose first op has waited longest (and no other instance holds), and
   * runs `work` on it while holding it. Undefined when no incident is due or all are held.
   */
  async claimNext<T>(work: (claim: XdrClaim) => Promise<T>): Promise<{ incidentId: string; result: T } | undefined> {
    let tx: pg.PoolClient;
    try {
      tx = await this.pool.connect();
    } catch (err) {
      throw poolError(this.pool, err, 'mirroring an incident into XDR');
    }
    let held: string | undefined;
    // A connection cut during the claim (while XDR answers) emits 'error' on the checked-out client;
    // unheard, that ends the process. The next statement fails with the same cause; noted here.
    let cut: Error | undefined;
    const onError = (err: Error) => (cut = err);
    tx.on('error', onError);
    try {
      // A few candidates, then the first whose claim lock is free.
      let candidates = await tx.query<{ incident_id: string }>(QUICK_CANDIDATES_SQL, [CLAIM_CANDIDATES]);
      // Only when the quick search stopped at its limit can a due head lie further back.
      if (candidates.rows.length === 0 && (await tx.query<{ full: boolean }>(QUICK_SCAN_FULL_SQL)).rows[0]?.full) {
        candidates = await tx.query<{ incident_id: string }>(HEADS_CANDIDATES_SQL, [CLAIM_CANDIDATES]);
      }
      for (const c of candidates.rows) {
        const { rows } = await tx.query<{ won: boolean }>(`SELECT pg_try_advisory_lock(hashtextextended('sightline-xdr-claim:' || $1, 0)) AS won`, [c.incident_id]);
        if (!rows[0]?.won) continue;
        // Its holder may have finished (and its op failed, now waiting) between our search and the
        // lock: ask again, under the lock, whether its first op is still due.
        const due = await tx.query<{ due: boolean }>(
          'SELECT next_attempt_at <= now() AS due FROM xdr_ops WHERE incident_id = $1 ORDER BY incident_id, id LIMIT 1',
          [c.incident_id],
        );
        if (due.rows[0]?.due) {
          held = c.incident_id;
          break;
        }
        await tx.query(`SELECT pg_advisory_unlock(hashtextextended('sightline-xdr-claim:' || $1, 0))`, [c.incident_id]);
      }
      if (!held) return undefined;
      const { rows } = await tx.query<IncidentRow>(`SELECT ${INCIDENT_COLUMNS} FROM incidents WHERE id = $1`, [held]);
      const row = rows[0];
      if (!row) return undefined;
      // One after another: a connection runs one query at a time (pg 9 refuses overlapping ones).
      const maxOps = this.opts.maxOps ?? 20;
      const newest = this.opts.newestSightings ?? MAX_PENDING_SIGHTINGS;
      const readOps = () =>
        tx.query<OpRow>(
          `SELECT id, kind, seq, ctim, xdr_sighting_id, previous_incident_id, status, attempts, last_error
           FROM xdr_ops WHERE incident_id = $1 ORDER BY id LIMIT $2`,
          [row.id, maxOps],
        );
      let ops = (await readOps()).rows.map(opOf);
      // More sightings may wait than XDR is to get: only when the read is full or holds too many.
      if (ops.filter(isWaitingSighting).length > newest || ops.length >= maxOps) {
        const trimmed = await tx.query<{ unmirrored: number | null }>(TRIM_SIGHTINGS_SQL, [row.id, newest]);
        const unmirrored = trimmed.rows[0]?.unmirrored;
        if (unmirrored !== null && unmirrored !== undefined) {
          row.xdr_unmirrored = unmirrored;
          ops = (await readOps()).rows.map(opOf);
        }
      }
      const rungs = await loadRungs(tx, [row.id]);
      const recent = await loadRecentSightings(tx, [{ id: row.id, initial: row.summary.initial }]);
      const incident = incidentOf(row, rungs.get(row.id) ?? [], ops, recent.get(row.id) ?? []);
      const claim = this.claimOf(tx, incident, ops);
      const result = await work(claim);
      await claim.flush();
      return { incidentId: row.id, result };
    } catch (err) {
      throw err instanceof Error && err.name === 'StoreError' ? err : poolError(this.pool, err, 'mirroring an incident into XDR');
    } finally {
      // A connection that could not let go of the lock is closed, not pooled: closing frees the lock.
      let broken: Error | undefined = cut;
      if (held && !broken) await tx.query(`SELECT pg_advisory_unlock(hashtextextended('sightline-xdr-claim:' || $1, 0))`, [held]).catch((e: Error) => (broken = e));
      tx.removeListener('error', onError);
      tx.release(broken);
    }
  }

  private claimOf(tx: pg.ClientBase, incident: Incident, ops: XdrOp[]): XdrClaim & { flush(): Promise<void> } {
    let ended = false;
    const open = (what: string) => {
      if (ended) throw new Error(`XDR claim of ${incident.id}: ${what} after a failed or deferred op (the ops behind it wait for it)`);
    };
    // Ops done in XDR, left in the queue until `flush` (one commit for the claim's pass, see `flush`).
    const doneOps: Array<{ id: number; revision: number | null }> = [];
    let createdXdrId: string | null = null;
    // Sighting ids XDR gave, written at `flush` for ops not done by then (see `recordSightingId`'s `untilFlush`).
    const sightingIds = new Map<number, string>();
    // Sighting ops this claim marked as being sent; the ones never sent are unmarked at `flush`.
    const marked = new Set<number>();
    const sent = new Set<number>();
    // The op waits, and the ops behind it wait as long: ops run in order, and ops left due behind a
    // head that is not would each be looked at, and passed over, by every claim's search. One
    // statement (one commit) for the incident's queue: it was one for the op, then one for the rest.
    // Every row of the queue gets a new version (next_attempt_at is indexed, so none is HOT): the
    // search needs each op's own due time; the only write per op left in the claim's bookkeeping.
    const waitFrom = async (op: XdrOp, retryAfterMs: number, failure?: { attempts: number; reason: string }): Promise<void> => {
      await tx.query(
        `UPDATE xdr_ops SET next_attempt_at = now() + make_interval(secs => $3::double precision / 1000),
                            attempts = CASE WHEN id = $2 AND $4::int IS NOT NULL THEN $4::int ELSE attempts END,
                            last_error = CASE WHEN id = $2 AND $4::int IS NOT NULL THEN $5 ELSE last_error END
         WHERE incident_id = $1 AND id >= $2`,
        [incident.id, op.id, Math.max(0, retryAfterMs), failure?.attempts ?? null, failure?.reason ?? null],
      );
    };
    const flush = async (): Promise<void> => {
      const gone = new Set(doneOps.map((d) => d.id));
      const ids = [...sightingIds].filter(([id]) => !gone.has(id)).map(([id, sid]) => ({ id, sid }));
      const unmark = [...marked].filter((id) => !sent.has(id) && !gone.has(id) && !sightingIds.has(id));
      if (doneOps.length === 0 && ids.length === 0 && unmark.length === 0 && createdXdrId === null) return;
      // Per op, and needed: done ops leave the queue (a delete each); ids and un-marks are HOT
      // updates of ops that stay (neither column is indexed).
      // One statement, so one commit, for everything the claim's ops did in XDR. Losing it to a crash
      // only re-runs those ops, and each looks up what it created first. A patch leaves the queue only
      // while the incident is still the revision it was rendered from (counted since, it stays).
      // The incident's sync columns are written only when the row is free or something must be
      // recorded (its XDR id, clearing an error): counting locks incident rows for a whole batch, and
      // a last-synced time is not worth waiting for (the next claim writes it).
      await tx.query(
        `WITH done AS (
           DELETE FROM xdr_ops o USING jsonb_to_recordset($1::jsonb) AS d(id bigint, revision int)
           WHERE o.id = d.id AND o.incident_id = $2
             AND (d.revision IS NULL OR (SELECT revision FROM incidents WHERE id = $2) = d.revision)
           RETURNING 1),
         ids AS (
           UPDATE xdr_ops o SET xdr_sighting_id = r.sid FROM jsonb_to_recordset($3::jsonb) AS r(id bigint, sid text) WHERE o.id = r.id
           RETURNING 1),
         unmarked AS (
           UPDATE xdr_ops SET last_error = NULL WHERE id = ANY($4::bigint[]) AND last_error = $6
           RETURNING 1)
         UPDATE incidents SET xdr_id = COALESCE($5, xdr_id), xdr_last_synced_at = now(), xdr_last_error = NULL
         WHERE id = $2 AND ${doneOps.length > 0 ? 'true' : 'false'}
           AND ($5::text IS NOT NULL OR xdr_last_error IS NOT NULL OR id IN (SELECT id FROM incidents WHERE id = $2 FOR NO KEY UPDATE SKIP LOCKED))`,
        [JSON.stringify(doneOps), incident.id, JSON.stringify(ids), unmark, createdXdrId, SENDING],
      );
      doneOps.length = 0;
      sightingIds.clear();
      marked.clear();
      createdXdrId = null;
    };
    return {
      incident,
      ops,
      flush,
      done: async (op, result) => {
        open('done');
        // Kept for `flush`: the claim's next ops see it done (the runner's `pending` skips it).
        doneOps.push({ id: op.id, revision: op.kind === 'patch' ? incident.revision : null });
        if (result?.xdrId) {
          incident.xdrId = result.xdrId;
          createdXdrId = result.xdrId;
        }
      },
      recordSightingId: async (op, xdrSightingId, opts) => {
        open('recordSightingId');
        if (op.kind === 'sighting') op.xdrSightingId = xdrSightingId;
        // With `untilFlush` the caller can look the sighting up by its external id (it was marked
        // as being sent), so a crash before `flush` costs a lookup, not a duplicate: no commit of its own.
        if (opts?.untilFlush) {
          sightingIds.set(op.id, xdrSightingId);
          return;
        }
        // On the claim's connection, which runs no transaction around the ops: committed at once.
        // Per op, and needed: without a lookup by external id, this row is all that stops a retry
        // from creating the sighting a second time (a HOT update since migration 8).
        try {
          await tx.query('UPDATE xdr_ops SET xdr_sighting_id = $2 WHERE id = $1', [op.id, xdrSightingId]);
        } catch (err) {
          throw poolError(this.pool, err, 'recording an XDR sighting id');
        }
      },
      sendingSighting: async (op) => {
        open('sendingSighting');
        sent.add(op.id);
        if (!marked.has(op.id)) {
          // The mark must be durable before the POST (its own commit). A new version of each op row
          // (per op, and needed: it is what a retry after a crash reads; HOT since migration 8, as
          // last_error is not indexed). One commit marks every
          // sighting op of this claim not marked yet, so the ones after this need none; the ones
          // the claim does not get to are unmarked at `flush` (a crash before leaves them marked:
          // that costs a lookup in XDR, never a duplicate).
          const ids = ops.filter((o) => o.kind === 'sighting' && !o.xdrSightingId && !marked.has(o.id) && !doneOps.some((d) => d.id === o.id)).map((o) => o.id);
          if (!ids.includes(op.id)) ids.push(op.id);
          try {
            // The claim's own connection (autocommit): a second one per claim could exhaust the pool.
            await tx.query('UPDATE xdr_ops SET last_error = $2 WHERE id = ANY($1::bigint[]) AND xdr_sighting_id IS NULL AND (last_error IS NULL OR id = $3)', [ids, SENDING, op.id]);
          } catch (err) {
            throw poolError(this.pool, err, 'noting an XDR sighting being sent');
          }
          for (const id of ids) marked.add(id);
        }
        op.lastError ??= SENDING;
      },
      failed: async (op, failure) => {
        open('failed');
        await flush();
        ended = true;
        const attempts = op.attempts + (failure.permanent ? 1 : 0);
        const reason = failure.message.slice(0, 2000);
        await tx.query('UPDATE incidents SET xdr_last_error = $2 WHERE id = $1', [incident.id, reason]);
        if (failure.permanent && attempts >= (this.opts.deadLetterAfter ?? MAX_PERMANENT_FAILURES)) {
          // The op leaves the queue and becomes a dead letter together, or not at all.
          await tx.query('BEGIN');
          try {
            await tx.query('DELETE FROM xdr_ops WHERE id = $1', [op.id]);
            await tx.query(
              `INSERT INTO xdr_dead_letters (incident_id, op_id, kind, seq, reason, attempts, at) VALUES ($1, $2, $3, $4, $5, $6, now())`,
              [incident.id, op.id, op.kind, op.kind === 'sighting' ? op.seq : null, reason.slice(0, 500), attempts],
            );
            await tx.query('UPDATE incidents SET xdr_dropped = xdr_dropped + 1 WHERE id = $1', [incident.id]);
            await tx.query('COMMIT');
          } catch (err) {
            await tx.query('ROLLBACK').catch(() => undefined);
            throw err;
          }
          return 'dead';
        }
        await waitFrom(op, failure.retryAfterMs, { attempts, reason });
        return 'waiting';
      },
      defer: async (op, retryAfterMs) => {
        open('defer');
        await flush();
        ended = true;
        await waitFrom(op, retryAfterMs);
      },
      xdrIdOf: async (incidentId) => {
        const { rows } = await tx.query<{ xdr_id: string | null }>('SELECT xdr_id FROM incidents WHERE id = $1', [incidentId]);
        return rows[0] ? rows[0].xdr_id : undefined;
      },
    };
  }

  /**
   * Claims due incidents until none is left that this instance can take, `concurrency` at a
   * time, at most `max` claims (bounded).
   */
  async drain<T>(work: (claim: XdrClaim) => Promise<T>, opts: { concurrency?: number; max?: number } = {}): Promise<Array<{ incidentId: string; result: T }>> {
    const out: Array<{ incidentId: string; result: T }> = [];
    let budget = opts.max ?? 1000;
    const worker = async (): Promise<void> => {
      while (budget > 0) {
        budget--;
        const r = await this.claimNext(work);
        if (!r) return;
        out.push(r);
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, opts.concurrency ?? 4) }, worker));
    return out;
  }

  /** Ops waiting, across incidents (for `hunt status` / metrics). */
  async pending(): Promise<number> {
    try {
      const { rows } = await this.pool.query<{ n: string }>('SELECT count(*) AS n FROM xdr_ops');
      return Number(rows[0]?.n ?? 0);
    } catch (err) {
      throw poolError(this.pool, err, 'reading the XDR queue');
    }
  }

  /** The newest dead letters, newest first, with their incident (as the domain's deadLetterSummary lists them). */
  async deadLetters(limit = 3): Promise<{ total: number; latest: Array<XdrDeadLetter & { incidentId: string; target: string }> }> {
    try {
      const [total, latest] = await Promise.all([
        this.pool.query<{ n: string }>('SELECT COALESCE(sum(xdr_dropped), 0) AS n FROM incidents WHERE xdr_dropped > 0'),
        this.pool.query<{ incident_id: string; target_value: string; op_id: string; kind: XdrOp['kind']; seq: string | null; reason: string; attempts: number; at: Date }>(
          `SELECT d.incident_id, i.target_value, d.op_id, d.kind, d.seq, d.reason, d.attempts, d.at
           FROM xdr_dead_letters d JOIN incidents i ON i.id = d.incident_id ORDER BY d.at DESC, d.id DESC LIMIT $1`,
          [limit],
        ),
      ]);
      return {
        total: Number(total.rows[0]?.n ?? 0),
        latest: latest.rows.map((r) => ({
          incidentId: r.incident_id,
          target: r.target_value,
          opId: Number(r.op_id),
          kind: r.kind,
          ...(r.seq !== null ? { seq: Number(r.seq) } : {}),
          reason: r.reason,
          attempts: r.attempts,
          at: r.at.toISOString(),
        })),
      };
    } catch (err) {
      throw poolError(this.pool, err, 'reading the XDR dead letters');
    }
  }
}
