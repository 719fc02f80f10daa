import type pg from 'pg';
import { prepared } from './pool.js';
import type { Observable } from '../../domain/types.js';
import { MAX_RECENT_SIGHTINGS, type Incident, type RungRecord, type SeenIoc, type SightingRecord, type XdrOp } from '../../domain/correlation/types.js';

/**
 * Rows of `incidents` (+ `incident_rungs`, `incident_sightings`, `xdr_ops`) to and from the
 * domain's `Incident`, so describe.ts / toIncidentView render a PostgreSQL incident exactly as a
 * lowdb one. What the domain bounds per incident (initial, IOCs, sources, MITRE ids) travels as
 * the `summary` jsonb; counters and times are columns (paging and retention use them). The
 * recent sightings are NOT in the summary: every sighting is a row of `incident_sightings`
 * already, and keeping 50 of them in the jsonb made each count rewrite kilobytes (the UPDATE was
 * most of the cost of applying a batch); reads take the newest from the table instead.
 */
export interface IncidentSummary {
  initial: SightingRecord;
  lastIoc: Observable;
  lastSource: string;
  iocs: SeenIoc[];
  iocsTotal: number;
  sources: Record<string, number>;
  tactics?: string[];
  techniques?: string[];
}

export interface IncidentRow {
  id: string;
  ordinal: string;
  target_key: string;
  target_type: string;
  target_value: string;
  status: string;
  count: string;
  revision: number;
  first_seen: Date;
  last_seen: Date;
  opened_at: Date;
  closed_at: Date | null;
  closed_by: string | null;
  close_reason: string | null;
  previous_incident_id: string | null;
  xdr_id: string | null;
  card_message_id: string | null;
  summary: IncidentSummary;
  xdr_dropped: number;
  xdr_unmirrored: number;
  xdr_last_error: string | null;
  xdr_last_synced_at: Date | null;
}

/** The incident's columns, for `SELECT … FROM incidents` (unaliased); the card's message id from its own table (migration 7) first. */
export const INCIDENT_COLUMNS =
  'id, ordinal, target_key, target_type, target_value, status, count, revision, first_seen, last_seen, opened_at, closed_at, closed_by, close_reason, ' +
  'previous_incident_id, xdr_id, COALESCE((SELECT c.message_id FROM incident_cards c WHERE c.incident_id = incidents.id), card_message_id) AS card_message_id, ' +
  'summary, xdr_dropped, xdr_unmirrored, xdr_last_error, xdr_last_synced_at';

export function summaryOf(inc: Incident): IncidentSummary {
  return {
    initial: inc.initial,
    lastIoc: inc.lastIoc,
    lastSource: inc.lastSource,
    iocs: inc.iocs,
    iocsTotal: inc.iocsTotal,
    sources: inc.sources,
    ...(inc.tactics ? { tactics: inc.tactics } : {}),
    ...(inc.techniques ? { techniques: inc.techniques } : {}),
  };
}

/** The row as an Incident; rungs and the XDR ops waiting are added by the caller when it loaded them. */
export function incidentOf(row: IncidentRow, rungs: RungRecord[] = [], pending: XdrOp[] = [], recent: SightingRecord[] = []): Incident {
  const s = row.summary;
  const inc: Incident = {
    id: row.id,
    ordinal: Number(row.ordinal),
    targetKey: row.target_key,
    targetType: row.target_type,
    targetValue: row.target_value,
    status: row.status,
    count: Number(row.count),
    revision: row.revision,
    firstSeen: row.first_seen.toISOString(),
    lastSeen: row.last_seen.toISOString(),
    openedAt: row.opened_at.toISOString(),
    initial: s.initial,
    recentSightings: recent,
    lastIoc: s.lastIoc,
    lastSource: s.lastSource,
    iocs: s.iocs ?? [],
    iocsTotal: s.iocsTotal ?? 0,
    sources: s.sources ?? {},
    rungsFired: rungs,
    xdrSync: { pending, dropped: row.xdr_dropped },
  };
  if (row.closed_at) inc.closedAt = row.closed_at.toISOString();
  if (row.closed_by) inc.closedBy = row.closed_by;
  if (row.close_reason) inc.closeReason = row.close_reason;
  if (row.previous_incident_id) inc.previousIncidentId = row.previous_incident_id;
  if (row.xdr_id) inc.xdrId = row.xdr_id;
  if (row.card_message_id) inc.cardMessageId = row.card_message_id;
  if (s.tactics) inc.tactics = s.tactics;
  if (s.techniques) inc.techniques = s.techniques;
  if (row.xdr_unmirrored) inc.xdrSync.unmirrored = row.xdr_unmirrored;
  if (row.xdr_last_error) inc.xdrSync.lastError = row.xdr_last_error;
  if (row.xdr_last_synced_at) inc.xdrSync.lastSyncedAt = row.xdr_last_synced_at.toISOString();
  return inc;
}

interface SightingRow {
  incident_id: string;
  seq: string;
  observed_at: Date;
  ioc_type: string;
  ioc_value: string;
  source: string;
}

/**
 * The domain's `recentSightings` of each incident: its newest MAX_RECENT_SIGHTINGS sightings
 * other than the initial one, oldest first (by seq, i.e. arrival). One index range per incident
 * (the primary key, backwards), so the cost does not grow with the incident's count.
 */
export async function loadRecentSightings(db: pg.ClientBase | pg.Pool, incidents: Array<{ id: string; initial: SightingRecord }>): Promise<Map<string, SightingRecord[]>> {
  const out = new Map<string, SightingRecord[]>();
  if (incidents.length === 0) return out;
  const { rows } = await db.query<SightingRow>(
    `SELECT s.incident_id, s.seq, s.observed_at, s.ioc_type, s.ioc_value, s.source
     FROM unnest($1::text[], $2::bigint[]) AS k(id, initial_seq)
     CROSS JOIN LATERAL (
       SELECT * FROM incident_sightings s WHERE s.incident_id = k.id AND s.seq <> k.initial_seq ORDER BY s.seq DESC LIMIT $3) AS s
     ORDER BY s.incident_id, s.seq`,
    [incidents.map((i) => i.id), incidents.map((i) => i.initial.seq), MAX_RECENT_SIGHTINGS],
  );
  for (const r of rows) {
    const list = out.get(r.incident_id) ?? [];
    list.push({ seq: Number(r.seq), observedAt: r.observed_at.toISOString(), ioc: { type: r.ioc_type, value: r.ioc_value }, source: r.source });
    out.set(r.incident_id, list);
  }
  return out;
}

interface RungRow {
  incident_id: string;
  rung: string;
  count: string;
  at: Date;
  actions: string[];
  dry_run: boolean;
  outcome: string | null;
}

/** The rungs fired of each incident, in the order they fired. */
export async function loadRungs(db: pg.ClientBase | pg.Pool, ids: string[]): Promise<Map<string, RungRecord[]>> {
  const out = new Map<string, RungRecord[]>();
  if (ids.length === 0) return out;
  // Not a prepared statement: its generic plan (the array's length unknown) read the whole table, 5× the time a call in the bench.
  const { rows } = await db.query<RungRow>(
    'SELECT incident_id, rung, count, at, actions, dry_run, outcome FROM incident_rungs WHERE incident_id = ANY($1::text[]) ORDER BY at, count',
    [ids],
  );
  for (const r of rows) {
    const rec: RungRecord = { rung: r.rung, count: Number(r.count), at: r.at.toISOString(), actions: r.actions, dryRun: r.dry_run };
    if (r.outcome !== null) rec.outcome = r.outcome;
    const list = out.get(r.incident_id) ?? [];
    list.push(rec);
    out.set(r.incident_id, list);
  }
  return out;
}

/** An `xdr_ops` row as read (its CTIM body only where the read asked for it). */
export interface OpRow {
  id: string;
  incident_id?: string;
  kind: XdrOp['kind'];
  seq: string | null;
  ctim?: Record<string, unknown> | null;
  xdr_sighting_id: string | null;
  previous_incident_id: string | null;
  status: string | null;
  attempts: number;
  last_error: string | null;
}

/** The op a row holds (an empty body when the row was read without it). */
export function opOf(r: OpRow): XdrOp {
  const base = { id: Number(r.id), attempts: r.attempts, ...(r.last_error ? { lastError: r.last_error } : {}) };
  switch (r.kind) {
    case 'sighting':
      return { ...base, kind: 'sighting', seq: Number(r.seq), ctim: r.ctim ?? {}, ...(r.xdr_sighting_id ? { xdrSightingId: r.xdr_sighting_id } : {}) };
    case 'relate_previous':
      return { ...base, kind: 'relate_previous', previousIncidentId: r.previous_incident_id ?? '' };
    case 'status':
      return { ...base, kind: 'status', status: r.status ?? '' };
    default:
      return { ...base, kind: r.kind };
  }
}

/** New ops as rows for `xdr_ops` (ids come from its sequence, in the order given). */
export function opRow(incidentId: string, op: XdrOp): Record<string, unknown> {
  return {
    incident_id: incidentId,
    kind: op.kind,
    seq: op.kind === 'sighting' ? op.seq : null,
    ctim: op.kind === 'sighting' ? op.ctim : null,
    previous_incident_id: op.kind === 'relate_previous' ? op.previousIncidentId : null,
    status: op.kind === 'status' ? op.status : null,
  };
}

/**
 * Inserts ops in the order given (one statement); a second waiting `patch` of an incident is skipped
 * by its unique index. An op joining a queue whose first op waits (XDR's Retry-After, a backoff) is
 * due no sooner than that op: ops wait in order anyway, and ops due behind a head that is not would
 * each be looked at by every claim's search (see xdr-queue.ts).
 */
export async function insertOps(db: pg.ClientBase, rows: Record<string, unknown>[]): Promise<void> {
  if (rows.length === 0) return;
  await db.query(prepared(
    `WITH input AS (SELECT e, n FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS t(e, n)),
     heads AS (
       SELECT k.incident_id, h.next_attempt_at FROM (SELECT DISTINCT e->>'incident_id' AS incident_id FROM input) k
       CROSS JOIN LATERAL (SELECT x.next_attempt_at FROM xdr_ops x WHERE x.incident_id = k.incident_id ORDER BY x.incident_id, x.id LIMIT 1) h
     )
     INSERT INTO xdr_ops (incident_id, kind, seq, ctim, previous_incident_id, status, next_attempt_at)
     SELECT e->>'incident_id', e->>'kind', (e->>'seq')::bigint, NULLIF(e->'ctim', 'null'::jsonb), e->>'previous_incident_id', e->>'status',
            greatest(now(), heads.next_attempt_at)
     FROM input LEFT JOIN heads ON heads.incident_id = input.e->>'incident_id' ORDER BY n
     ON CONFLICT DO NOTHING`,
    [JSON.stringify(rows)],
  ));
}
