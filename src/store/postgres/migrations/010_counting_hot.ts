/**
 * Migration 10: counting a sighting into an open incident can be a HOT update (heap-only: no new
 * index entry; the old version is pruned by the next reader of the page). It could not: `last_seen`,
 * which nearly every count moves, was a key of `incidents_open_page`, so each count wrote a new
 * entry into all seven indexes of `incidents` — the ingest's most expensive statement (1.3 kB of
 * WAL an incident in the bench), and every lookup by target then stepped over the dead entries.
 *
 * Without that index, the open list (`incidents open`, and the leader's status sync paging open
 * incidents) sorts the open incidents for each page: bounded by what is open, not by history, and
 * found by `incidents_one_open_per_target` (same predicate). fillfactor 90 leaves room on each page
 * for a row's next version (a row is ~1 kB with its summary), at 10 % of the history's size.
 * A new fillfactor applies to pages written from now on. NEVER edit after release; add the next number.
 */
export const sql = `
DROP INDEX IF EXISTS incidents_open_page;
ALTER TABLE incidents SET (fillfactor = 90);
`;
