/**
 * Migration 3: delivery on any instance (outbox.ts, xdr-queue.ts).
 * - `outbox.dedupe_key` was unique across the table, but one notification is queued once per
 *   interested channel (Webex and e-mail) with the same idempotency key, so the second channel's
 *   row was refused. "Queued once" is `outbox_keys`' primary key; here the key is unique per channel.
 * - A queue whose item is backing off after a failure waits as a whole: this finds such items
 *   per queue by index instead of reading the whole queue for each delivery.
 * - The mirror's claim looks for incidents by their first waiting op (index on incident, id exists).
 * NEVER edit after release; add migration 4 (or the next free number) instead.
 */
export const sql = `
ALTER TABLE outbox DROP CONSTRAINT outbox_dedupe_key_key;
ALTER TABLE outbox ADD CONSTRAINT outbox_dedupe_once_per_channel UNIQUE (dedupe_key, channel);
CREATE INDEX outbox_backing_off ON outbox (channel, key) WHERE attempts > 0;
`;
