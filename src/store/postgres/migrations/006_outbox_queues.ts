/**
 * Migration 6: the outbox's queues as rows (issue 15, ingest figures).
 *
 * - `outbox_queues`: one row per (channel, key) queue. A sender claims a queue by locking its row
 *   (`FOR NO KEY UPDATE SKIP LOCKED`) instead of the head row of `outbox`, so a queue held by a
 *   sender (sending, or waiting on the Webex throttle) costs the other searches one skipped row
 *   instead of a walk through the whole queue. `backoff_until` is the latest retry time of the
 *   queue's failed items (NULL: none): the queue waits as a whole until then.
 * - Triggers keep the table in step with `outbox` in the writer's own transaction, whoever
 *   writes (the store, the state import, an operator's SQL):
 *   insert: the queue's row exists and is held FOR KEY SHARE until commit (that lock does not
 *     conflict with a sender's, so queueing never waits for a send; it stops `pruneQueues`
 *     deleting the row under an uncommitted item);
 *   a change of attempts / next_attempt_at, or the delete of a failed item: `backoff_until`
 *     recomputed from the queue's failed items (the outbox_backing_off index);
 *   truncate: the queue rows go too.
 *   A queue left empty keeps its row (a room's queue empties and refills all day) until the
 *   store's `pruneQueues` deletes it.
 * - The coalescing lookup (a waiting update of the same incident) becomes an index probe.
 * NEVER edit after release; add the next number instead.
 */
export const sql = `
CREATE TABLE outbox_queues (
  channel       text        NOT NULL,
  key           text        NOT NULL,
  backoff_until timestamptz,
  PRIMARY KEY (channel, key)
);
INSERT INTO outbox_queues (channel, key, backoff_until)
  SELECT channel, key, max(next_attempt_at) FILTER (WHERE attempts > 0) FROM outbox GROUP BY channel, key;

CREATE FUNCTION outbox_queues_backoff(p_channel text, p_key text) RETURNS void LANGUAGE sql AS $fn$
  UPDATE outbox_queues q SET backoff_until = (
    SELECT max(o.next_attempt_at) FROM outbox o WHERE o.channel = p_channel AND o.key = p_key AND o.attempts > 0)
  WHERE q.channel = p_channel AND q.key = p_key;
$fn$;

CREATE FUNCTION outbox_queues_on_insert() RETURNS trigger LANGUAGE plpgsql AS $fn$
DECLARE
  wanted integer;
  held integer;
  queue record;
BEGIN
  SELECT count(*) INTO wanted FROM (SELECT DISTINCT channel, key FROM new_rows) w;
  -- A row deleted by pruneQueues between the insert and the lock is inserted again (bounded).
  FOR attempt IN 1..10 LOOP
    INSERT INTO outbox_queues (channel, key)
      SELECT DISTINCT channel, key FROM new_rows ORDER BY 1, 2
      ON CONFLICT (channel, key) DO NOTHING;
    SELECT count(*) INTO held FROM (
      SELECT 1 FROM outbox_queues q JOIN (SELECT DISTINCT channel, key FROM new_rows) w USING (channel, key)
      ORDER BY q.channel, q.key FOR KEY SHARE OF q) l;
    EXIT WHEN held = wanted;
    IF attempt = 10 THEN
      RAISE EXCEPTION 'outbox_queues: could not hold the queue rows of new outbox items';
    END IF;
  END LOOP;
  -- Items inserted already backing off (the state import): their queues wait.
  FOR queue IN SELECT DISTINCT channel, key FROM new_rows WHERE attempts > 0 LOOP
    PERFORM outbox_queues_backoff(queue.channel, queue.key);
  END LOOP;
  RETURN NULL;
END;
$fn$;
CREATE TRIGGER outbox_queues_insert AFTER INSERT ON outbox
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION outbox_queues_on_insert();

CREATE FUNCTION outbox_queues_on_retry() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  IF TG_OP = 'DELETE' THEN
    PERFORM outbox_queues_backoff(OLD.channel, OLD.key);
  ELSE
    PERFORM outbox_queues_backoff(NEW.channel, NEW.key);
  END IF;
  RETURN NULL;
END;
$fn$;
CREATE TRIGGER outbox_queues_retry AFTER UPDATE OF attempts, next_attempt_at ON outbox
  FOR EACH ROW WHEN (OLD.attempts IS DISTINCT FROM NEW.attempts OR OLD.next_attempt_at IS DISTINCT FROM NEW.next_attempt_at)
  EXECUTE FUNCTION outbox_queues_on_retry();
CREATE TRIGGER outbox_queues_failed_gone AFTER DELETE ON outbox
  FOR EACH ROW WHEN (OLD.attempts > 0) EXECUTE FUNCTION outbox_queues_on_retry();

CREATE FUNCTION outbox_queues_on_truncate() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  DELETE FROM outbox_queues;
  RETURN NULL;
END;
$fn$;
CREATE TRIGGER outbox_queues_truncate AFTER TRUNCATE ON outbox
  FOR EACH STATEMENT EXECUTE FUNCTION outbox_queues_on_truncate();

CREATE INDEX outbox_waiting_updates ON outbox ((payload->'incident'->>'id')) WHERE payload->>'kind' = 'incident_updated';
`;
