import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { StoreError } from '../../core/errors.js';
import { applySighting, observedTime, type ApplyResult } from '../../domain/correlation/correlator.js';
import type { Rung } from '../../domain/correlation/ladder.js';
import { isClosedStatus } from '../../domain/correlation/status.js';
import type { CorrelationState, Incident, SequencedSighting } from '../../domain/correlation/types.js';
import { enqueueForSighting, enqueueStatus } from '../../domain/correlation/xdr-sync.js';
import { targetIdentity } from '../../domain/investigate/target-identity.js';
import {
  INCIDENT_COLUMNS,
  incidentOf,
  insertOps,
  loadRecentSightings,
  loadRungs,
  opRow,
  summaryOf,
  type IncidentRow,
} from './incident-rows.js';
import { PostgresIncidentReads } from './incident-reads.js';
import { inTransaction, poolError, prepared } from './pool.js';
import type { LoggedSighting, PostgresSightingsLog } from './sightings-log.js';

export type { IncidentPage, PageRequest } from './incident-reads.js';

/**
 * Correlation on PostgreSQL. The domain's pure rules (correlator.ts `applySighting`, xdr-sync.ts
 * `enqueueForSighting`) decide; this module only loads what they need and writes back what
 * they changed, inside the transaction of the sightings claimed from the log — so a batch's
 * counts, rungs and XDR ops commit together with the rows being marked applied, or not at all.
 *
 * Per target in a batch: take the target (a transaction-scoped advisory lock, tried, never waited
 * for) and lock its open incident and its latest one (`FOR NO KEY UPDATE SKIP LOCKED`: it changes
 * no key, so rows referencing the incident — its card, its XDR ops — can be written meanwhile), build a
 * CorrelationState of just those, apply the target's sightings in seq order, write back. A target
 * another transaction holds (another instance's batch, a close, the mirror recording a create) is
 * not waited for: its sightings are left unapplied for the next batch, all of them, so the order
 * within a target stays (across instances it was never guaranteed: the sightings log's claims run
 * side by side). Nothing here waits on a lock, so two instances cannot deadlock. A new incident is inserted with ON CONFLICT DO
 * NOTHING: the partial unique index `incidents_one_open_per_target` is the guard across
 * instances; when another instance opened one first (or the random id was taken), the target is
 * loaded again and its sightings applied again to what is there now. Rungs are inserted with
 * ON CONFLICT DO NOTHING RETURNING: a rung is reported as fired only when its row was inserted.
 */
export interface PgCorrelationOptions {
  rungs: readonly Rung[];
  rejectedIsClosed: boolean;
  dryRun: boolean;
  newId?: () => string;
  now?: () => Date;
}

/** A rung whose row this instance inserted: the caller runs its actions. */
export interface FiredRung {
  incidentId: string;
  rung: Rung;
  /** The count that crossed it. */
  count: number;
}

export interface AppliedSighting {
  seq: number;
  id: string;
  incidentId: string;
  created: boolean;
  previousIncidentId?: string;
}

export interface AppliedBatch {
  applied: AppliedSighting[];
  /**
   * Every incident the batch opened or counted into, as written; `recentSightings` holds only
   * this batch's (read the incident for the description's full list), `xdrSync.pending` none.
   */
  incidents: Incident[];
  /** Ids of the incidents the batch opened. */
  opened: string[];
  rungsFired: FiredRung[];
  /** Targets loaded again because another instance opened their incident first (or an id was taken). */
  retries: number;
  /** Seqs of the sightings left for the next batch: their target was held elsewhere. */
  deferred: number[];
}

export interface CloseOptions {
  /** The status to set (default "Closed"), e.g. the one XDR reported. */
  status?: string;
  /** Queue the close for XDR (default true); false when XDR itself closed it. */
  mirror?: boolean;
  /** Runs in the close's transaction with the closed incident (e.g. to queue the incident_closed message with it). */
  inTx?: (incident: Incident, tx: pg.ClientBase) => Promise<void>;
}

/** A rung's outcome while its outside actions run; it stays so if the instance dies meanwhile (they are not run again). */
const RUNG_STARTED = 'started; no outcome recorded (the instance running its actions stopped or crashed)';

/** Local op ids: above any id the domain compares against; replaced by the table's sequence on insert. */
const LOCAL_OP_BASE = 2 ** 50;
/** Rounds of "another instance opened it first, load again" before the batch gives up (and is claimed again later). */
const MAX_ROUNDS = 5;
const MAX_CLAIM_TRIES = 3;

interface Loaded {
  open?: Incident;
  latest?: Incident;
}

interface TargetOutcome {
  key: string;
  sightings: SequencedSighting[];
  results: ApplyResult[];
  created?: Incident;
  /** An incident left open in the table whose status already says closed (e.g. Rejected once that counts as closed). */
  staleOpen?: Incident;
  /** The open incident counted into, when none was opened. */
  updated?: Incident;
  loaded: Loaded;
}

export class PostgresCorrelationStore extends PostgresIncidentReads {
  private readonly newId: () => string;
  private readonly now: () => Date;

  constructor(
    pool: pg.Pool,
    private readonly log: PostgresSightingsLog,
    private readonly opts: PgCorrelationOptions,
  ) {
    super(pool);
    this.newId = opts.newId ?? (() => `inc-${randomUUID().slice(0, 8)}`);
    this.now = opts.now ?? (() => new Date());
  }

  /**
   * Claims up to `limit` accepted sightings no other instance holds and applies them; `claimed` 0 when none waited.
   * `inTx` runs in the claim's transaction after the batch is written (e.g. to queue its cards), so what it
   * writes commits with the counts or not at all.
   */
  async applyNext(limit = 500, inTx?: (batch: AppliedBatch, tx: pg.ClientBase) => Promise<void>): Promise<{ claimed: number; result?: AppliedBatch }> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.log.claim(
          limit,
          async (rows, tx) => {
            const batch = await this.applyClaimed(rows, tx);
            if (inTx) await inTx(batch, tx);
            return batch;
          },
          (batch) => batch.deferred,
        );
      } catch (err) {
        // A deadlock is possible in one rare case (a retried target locked after inserts another
        // instance waits on); PostgreSQL ends one side, whose rows are simply claimed again.
        const code = (err as { cause?: { code?: string } }).cause?.code;
        if (attempt >= MAX_CLAIM_TRIES || (code !== '40P01' && code !== '40001')) throw err;
      }
    }
  }

  /** Applies claimed rows inside the claim's transaction `tx` (see the class comment). */
  async applyClaimed(rows: LoggedSighting[], tx: pg.ClientBase): Promise<AppliedBatch> {
    const now = this.now();
    const byTarget = new Map<string, SequencedSighting[]>();
    for (const row of [...rows].sort((a, b) => a.seq - b.seq)) {
      const s: SequencedSighting = { ...row.item, seq: row.seq };
      const key = targetIdentity(s.target).key;
      const list = byTarget.get(key) ?? [];
      list.push(s);
      byTarget.set(key, list);
    }
    const keys = [...byTarget.keys()].sort();
    const held = await this.takeTargets(tx, keys);
    let pending = keys.filter((k) => !held.has(k));
    const done: TargetOutcome[] = [];
    const fired: FiredRung[] = [];
    let retries = 0;
    for (let round = 0; pending.length > 0; round++) {
      if (round >= MAX_ROUNDS) {
        throw new StoreError('busy', `Sightings for ${pending.length} target(s) could not be counted after ${MAX_ROUNDS} tries (other instances kept opening their incidents); they stay in the log and are applied on the next pass.`);
      }
      const { loaded, busy } = await this.lockTargets(tx, pending);
      for (const k of busy) held.add(k);
      pending = pending.filter((k) => !busy.has(k));
      const outcomes = pending.map((key) => this.applyTarget(key, byTarget.get(key)!, loaded.get(key) ?? {}, now));
      const lost = await this.write(tx, outcomes, now, fired);
      done.push(...outcomes.filter((o) => !lost.has(o.key)));
      retries += lost.size;
      pending = pending.filter((k) => lost.has(k));
    }
    const incidents = new Map<string, Incident>();
    const applied: AppliedSighting[] = [];
    for (const o of done) {
      o.results.forEach((r, i) => {
        const s = o.sightings[i]!;
        incidents.set(r.incident.id, r.incident);
        applied.push({ seq: s.seq, id: s.dedupeKey, incidentId: r.incident.id, created: r.created, ...(r.previous ? { previousIncidentId: r.previous.id } : {}) });
      });
    }
    applied.sort((a, b) => a.seq - b.seq);
    // The ops carry local ids (the table gave them others): they are the mirror's, as in every read.
    for (const inc of incidents.values()) inc.xdrSync.pending = [];
    const deferred = [...held].flatMap((k) => byTarget.get(k)!.map((s) => s.seq));
    return { applied, incidents: [...incidents.values()], opened: done.flatMap((o) => (o.created ? [o.created.id] : [])), rungsFired: fired, retries, deferred };
  }

  /**
   * Takes the batch's targets for this transaction, each only if free: the ones another
   * transaction holds are returned (their sightings wait for the next batch). The lock keeps two
   * instances from opening the same target's incident at once (the loser of that race used to
   * wait on the winner's uncommitted insert, then load and apply again).
   */
  private async takeTargets(tx: pg.ClientBase, keys: string[]): Promise<Set<string>> {
    const { rows } = await tx.query<{ key: string }>(
      prepared(
        `SELECT k.key FROM unnest($1::text[]) WITH ORDINALITY AS k(key, n)
         WHERE NOT pg_try_advisory_xact_lock(hashtextextended('sightline-target:' || k.key, 0))
         ORDER BY k.n`,
        [keys],
      ),
    );
    return new Set(rows.map((r) => r.key));
  }

  /**
   * Locks and loads each target's open incident and its latest one (the previous of the next), with
   * rungs and waiting ops. A row held elsewhere is skipped, not waited for: its target is `busy`.
   */
  private async lockTargets(tx: pg.ClientBase, keys: string[]): Promise<{ loaded: Map<string, Loaded>; busy: Set<string> }> {
    // Two rows at most per target whatever its history (incidents_by_target, incidents_one_open_per_target),
    // found first without locks, then locked by primary key (SKIP LOCKED: a row missing is a row held).
    const { rows: wanted } = await tx.query<{ id: string; target_key: string }>(
      prepared(
        `SELECT latest.id, k.key AS target_key FROM unnest($1::text[]) AS k(key)
           CROSS JOIN LATERAL (SELECT j.id FROM incidents j WHERE j.target_key = k.key ORDER BY j.ordinal DESC LIMIT 1) AS latest
         UNION
         SELECT o.id, o.target_key FROM incidents o WHERE o.target_key = ANY($1::text[]) AND o.closed_at IS NULL`,
        [keys],
      ),
    );
    const busy = new Set<string>();
    if (wanted.length === 0) return { loaded: new Map(), busy };
    const { rows: locked } = await tx.query<IncidentRow>(
      prepared(`SELECT ${INCIDENT_COLUMNS} FROM incidents WHERE id = ANY($1::text[]) ORDER BY target_key, ordinal FOR NO KEY UPDATE SKIP LOCKED`, [wanted.map((w) => w.id)]),
    );
    const got = new Set(locked.map((r) => r.id));
    for (const w of wanted) if (!got.has(w.id)) busy.add(w.target_key);
    const rows = locked.filter((r) => !busy.has(r.target_key));
    // Without their waiting XDR ops: see `applyTarget`.
    const rungs = await loadRungs(tx, rows.map((r) => r.id));
    const out = new Map<string, Loaded>();
    for (const row of rows) {
      const inc = incidentOf(row, rungs.get(row.id) ?? [], []);
      const entry = out.get(row.target_key) ?? {};
      if (!row.closed_at) entry.open = inc;
      if (!entry.latest || inc.ordinal > entry.latest.ordinal) entry.latest = inc;
      out.set(row.target_key, entry);
    }
    return { loaded: out, busy };
  }

  /** The domain's rules on a state holding just this target's incidents. */
  private applyTarget(key: string, sightings: SequencedSighting[], loaded: Loaded, now: Date): TargetOutcome {
    const state: CorrelationState = { incidents: {}, openByTarget: {}, latestByTarget: {}, lastAppliedSeq: 0, nextOrdinal: 0, nextOpId: LOCAL_OP_BASE };
    for (const inc of [loaded.latest, loaded.open]) if (inc) state.incidents[inc.id] = inc;
    if (loaded.open) state.openByTarget[key] = loaded.open.id;
    if (loaded.latest) state.latestByTarget[key] = loaded.latest.id;
    const opts = { rungs: this.opts.rungs, rejectedIsClosed: this.opts.rejectedIsClosed, dryRun: this.opts.dryRun, newId: this.newId };
    // The incidents come without their waiting XDR ops, and the domain is told to keep every
    // sighting op: the newest XDR_MIRROR_NEWEST_SIGHTINGS are kept by the mirror's claim instead
    // (xdr-queue.ts `TRIM_SIGHTINGS_SQL`), which gives XDR the same ones. Reading every waiting op of
    // each incident a batch counts into (~20 in a flood) to drop the oldest was counting's largest
    // statement; a patch the domain adds while one waits is skipped by xdr_ops_one_patch.
    const results = sightings.map((s) => {
      const r = applySighting(state, s, now, opts);
      enqueueForSighting(state, r, s, Number.POSITIVE_INFINITY);
      return r;
    });
    const created = results.find((r) => r.created)?.incident;
    const out: TargetOutcome = { key, sightings, results, loaded };
    if (created) {
      out.created = created;
      if (loaded.open) out.staleOpen = loaded.open;
      // Sightings applied to the stale one before the new one opened cannot happen: applySighting opens at once.
    } else if (loaded.open) {
      out.updated = loaded.open;
    }
    return out;
  }

  /** Writes what the outcomes changed; returns the targets whose new incident was not inserted (to load again). */
  private async write(tx: pg.ClientBase, outcomes: TargetOutcome[], now: Date, fired: FiredRung[]): Promise<Set<string>> {
    const lost = new Set<string>();
    const stale = outcomes.flatMap((o) => (o.staleOpen ? [o.staleOpen.id] : []));
    if (stale.length > 0) {
      // Its status already says closed; closing it in the table frees the target for the new one.
      await tx.query('UPDATE incidents SET closed_at = $2 WHERE id = ANY($1::text[]) AND closed_at IS NULL', [stale, now]);
    }
    const created = outcomes.flatMap((o) => (o.created ? [o] : []));
    if (created.length > 0) {
      const { rows } = await tx.query<{ id: string; ordinal: string }>(
        `INSERT INTO incidents (id, target_key, target_type, target_value, status, count, revision, first_seen, last_seen, opened_at,
                                previous_incident_id, summary, xdr_unmirrored)
         SELECT r.id, r.target_key, r.target_type, r.target_value, r.status, r.count, r.revision, r.first_seen, r.last_seen, r.opened_at,
                r.previous_incident_id, r.summary, r.xdr_unmirrored
         FROM jsonb_to_recordset($1::jsonb) AS r(id text, target_key text, target_type text, target_value text, status text,
              count bigint, revision int, first_seen timestamptz, last_seen timestamptz, opened_at timestamptz,
              previous_incident_id text, summary jsonb, xdr_unmirrored int, n bigint)
         ORDER BY r.n
         ON CONFLICT DO NOTHING
         RETURNING id, ordinal`,
        [JSON.stringify(created.map((o, n) => ({ n, ...this.incidentColumns(o.created!), target_key: o.created!.targetKey, target_type: o.created!.targetType, target_value: o.created!.targetValue, opened_at: o.created!.openedAt, previous_incident_id: o.created!.previousIncidentId ?? null, status: o.created!.status })))],
      );
      const ordinals = new Map(rows.map((r) => [r.id, Number(r.ordinal)]));
      for (const o of created) {
        const ordinal = ordinals.get(o.created!.id);
        if (ordinal === undefined) lost.add(o.key);
        else o.created!.ordinal = ordinal;
      }
    }
    const kept = outcomes.filter((o) => !lost.has(o.key));
    const updated = kept.flatMap((o) => (o.updated ? [o.updated] : []));
    if (updated.length > 0) {
      await tx.query(prepared(
        `UPDATE incidents i SET count = u.count, revision = u.revision, first_seen = u.first_seen, last_seen = u.last_seen,
                                summary = u.summary, xdr_unmirrored = u.xdr_unmirrored
         FROM jsonb_to_recordset($1::jsonb) AS u(id text, count bigint, revision int, first_seen timestamptz, last_seen timestamptz,
              summary jsonb, xdr_unmirrored int)
         WHERE i.id = u.id`,
        [JSON.stringify(updated.map((inc) => this.incidentColumns(inc)))],
      ));
    }
    const sightingRows = kept.flatMap((o) =>
      o.results.map((r, i) => {
        const s = o.sightings[i]!;
        return { incident_id: r.incident.id, seq: s.seq, observed_at: observedTime(s.observedAt, now), ioc_type: s.ioc.type, ioc_value: s.ioc.value, source: s.source };
      }),
    );
    if (sightingRows.length > 0) {
      await tx.query(prepared(
        `INSERT INTO incident_sightings (incident_id, seq, observed_at, ioc_type, ioc_value, source)
         SELECT incident_id, seq, observed_at, ioc_type, ioc_value, source
         FROM jsonb_to_recordset($1::jsonb) AS r(incident_id text, seq bigint, observed_at timestamptz, ioc_type text, ioc_value text, source text)
         ON CONFLICT DO NOTHING`,
        [JSON.stringify(sightingRows)],
      ));
    }
    await this.writeRungs(tx, kept, fired);
    // XDR ops: the new ones, in order (the incidents were loaded without the waiting ones).
    const added: Record<string, unknown>[] = [];
    for (const o of kept) {
      const inc = o.created ?? o.updated;
      if (inc) for (const op of inc.xdrSync.pending) added.push(opRow(inc.id, op));
    }
    await insertOps(tx, added);
    return lost;
  }

  /** Rung rows; a rung counts as fired only when this transaction inserted its row. */
  private async writeRungs(tx: pg.ClientBase, kept: TargetOutcome[], fired: FiredRung[]): Promise<void> {
    const wanted: Array<{ incidentId: string; rung: Rung; count: number; at: string; actions: string[]; dryRun: boolean }> = [];
    for (const o of kept) {
      for (const r of o.results) {
        if (!r.rung) continue;
        const rec = r.incident.rungsFired.find((x) => x.rung === r.rung!.label);
        if (rec) wanted.push({ incidentId: r.incident.id, rung: r.rung, count: rec.count, at: rec.at, actions: rec.actions, dryRun: rec.dryRun });
      }
    }
    if (wanted.length === 0) return;
    const { rows } = await tx.query<{ incident_id: string; rung: string }>(
      `INSERT INTO incident_rungs (incident_id, rung, count, at, actions, dry_run)
       SELECT r.incident_id, r.rung, r.count, r.at, ARRAY(SELECT jsonb_array_elements_text(r.actions)), r.dry_run
       FROM jsonb_to_recordset($1::jsonb) AS r(incident_id text, rung text, count bigint, at timestamptz, actions jsonb, dry_run boolean)
       ON CONFLICT DO NOTHING
       RETURNING incident_id, rung`,
      [JSON.stringify(wanted.map((w) => ({ incident_id: w.incidentId, rung: w.rung.label, count: w.count, at: w.at, actions: w.actions, dry_run: w.dryRun })))],
    );
    const inserted = new Set(rows.map((r) => `${r.incident_id}\u0000${r.rung}`));
    for (const w of wanted) {
      if (inserted.has(`${w.incidentId}\u0000${w.rung.label}`)) {
        fired.push({ incidentId: w.incidentId, rung: w.rung, count: w.count });
      } else {
        // Another transaction recorded it first: it is that one's to act on, not ours.
        const inc = kept.flatMap((o) => o.results.map((r) => r.incident)).find((i) => i.id === w.incidentId);
        if (inc) inc.rungsFired = inc.rungsFired.filter((r) => r.rung !== w.rung.label || r.count !== w.count || r.at !== w.at);
      }
    }
  }

  private incidentColumns(inc: Incident): Record<string, unknown> {
    return {
      id: inc.id,
      count: inc.count,
      revision: inc.revision,
      first_seen: inc.firstSeen,
      last_seen: inc.lastSeen,
      summary: summaryOf(inc),
      xdr_unmirrored: inc.xdrSync.unmirrored ?? 0,
    };
  }

  /**
   * Closes one open incident (by an analyst, or XDR when `mirror` is false) and queues the status
   * for XDR. Undefined when it does not exist or is closed already — on any instance.
   */
  async close(incidentId: string, by: string, reason?: string, opts: CloseOptions = {}): Promise<Incident | undefined> {
    const status = opts.status ?? 'Closed';
    const now = this.now();
    return inTransaction(this.pool, 'closing an incident', async (tx) => {
      const { rows } = await tx.query<IncidentRow>(`SELECT ${INCIDENT_COLUMNS} FROM incidents WHERE id = $1 FOR NO KEY UPDATE`, [incidentId]);
      const row = rows[0];
      if (!row || row.closed_at) return undefined;
      const { rows: closedRows } = await tx.query<IncidentRow>(
        `UPDATE incidents SET status = $2, closed_at = $3, closed_by = $4, close_reason = $5 WHERE id = $1 RETURNING ${INCIDENT_COLUMNS}`,
        [incidentId, status, now, by, reason ?? null],
      );
      const rungs = await loadRungs(tx, [incidentId]);
      const recent = await loadRecentSightings(tx, [{ id: incidentId, initial: closedRows[0]!.summary.initial }]);
      const inc = incidentOf(closedRows[0]!, rungs.get(incidentId) ?? [], [], recent.get(incidentId) ?? []);
      if (opts.mirror !== false) {
        const state: CorrelationState = { incidents: { [inc.id]: inc }, openByTarget: {}, latestByTarget: {}, lastAppliedSeq: 0, nextOrdinal: 0, nextOpId: LOCAL_OP_BASE };
        enqueueStatus(state, inc, status);
        await insertOps(tx, inc.xdrSync.pending.map((op) => opRow(inc.id, op)));
      }
      // The ops are the mirror's; the returned incident carries none (as every read here).
      inc.xdrSync.pending = [];
      if (opts.inTx) await opts.inTx(inc, tx);
      return inc;
    });
  }

  /** A status XDR reported that does not close the incident (e.g. "Containment Achieved"); false when it is closed or unknown. */
  async setStatus(incidentId: string, status: string): Promise<boolean> {
    try {
      const r = await this.pool.query('UPDATE incidents SET status = $2 WHERE id = $1 AND closed_at IS NULL', [incidentId, status]);
      return (r.rowCount ?? 0) > 0;
    } catch (err) {
      throw poolError(this.pool, err, 'recording an incident status');
    }
  }

  /**
   * The Webex card of incident_opened, for threaded updates (any instance may have sent it). Its
   * own row, not the incident's: counting holds incident rows for a whole batch (see migration 7).
   */
  async recordCardMessage(incidentId: string, messageId: string): Promise<void> {
    const sql = `INSERT INTO incident_cards (incident_id, message_id) SELECT id, $2 FROM incidents WHERE id = $1
                 ON CONFLICT (incident_id) DO UPDATE SET message_id = EXCLUDED.message_id`;
    await this.pool.query(sql, [incidentId, messageId]).catch((err: unknown) => {
      throw poolError(this.pool, err, 'recording an incident card');
    });
  }

  /**
   * Claims a fired rung's outside actions (respond, webhook) for this instance, once: its outcome
   * becomes "started" before they run, so they run at most once even across a crash. False when
   * another instance claimed it (it resumed the rung) or it was recorded already.
   */
  async startRung(incidentId: string, rung: string): Promise<boolean> {
    try {
      const r = await this.pool.query(prepared('UPDATE incident_rungs SET outcome = $3 WHERE incident_id = $1 AND rung = $2 AND outcome IS NULL', [incidentId, rung, RUNG_STARTED]));
      return (r.rowCount ?? 0) > 0;
    } catch (err) {
      throw poolError(this.pool, err, 'starting what a ladder rung does');
    }
  }

  /**
   * Fired rungs whose outside actions never started (the instance that fired them stopped or
   * crashed first), fired within `maxAgeMs`, claimed for this instance (as `startRung`) with the
   * incident as it is now. A rung no longer in the ladder is recorded as skipped.
   */
  async claimUnstartedRungs(maxAgeMs: number, limit = 100): Promise<Array<{ incident: Incident; fired: FiredRung }>> {
    try {
      const { rows } = await this.pool.query<{ incident_id: string; rung: string; count: string }>(
        `UPDATE incident_rungs r SET outcome = $3
         FROM (SELECT incident_id, rung FROM incident_rungs
               WHERE outcome IS NULL AND at > now() - make_interval(secs => $1::double precision / 1000)
                 AND actions && ARRAY['respond', 'webhook']::text[]
               LIMIT $2 FOR UPDATE SKIP LOCKED) AS u
         WHERE r.incident_id = u.incident_id AND r.rung = u.rung
         RETURNING r.incident_id, r.rung, r.count`,
        [maxAgeMs, limit, RUNG_STARTED],
      );
      if (rows.length === 0) return [];
      const incidents = new Map((await this.incidents([...new Set(rows.map((r) => r.incident_id))])).map((i) => [i.id, i]));
      const out: Array<{ incident: Incident; fired: FiredRung }> = [];
      for (const r of rows) {
        const rung = this.opts.rungs.find((x) => x.label === r.rung);
        const incident = incidents.get(r.incident_id);
        if (rung && incident) out.push({ incident, fired: { incidentId: r.incident_id, rung, count: Number(r.count) } });
        else await this.recordRungOutcome(r.incident_id, r.rung, 'skipped: the rung is no longer in the ladder (or its incident is gone)');
      }
      return out;
    } catch (err) {
      throw err instanceof StoreError ? err : poolError(this.pool, err, 'resuming ladder rungs');
    }
  }

  /** What a fired rung's actions did (informational; the firing itself was recorded with the count). */
  async recordRungOutcome(incidentId: string, rung: string, outcome: string): Promise<void> {
    await this.pool.query(prepared('UPDATE incident_rungs SET outcome = $3 WHERE incident_id = $1 AND rung = $2', [incidentId, rung, outcome])).catch((err: unknown) => {
      throw poolError(this.pool, err, 'recording what a ladder rung did');
    });
  }

  /** Several rung outcomes in one statement, in a caller's transaction when given (a batch's message-only rungs). */
  async recordRungOutcomes(outcomes: Array<{ incidentId: string; rung: string; outcome: string }>, tx?: pg.ClientBase): Promise<void> {
    if (outcomes.length === 0) return;
    const db = tx ?? this.pool;
    await db
      .query(
        `UPDATE incident_rungs r SET outcome = u.outcome
         FROM jsonb_to_recordset($1::jsonb) AS u(incident_id text, rung text, outcome text)
         WHERE r.incident_id = u.incident_id AND r.rung = u.rung`,
        [JSON.stringify(outcomes.map((o) => ({ incident_id: o.incidentId, rung: o.rung, outcome: o.outcome })))],
      )
      .catch((err: unknown) => {
        throw poolError(this.pool, err, 'recording what ladder rungs did');
      });
  }

  /** Runs `fn` in a transaction of this store's pool (e.g. a chunk of notifications queued in one commit). */
  transaction<T>(doing: string, fn: (tx: pg.ClientBase) => Promise<T>): Promise<T> {
    return inTransaction(this.pool, doing, fn);
  }

  /** Whether a status counts as closed under this store's settings. */
  isClosed(status: string): boolean {
    return isClosedStatus(status, { rejectedIsClosed: this.opts.rejectedIsClosed });
  }
}
