/**
 * Migration 9: an applied sighting's body may be dropped. Once counted, a `sightings` row is kept
 * only for its id (an id seen before counts once, for the dedupe window) and its times: the body is
 * in `incident_sightings` (what reads show) and `xdr_ops` (the CTIM the mirror sends). Marking a row
 * applied writes a new version of it (`applied_at` is in `sightings_unapplied`'s predicate, so the
 * update is never HOT); with the body, that was ~1.4 kB of WAL a sighting, as much as accepting it.
 * NEVER edit after release; add the next number instead.
 */
export const sql = `
ALTER TABLE sightings ALTER COLUMN item DROP NOT NULL;
`;
