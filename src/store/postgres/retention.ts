import type pg from 'pg';
import { CHAT_CLAIM_RETENTION_HOURS } from './chat-claims.js';
import { inTransaction } from './pool.js';

/**
 * History retention on PostgreSQL: the leader's job (docs/POSTGRES.md, leader work). Nothing
 * is pruned by count any more; what is older than its window goes, in small transactions
 * (`batchSize` rows each) so a first run over years of history never holds locks for long
 * nor grows one huge transaction, and the intake keeps running meanwhile.
 *
 * - Closed incidents closed before `now - retentionDays`; their sightings, rungs, XDR ops and
 *   XDR dead letters go with them (ON DELETE CASCADE). A newer incident that named one as its
 *   previous keeps no link (ON DELETE SET NULL): the history beyond the window is forgotten.
 *   Rows another transaction holds (a sighting being counted, a close) are skipped this run.
 * - Applied rows of the sightings log accepted before `now - dedupeWindowSeconds`: while a
 *   row is kept, its id counts as a duplicate on every instance; after, the same id would
 *   count again. Unapplied rows are never deleted.
 *
 * Safe to run again or on two instances at once (a lock is not a fence): each batch deletes
 * what is older than the cutoff and not locked, nothing else.
 */
export interface RetentionOptions {
  /** HISTORY_RETENTION_DAYS; default 365. */
  retentionDays?: number;
  /** How long an accepted id keeps counting as a duplicate; default 7 days (the longest SIGHTINGS_DEDUPE_WINDOW_SECONDS allows). */
  dedupeWindowSeconds?: number;
  /** Rows per transaction; default 1,000. */
  batchSize?: number;
  /** Transactions per table and run at most, so one run is bounded; the rest waits for the next run. Default 1,000. */
  maxBatches?: number;
  now?: Date;
}

export interface RetentionReport {
  incidents: number;
  sightings: number;
  /** Rows of the bookkeeping tables past their age (receipts, idempotency keys, dead letters, chat claims), per table. */
  bookkeeping: Record<string, number>;
  /** Transactions used. */
  batches: number;
  /** True when `maxBatches` stopped a table before it was done: run again. */
  more: boolean;
}

export const DEFAULT_RETENTION_DAYS = 365;
export const DEFAULT_DEDUPE_WINDOW_SECONDS = 7 * 86_400;
const DAY_MS = 86_400_000;

export async function runRetention(pool: pg.Pool, opts: RetentionOptions = {}): Promise<RetentionReport> {
  const now = opts.now ?? new Date();
  const batch = opts.batchSize ?? 1_000;
  const maxBatches = opts.maxBatches ?? 1_000;
  const closedBefore = new Date(now.getTime() - (opts.retentionDays ?? DEFAULT_RETENTION_DAYS) * DAY_MS);
  const acceptedBefore = new Date(now.getTime() - (opts.dedupeWindowSeconds ?? DEFAULT_DEDUPE_WINDOW_SECONDS) * 1000);
  const report: RetentionReport = { incidents: 0, sightings: 0, bookkeeping: {}, batches: 0, more: false };

  const incidents = await inBatches(pool, 'deleting closed incidents past their retention', batch, maxBatches, (tx) =>
    tx.query(
      `DELETE FROM incidents WHERE id = ANY(ARRAY(
         SELECT id FROM incidents WHERE closed_at < $1 ORDER BY closed_at LIMIT $2 FOR UPDATE SKIP LOCKED))`,
      [closedBefore, batch],
    ),
  );
  const sightings = await inBatches(pool, 'deleting accepted sightings past the dedupe window', batch, maxBatches, (tx) =>
    tx.query(
      `DELETE FROM sightings WHERE seq = ANY(ARRAY(
         SELECT seq FROM sightings WHERE accepted_at < $1 AND applied_at IS NOT NULL ORDER BY accepted_at LIMIT $2 FOR UPDATE SKIP LOCKED))`,
      [acceptedBefore, batch],
    ),
  );
  report.incidents = incidents.deleted;
  report.sightings = sightings.deleted;
  report.batches = incidents.batches + sightings.batches;
  report.more = incidents.more || sightings.more;
  // Bookkeeping ages: a receipt only matters until its item's delete committed (the dedupe window is
  // ample); an idempotency key and a dead letter as long as the history they belong to; a chat claim
  // as long as Webex could redeliver (CHAT_CLAIM_RETENTION_HOURS).
  const ages: Array<[table: string, column: string, before: Date]> = [
    ['outbox_receipts', 'delivered_at', acceptedBefore],
    ['outbox_keys', 'queued_at', closedBefore],
    ['dead_letters', 'failed_at', closedBefore],
    ['chat_claims', 'claimed_at', new Date(now.getTime() - CHAT_CLAIM_RETENTION_HOURS * 3_600_000)],
  ];
  for (const [table, column, before] of ages) {
    const pruned = await inBatches(pool, `deleting old rows of ${table}`, batch, maxBatches, (tx) =>
      tx.query(`DELETE FROM ${table} WHERE ctid = ANY(ARRAY(SELECT ctid FROM ${table} WHERE ${column} < $1 LIMIT $2 FOR UPDATE SKIP LOCKED))`, [before, batch]),
    );
    report.bookkeeping[table] = pruned.deleted;
    report.batches += pruned.batches;
    report.more ||= pruned.more;
  }
  return report;
}

/** Runs `step` in its own transaction until it deletes fewer than `batch` rows, at most `maxBatches` times. */
async function inBatches(
  pool: pg.Pool,
  doing: string,
  batch: number,
  maxBatches: number,
  step: (tx: pg.PoolClient) => Promise<{ rowCount: number | null }>,
): Promise<{ deleted: number; batches: number; more: boolean }> {
  let deleted = 0;
  for (let i = 0; i < maxBatches; i++) {
    const n = (await inTransaction(pool, doing, step)).rowCount ?? 0;
    deleted += n;
    if (n < batch) return { deleted, batches: i + 1, more: false };
  }
  return { deleted, batches: maxBatches, more: true };
}
