/**
 * Migration 1: the schema for the whole model (src/store/state.ts, src/domain/correlation/types.ts,
 * src/modules/state.ts, the investigate desk). What the lowdb file bounds to stay small (recent
 * sightings, closed incidents, hunts, dead letters) is kept here in full and pruned by retention
 * on time columns, each with its index. Rules that must hold across instances are constraints,
 * not locks in memory: one open incident per target, a sighting id once, a rung once per
 * incident, one casebook per hunt and threat, one pending `patch` per incident.
 * Stored as a TypeScript string so `npm run build` (tsc only) carries it into dist/.
 * NEVER edit after release: the checksum check stops start-up; add migration 2 instead.
 */
export const sql = `
-- The committed sightings log: the PostgreSQL side of the journal (sightings-log.ts).
CREATE TABLE sightings (
  seq          bigserial   PRIMARY KEY,
  id           text        NOT NULL,
  accepted_at  timestamptz NOT NULL DEFAULT now(),
  item         jsonb       NOT NULL,
  applied_at   timestamptz,
  CONSTRAINT sightings_id_once UNIQUE (id)
);
CREATE INDEX sightings_unapplied ON sightings (seq) WHERE applied_at IS NULL;
CREATE INDEX sightings_accepted_at ON sightings (accepted_at);

CREATE SEQUENCE incident_ordinals;
CREATE TABLE incidents (
  id                   text        PRIMARY KEY,
  ordinal              bigint      NOT NULL DEFAULT nextval('incident_ordinals') UNIQUE,
  target_key           text        NOT NULL,
  target_type          text        NOT NULL,
  target_value         text        NOT NULL,
  status               text        NOT NULL,
  count                bigint      NOT NULL DEFAULT 0 CHECK (count >= 0),
  revision             integer     NOT NULL DEFAULT 0,
  first_seen           timestamptz NOT NULL,
  last_seen            timestamptz NOT NULL,
  opened_at            timestamptz NOT NULL,
  closed_at            timestamptz,
  closed_by            text,
  close_reason         text,
  previous_incident_id text        REFERENCES incidents (id) ON DELETE SET NULL,
  xdr_id               text        UNIQUE,
  card_message_id      text,
  -- The bounded summaries the cards and the XDR description show: initial sighting, last IOC
  -- and source, iocs (with counts), iocsTotal, sources, tactics, techniques.
  summary              jsonb       NOT NULL DEFAULT '{}',
  xdr_dropped          integer     NOT NULL DEFAULT 0,
  xdr_unmirrored       integer     NOT NULL DEFAULT 0,
  xdr_last_error       text,
  xdr_last_synced_at   timestamptz
);
ALTER SEQUENCE incident_ordinals OWNED BY incidents.ordinal;
-- One open incident per target, whichever instance opens it.
CREATE UNIQUE INDEX incidents_one_open_per_target ON incidents (target_key) WHERE closed_at IS NULL;
-- The previous incident of a target (the related-to link) and its history.
CREATE INDEX incidents_by_target ON incidents (target_key, ordinal DESC);
-- incidents closed [page]: newest closed first; also what retention deletes by.
CREATE INDEX incidents_closed_page ON incidents (closed_at DESC, ordinal DESC) WHERE closed_at IS NOT NULL;
CREATE INDEX incidents_open_page ON incidents (last_seen DESC, ordinal DESC) WHERE closed_at IS NULL;

-- Every sighting counted into an incident (lowdb keeps the last 50; here all, until retention).
CREATE TABLE incident_sightings (
  incident_id text        NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
  seq         bigint      NOT NULL,
  observed_at timestamptz NOT NULL,
  ioc_type    text        NOT NULL,
  ioc_value   text        NOT NULL,
  source      text        NOT NULL,
  PRIMARY KEY (incident_id, seq)
);
CREATE INDEX incident_sightings_ioc ON incident_sightings (ioc_type, ioc_value);

-- Ladder rungs: fired once per incident, whichever instance counted the crossing sighting.
CREATE TABLE incident_rungs (
  incident_id text        NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
  rung        text        NOT NULL,
  count       bigint      NOT NULL,
  at          timestamptz NOT NULL,
  actions     text[]      NOT NULL,
  dry_run     boolean     NOT NULL,
  outcome     text,
  PRIMARY KEY (incident_id, rung)
);

-- XDR changes waiting, per incident in id order; taken by any instance with FOR UPDATE SKIP LOCKED.
CREATE TABLE xdr_ops (
  id              bigserial   PRIMARY KEY,
  incident_id     text        NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
  kind            text        NOT NULL CHECK (kind IN ('create_incident', 'sighting', 'patch', 'relate_previous', 'status')),
  seq             bigint,
  ctim            jsonb,
  xdr_sighting_id text,
  previous_incident_id text,
  status          text,
  attempts        integer     NOT NULL DEFAULT 0,
  last_error      text,
  next_attempt_at timestamptz NOT NULL DEFAULT now(),
  created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX xdr_ops_due ON xdr_ops (next_attempt_at, id);
CREATE INDEX xdr_ops_by_incident ON xdr_ops (incident_id, id);
-- A patch is rendered from the incident when it runs, so one waiting per incident is enough.
CREATE UNIQUE INDEX xdr_ops_one_patch ON xdr_ops (incident_id) WHERE kind = 'patch';

CREATE TABLE xdr_dead_letters (
  id          bigserial   PRIMARY KEY,
  incident_id text        NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
  op_id       bigint      NOT NULL,
  kind        text        NOT NULL,
  seq         bigint,
  reason      text        NOT NULL,
  attempts    integer     NOT NULL,
  at          timestamptz NOT NULL
);
CREATE INDEX xdr_dead_letters_at ON xdr_dead_letters (at);

-- Notifications waiting: FIFO per (channel, key) by position; one deliverer per queue head.
CREATE TABLE outbox (
  id              text        PRIMARY KEY,
  position        bigserial   NOT NULL UNIQUE,
  channel         text        NOT NULL,
  key             text        NOT NULL,
  payload         jsonb       NOT NULL,
  created_at      timestamptz NOT NULL,
  attempts        integer     NOT NULL DEFAULT 0,
  next_attempt_at timestamptz NOT NULL,
  last_error      text,
  dedupe_key      text        UNIQUE
);
CREATE INDEX outbox_queue ON outbox (channel, key, position);
CREATE INDEX outbox_due ON outbox (next_attempt_at);
-- Idempotency keys of notifications queued before (a resumed hunt never posts a card twice).
CREATE TABLE outbox_keys (
  dedupe_key text        PRIMARY KEY,
  queued_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX outbox_keys_queued_at ON outbox_keys (queued_at);
-- Delivery receipts: written before the item leaves the queue, so a crash never delivers twice.
CREATE TABLE outbox_receipts (
  item_id      text        PRIMARY KEY,
  delivered_at timestamptz NOT NULL DEFAULT now(),
  message_id   text
);
CREATE INDEX outbox_receipts_delivered_at ON outbox_receipts (delivered_at);
CREATE TABLE dead_letters (
  id         text        PRIMARY KEY,
  channel    text        NOT NULL,
  key        text        NOT NULL,
  kind       text        NOT NULL,
  subject    text,
  reason     text        NOT NULL,
  created_at timestamptz NOT NULL,
  failed_at  timestamptz NOT NULL,
  attempts   integer     NOT NULL,
  payload    jsonb       NOT NULL
);
CREATE INDEX dead_letters_failed_at ON dead_letters (failed_at DESC);

CREATE TABLE hunts (
  id           text        PRIMARY KEY,
  trigger      text        NOT NULL,
  requested_by text,
  week         text,
  uri          text,
  source       text        NOT NULL DEFAULT 'roundup',
  started_at   timestamptz NOT NULL,
  finished_at  timestamptz,
  status       text        NOT NULL CHECK (status IN ('running', 'finished', 'failed', 'not_published')),
  threats_done text[]      NOT NULL DEFAULT '{}',
  summary      text,
  error        text,
  outcomes     jsonb,
  dry_run      boolean     NOT NULL DEFAULT false
);
CREATE INDEX hunts_started_at ON hunts (started_at DESC);
CREATE INDEX hunts_running ON hunts (status) WHERE status = 'running';
-- One casebook per hunt and threat: a resumed hunt (on any instance) finds it instead of making a second.
CREATE TABLE hunt_casebooks (
  hunt_id     text NOT NULL REFERENCES hunts (id) ON DELETE CASCADE,
  threat      text NOT NULL,
  casebook_id text NOT NULL,
  PRIMARY KEY (hunt_id, threat)
);

-- Talos sources' cursors and schedule facts (cursorUrlId, lastHuntedWeek, pendingRetry,
-- scheduleArmedAt, the IOCs repo's lastCommit / pending batch / etags), one row per name.
CREATE TABLE talos_cursors (
  name       text        PRIMARY KEY,
  value      jsonb       NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);
-- IOCs-repo posts hunted before, with the observables already hunted (lowdb bounds them).
CREATE TABLE talos_posts (
  key         text        PRIMARY KEY,
  name        text        NOT NULL,
  link        text,
  observables text[]      NOT NULL DEFAULT '{}',
  hunted_at   timestamptz NOT NULL
);
CREATE INDEX talos_posts_hunted_at ON talos_posts (hunted_at);

-- Webex room title -> room id.
CREATE TABLE rooms (
  title   text PRIMARY KEY,
  room_id text NOT NULL
);

-- What the RSS and X modules remember: per module instance (a feed URL, "x"), and items seen.
CREATE TABLE module_state (
  module     text        NOT NULL,
  instance   text        NOT NULL,
  state      jsonb       NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (module, instance)
);
CREATE TABLE module_seen (
  module   text        NOT NULL,
  instance text        NOT NULL,
  item_id  text        NOT NULL,
  seen_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (module, instance, item_id)
);
CREATE INDEX module_seen_seen_at ON module_seen (seen_at);

-- The investigate desk: response actions offered on cards, confirmations pending, actions run.
CREATE TABLE investigate_offers (
  id         text        PRIMARY KEY,
  offer      jsonb       NOT NULL,
  offered_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX investigate_offers_offered_at ON investigate_offers (offered_at);
CREATE TABLE investigate_confirmations (
  id         text        PRIMARY KEY,
  status     text        NOT NULL,
  detail     jsonb       NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX investigate_confirmations_created_at ON investigate_confirmations (created_at);
CREATE TABLE investigate_actions (
  id     bigserial   PRIMARY KEY,
  at     timestamptz NOT NULL,
  record jsonb       NOT NULL
);
CREATE INDEX investigate_actions_at ON investigate_actions (at DESC);
`;
