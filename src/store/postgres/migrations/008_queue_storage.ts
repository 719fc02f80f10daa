/**
 * Migration 8: storage settings for the tables that behave as queues (issue 15, "Dead rows, plans
 * and JIT" in docs/POSTGRES.md). Each `xdr_ops` row is inserted, updated and deleted within
 * seconds; outbox items too; each `sightings` row is inserted then marked applied; counting
 * rewrites the open incidents' rows. PostgreSQL's defaults vacuum a table once a fifth of it is
 * dead and analyze it once a tenth changed: a queue that grew from nothing in a flood is then
 * planned as empty, and its dead versions stay in its indexes for every scan to step over.
 *
 * - Queue tables (`xdr_ops`, `outbox`, `outbox_queues`): vacuum and analyze after a few hundred
 *   changed rows whatever the table's size (scale factor 0), without the cost delay (the tables
 *   are small: a vacuum is short, and a throttled one falls behind the churn).
 * - Tables that are mostly history (`sightings`, `incidents`): a small scale factor (1 %, 2 % to
 *   analyze) instead of 0: each vacuum also scans their indexes, which grow with the history.
 * - fillfactor where an update can be HOT (heap-only: no new index entries, and the old version is
 *   pruned by the next reader of the page, no vacuum needed). Only updates that change no indexed
 *   column (nor one in an index's predicate or expression) can be:
 *     xdr_ops: the mirror's "being sent" mark and sighting ids (last_error, xdr_sighting_id,
 *       attempts) can; next_attempt_at (xdr_ops_due) cannot. 50: a row carries its CTIM body
 *       (about 1 kB), and a claim marks its sightings in one statement, so every row of a page
 *       needs room for its new version at once (70 made a third of the marks HOT in the test).
 *     outbox_queues: backoff_until is not indexed; a small table of one row per room. 50.
 *     outbox: none can (payload is in outbox_waiting_updates' expression, attempts in
 *       outbox_backing_off's predicate, next_attempt_at in outbox_due): default.
 *     sightings: applied_at is in sightings_unapplied's predicate: default.
 *     incidents: counting changes last_seen (incidents_open_page): default (and it is history).
 *   A new fillfactor applies to pages written from now on; the queue tables turn over in seconds.
 * - `xdr_ops.incident_id`: its number of distinct values fixed at 5 % of the rows (about 20 ops per
 *   incident: XDR_MIRROR_NEWEST_SIGHTINGS sightings and a patch), whatever ANALYZE samples. Analyzed
 *   at a quiet moment (the bench's preload: one incident's ops), the statistics said every row had the
 *   same incident, and each per-incident read (a batch's waiting ops, the claim's first-op probe, the
 *   heads of new ops) was planned as a walk of the whole primary key, filtered: 3.3 s for a batch's
 *   read of 300 incidents' ops with two instances, 14 ms with this setting (EXPLAIN ANALYZE, same
 *   rows). It takes effect at the next ANALYZE: run here.
 * The naptime between autovacuum's visits (autovacuum_naptime, 1 min by default) is a server
 * setting no table can change: see docs/POSTGRES.md for what an operator may set.
 * Every statement is idempotent and takes only SHARE UPDATE EXCLUSIVE (no write waits for it).
 * NEVER edit after release; add the next number instead.
 */
export const sql = `
ALTER TABLE xdr_ops SET (
  fillfactor = 50,
  autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 500,
  autovacuum_vacuum_insert_scale_factor = 0, autovacuum_vacuum_insert_threshold = 1000,
  autovacuum_analyze_scale_factor = 0, autovacuum_analyze_threshold = 500,
  autovacuum_vacuum_cost_delay = 0
);
ALTER TABLE xdr_ops ALTER COLUMN incident_id SET (n_distinct = -0.05);
ANALYZE xdr_ops;
ALTER TABLE outbox SET (
  autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 500,
  autovacuum_vacuum_insert_scale_factor = 0, autovacuum_vacuum_insert_threshold = 1000,
  autovacuum_analyze_scale_factor = 0, autovacuum_analyze_threshold = 500,
  autovacuum_vacuum_cost_delay = 0
);
ALTER TABLE outbox_queues SET (
  fillfactor = 50,
  autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 200,
  autovacuum_analyze_scale_factor = 0, autovacuum_analyze_threshold = 200,
  autovacuum_vacuum_cost_delay = 0
);
ALTER TABLE sightings SET (
  autovacuum_vacuum_scale_factor = 0.01, autovacuum_vacuum_threshold = 1000,
  autovacuum_analyze_scale_factor = 0.02, autovacuum_analyze_threshold = 1000,
  autovacuum_vacuum_cost_delay = 0
);
ALTER TABLE incidents SET (
  autovacuum_vacuum_scale_factor = 0.01, autovacuum_vacuum_threshold = 1000,
  autovacuum_analyze_scale_factor = 0.02, autovacuum_analyze_threshold = 1000,
  autovacuum_vacuum_cost_delay = 0
);
`;
