/**
 * Migration 4: the control document (control-store.ts). Hunts, Talos cursors and posts, rooms,
 * the RSS/X modules' memory and the investigate desk are small and rarely written, and the code
 * that keeps them (HuntRunner, TalosPostsHunt, RoomDirectory, the modules, the response-action
 * desk) works on the `State` object through `Store.update`. They live in ONE jsonb row, changed
 * read-modify-write under its row lock, so that code runs unchanged on several instances.
 *
 * The per-fact tables of migration 1 for the same facts (hunts, hunt_casebooks, talos_cursors,
 * talos_posts, rooms, module_state, module_seen, investigate_*) were never used by the app; only
 * `migrate-state` wrote them. What they hold is copied into the document first (same shape as
 * the lowdb sections), then they are dropped, so a database prepared by an earlier migrate-state
 * loses nothing.
 * NEVER edit after release; add migration 5 (or the next free number) instead.
 */
export const sql = `
-- Helpers for the copy, gone with this session: ISO times as JavaScript writes them, and an
-- object without its null members (only the top level: values such as hunt outcomes are kept as they are).
CREATE FUNCTION pg_temp.iso(t timestamptz) RETURNS text LANGUAGE sql IMMUTABLE
  AS $$ SELECT to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') $$;
CREATE FUNCTION pg_temp.present(j jsonb) RETURNS jsonb LANGUAGE sql IMMUTABLE
  AS $$ SELECT COALESCE(jsonb_object_agg(key, value), '{}'::jsonb) FROM jsonb_each(j) WHERE value <> 'null'::jsonb $$;
CREATE FUNCTION pg_temp.cursor(n text) RETURNS jsonb LANGUAGE sql STABLE
  AS $$ SELECT value FROM talos_cursors WHERE name = n $$;

CREATE TABLE control_state (
  id         smallint    PRIMARY KEY DEFAULT 1 CHECK (id = 1),
  doc        jsonb       NOT NULL,
  -- Bumped by every write: an instance whose copy has another revision loads the row first.
  revision   bigint      NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);

INSERT INTO control_state (id, revision, doc)
SELECT 1, CASE WHEN facts = '{}'::jsonb THEN 0 ELSE 1 END,
       jsonb_build_object('version', 1, 'talos', '{}'::jsonb, 'hunts', '[]'::jsonb, 'rooms', '{}'::jsonb) || facts
FROM (
  SELECT pg_temp.present(jsonb_build_object(
    'hunts', (SELECT jsonb_agg(
                pg_temp.present(jsonb_build_object(
                  'id', h.id, 'trigger', h.trigger, 'requestedBy', h.requested_by, 'week', h.week, 'uri', h.uri,
                  'startedAt', pg_temp.iso(h.started_at), 'finishedAt', pg_temp.iso(h.finished_at), 'status', h.status,
                  'threatsDone', to_jsonb(h.threats_done),
                  'casebooks', COALESCE((SELECT jsonb_object_agg(c.threat, c.casebook_id) FROM hunt_casebooks c WHERE c.hunt_id = h.id), '{}'::jsonb),
                  'summary', h.summary, 'error', h.error, 'outcomes', h.outcomes,
                  'dryRun', CASE WHEN h.dry_run THEN true END, 'source', h.source))
                ORDER BY h.started_at, h.id)
              FROM hunts h),
    'talos', NULLIF(pg_temp.present(jsonb_build_object(
               'cursorUrlId', pg_temp.cursor('roundup.cursorUrlId'),
               'lastHuntedWeek', pg_temp.cursor('roundup.lastHuntedWeek'),
               'pendingRetry', pg_temp.cursor('roundup.pendingRetry'),
               'scheduleArmedAt', pg_temp.cursor('schedule.armedAt'),
               'iocsRepo', NULLIF(pg_temp.present(jsonb_build_object(
                 'lastCommit', pg_temp.cursor('iocsRepo.lastCommit'),
                 'pending', pg_temp.cursor('iocsRepo.pending'),
                 'etags', pg_temp.cursor('iocsRepo.etags'),
                 'lastCheckedAt', pg_temp.cursor('iocsRepo.lastCheckedAt'),
                 'posts', (SELECT jsonb_object_agg(p.key, pg_temp.present(jsonb_build_object('name', p.name, 'link', p.link,
                             'observables', to_jsonb(p.observables), 'huntedAt', pg_temp.iso(p.hunted_at)))) FROM talos_posts p))),
                 '{}'::jsonb))),
             '{}'::jsonb),
    'rooms', (SELECT jsonb_object_agg(title, room_id) FROM rooms),
    'modules', NULLIF(pg_temp.present(jsonb_build_object(
                 'rss', (SELECT jsonb_object_agg(m.instance, m.state || jsonb_build_object('seen',
                           COALESCE((SELECT jsonb_agg(s.item_id ORDER BY s.seen_at, s.item_id) FROM module_seen s
                                     WHERE s.module = 'rss' AND s.instance = m.instance), '[]'::jsonb)))
                         FROM module_state m WHERE m.module = 'rss'),
                 'x', (SELECT m.state FROM module_state m WHERE m.module = 'x' AND m.instance = 'x'))),
               '{}'::jsonb),
    'investigate', NULLIF(pg_temp.present(jsonb_build_object(
                     'offers', (SELECT jsonb_object_agg(id, offer) FROM investigate_offers),
                     'confirmations', (SELECT jsonb_object_agg(id, detail) FROM investigate_confirmations),
                     'records', (SELECT jsonb_agg(record ORDER BY at, id) FROM investigate_actions))),
                   '{}'::jsonb)
  )) AS facts
) AS copied;

DROP TABLE hunt_casebooks, hunts, talos_cursors, talos_posts, rooms, module_state, module_seen,
           investigate_offers, investigate_confirmations, investigate_actions;
-- The session applies later migrations too: leave no helper behind for them to trip on.
DROP FUNCTION pg_temp.iso(timestamptz), pg_temp.present(jsonb), pg_temp.cursor(text);
`;
