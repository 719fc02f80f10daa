import type pg from 'pg';
import { StoreError } from '../../core/errors.js';
import { observedTime } from '../../domain/correlation/correlator.js';
import { readCorrelation, type Incident, type SightingRecord } from '../../domain/correlation/types.js';
import { readModulesState } from '../../modules/state.js';
import type { JournalEntry } from '../journal/journal.js';
import type { DeadLetter, OutboxItem, State } from '../state.js';
import { CONTROL_CHANNEL, controlDocumentOf } from './control-store.js';
import { summaryOf } from './incident-rows.js';
import { inTransaction } from './pool.js';

/**
 * Imports a lowdb state (the file parsed by the store's own `parseState`, plus its journal
 * entries and delivery receipts) into PostgreSQL, in ONE transaction, keeping ids, ordinals,
 * XDR ids and op ids. Every insert is ON CONFLICT DO NOTHING and an incident's children
 * (sightings, rungs, XDR ops and dead letters) are written only with the incident itself, so
 * a second run of the same file imports nothing — and, after the app has worked on the
 * database, cannot put back an XDR op or outbox item already done there.
 *
 * Hunts, Talos cursors and posts, rooms, module state and the investigate desk go into the
 * control document (control-store.ts) as the file has them, and only into a document that is
 * still empty (a start of the app on the database may have armed the schedule: that alone
 * does not count); a rerun, or a database the app already keeps them in, leaves it as it is.
 *
 * A database holding incidents or hunts the file does not know is another state: refused
 * before anything is written (mixing two states would make two open incidents for a target).
 */
export interface ImportInput {
  state: State;
  /** Journal entries (applied ones too: their ids keep deduplicating redeliveries). */
  journal: JournalEntry[];
  /** Ids of outbox items already delivered (`<STATE_FILE>.delivered`). */
  delivered: string[];
  /** Outbox items sent in part (a card per target): how many of their messages are out (`<id>#<n>` lines of the same file). */
  partsSent?: [string, number][];
  /** Where the state came from, for the refusal sentence. */
  source: string;
}

export type ImportCounts = Record<ImportKind, number>;

export const IMPORT_KINDS = [
  'incidents',
  'incident sightings',
  'rungs fired',
  'XDR changes waiting',
  'XDR dead letters',
  'previous-incident links',
  'sightings not yet applied',
  'sightings applied (for deduplication)',
  'hunts',
  'casebooks',
  'Talos cursors',
  'Talos posts',
  'rooms',
  'module states',
  'module items seen',
  'outbox items waiting',
  'outbox keys',
  'delivery receipts',
  'outbox items sent in part',
  'dead letters',
  'investigate offers',
  'investigate confirmations',
  'investigate actions',
] as const;
export type ImportKind = (typeof IMPORT_KINDS)[number];

export interface ImportResult {
  counts: ImportCounts;
  /** Sum of counts: 0 when the file was imported before. */
  total: number;
  /** Links to incidents the lowdb file had already pruned (MAX_CLOSED_INCIDENTS): not kept. */
  danglingLinks: number;
  /** The file has hunts, cursors, rooms, module state or desk entries, and the document already had its own: kept as it was. */
  controlKept: boolean;
}

/** Imports `input` in one transaction; throws a StoreError (nothing written) for a database holding another state. */
export async function importState(pool: pg.Pool, input: ImportInput): Promise<ImportResult> {
  return inTransaction(pool, 'importing the lowdb state', async (tx) => {
    const counts = Object.fromEntries(IMPORT_KINDS.map((k) => [k, 0])) as ImportCounts;
    const corr = readCorrelation(input.state);
    const incidents = Object.values(corr.incidents).sort((a, b) => a.ordinal - b.ordinal);
    await refuseForeign(tx, input, incidents.map((i) => i.id), await controlDocument(tx, false));

    // Incidents first (links afterwards: the previous one may be later in the file, or pruned from it).
    const openIds = new Set(Object.values(corr.openByTarget));
    const inserted: Array<{ id: string }> = [];
    for (const part of chunks(incidents)) {
      const { rows } = await tx.query<{ id: string }>(
        `INSERT INTO incidents (id, ordinal, target_key, target_type, target_value, status, count, revision, first_seen, last_seen, opened_at,
                                closed_at, closed_by, close_reason, xdr_id, card_message_id, summary, xdr_dropped, xdr_unmirrored,
                                xdr_last_error, xdr_last_synced_at)
         SELECT r.id, r.ordinal, r.target_key, r.target_type, r.target_value, r.status, r.count, r.revision, r.first_seen, r.last_seen,
                r.opened_at, r.closed_at, r.closed_by, r.close_reason, r.xdr_id, r.card_message_id, r.summary, r.xdr_dropped,
                r.xdr_unmirrored, r.xdr_last_error, r.xdr_last_synced_at
         FROM jsonb_to_recordset($1::jsonb) AS r(id text, ordinal bigint, target_key text, target_type text, target_value text, status text,
              count bigint, revision int, first_seen timestamptz, last_seen timestamptz, opened_at timestamptz, closed_at timestamptz,
              closed_by text, close_reason text, xdr_id text, card_message_id text, summary jsonb, xdr_dropped int, xdr_unmirrored int,
              xdr_last_error text, xdr_last_synced_at timestamptz)
         ORDER BY r.ordinal
         ON CONFLICT DO NOTHING
         RETURNING id`,
        [JSON.stringify(part.map((inc) => incidentRow(inc, openIds.has(inc.id))))],
      );
      inserted.push(...rows);
    }
    counts.incidents = inserted.length;
    const fresh = new Set(inserted.map((r) => r.id));
    const newIncidents = incidents.filter((i) => fresh.has(i.id));

    const links = newIncidents.filter((i) => i.previousIncidentId).map((i) => ({ id: i.id, previous: i.previousIncidentId! }));
    if (links.length > 0) {
      const { rowCount } = await tx.query(
        `UPDATE incidents i SET previous_incident_id = l.previous
         FROM jsonb_to_recordset($1::jsonb) AS l(id text, previous text)
         WHERE i.id = l.id AND EXISTS (SELECT 1 FROM incidents p WHERE p.id = l.previous)`,
        [JSON.stringify(links)],
      );
      counts['previous-incident links'] = rowCount ?? 0;
    }
    const danglingLinks = links.length - counts['previous-incident links'];

    counts['incident sightings'] = await insertRows(
      tx,
      'incident_sightings (incident_id, seq, observed_at, ioc_type, ioc_value, source)',
      'incident_id text, seq bigint, observed_at timestamptz, ioc_type text, ioc_value text, source text',
      newIncidents.flatMap((inc) => sightingsOf(inc).map((s) => ({ incident_id: inc.id, seq: s.seq, observed_at: observedTime(s.observedAt, new Date(inc.lastSeen)), ioc_type: s.ioc.type, ioc_value: s.ioc.value, source: s.source }))),
    );
    counts['rungs fired'] = await insertRows(
      tx,
      'incident_rungs (incident_id, rung, count, at, actions, dry_run, outcome)',
      'incident_id text, rung text, count bigint, at timestamptz, actions text[], dry_run boolean, outcome text',
      newIncidents.flatMap((inc) => inc.rungsFired.map((r) => ({ incident_id: inc.id, rung: r.rung, count: r.count, at: r.at, actions: r.actions, dry_run: r.dryRun, outcome: r.outcome ?? null }))),
    );
    counts['XDR changes waiting'] = await insertRows(
      tx,
      'xdr_ops (id, incident_id, kind, seq, ctim, xdr_sighting_id, previous_incident_id, status, attempts, last_error)',
      'id bigint, incident_id text, kind text, seq bigint, ctim jsonb, xdr_sighting_id text, previous_incident_id text, status text, attempts int, last_error text',
      newIncidents.flatMap((inc) =>
        inc.xdrSync.pending.map((op) => ({
          id: op.id,
          incident_id: inc.id,
          kind: op.kind,
          seq: op.kind === 'sighting' ? op.seq : null,
          ctim: op.kind === 'sighting' ? op.ctim : null,
          xdr_sighting_id: op.kind === 'sighting' ? (op.xdrSightingId ?? null) : null,
          previous_incident_id: op.kind === 'relate_previous' ? op.previousIncidentId : null,
          status: op.kind === 'status' ? op.status : null,
          attempts: op.attempts,
          last_error: op.lastError ?? null,
        })),
      ),
    );
    counts['XDR dead letters'] = await insertRows(
      tx,
      'xdr_dead_letters (incident_id, op_id, kind, seq, reason, attempts, at)',
      'incident_id text, op_id bigint, kind text, seq bigint, reason text, attempts int, at timestamptz',
      newIncidents.flatMap((inc) => (inc.xdrSync.deadLetters ?? []).map((d) => ({ incident_id: inc.id, op_id: d.opId, kind: d.kind, seq: d.seq ?? null, reason: d.reason, attempts: d.attempts, at: d.at }))),
    );

    // The journal: sightings the correlator had not applied are applied by the PostgreSQL store;
    // applied ones are kept as applied rows so a redelivery within the dedupe window counts once.
    // A seq already counted into an imported incident is never put back as unapplied.
    const unappliedSeqs = input.journal.filter((e) => e.seq > corr.lastAppliedSeq).map((e) => e.seq);
    const counted = new Set(
      unappliedSeqs.length === 0
        ? []
        : (await tx.query<{ seq: string }>('SELECT seq FROM incident_sightings WHERE seq = ANY($1::bigint[])', [unappliedSeqs])).rows.map((r) => Number(r.seq)),
    );
    const journal = input.journal
      .filter((e) => !counted.has(e.seq))
      .map((e) => ({ seq: e.seq, id: e.item.dedupeKey, accepted_at: new Date(e.at).toISOString(), item: e.item, applied: e.seq <= corr.lastAppliedSeq }));
    for (const part of chunks(journal)) {
      const { rows } = await tx.query<{ applied: boolean }>(
        `INSERT INTO sightings (seq, id, accepted_at, item, applied_at)
         SELECT r.seq, r.id, r.accepted_at, r.item, CASE WHEN r.applied THEN now() END
         FROM jsonb_to_recordset($1::jsonb) AS r(seq bigint, id text, accepted_at timestamptz, item jsonb, applied boolean)
         ORDER BY r.seq
         ON CONFLICT DO NOTHING
         RETURNING applied_at IS NOT NULL AS applied`,
        [JSON.stringify(part)],
      );
      const applied = rows.filter((r) => r.applied).length;
      counts['sightings applied (for deduplication)'] += applied;
      counts['sightings not yet applied'] += rows.length - applied;
    }

    // Sequences past everything imported: new incidents, sightings and ops never reuse a number.
    const maxSeq = input.journal.reduce((m, e) => Math.max(m, e.seq), corr.lastAppliedSeq);
    await tx.query(
      `SELECT setval('incident_ordinals', GREATEST((SELECT COALESCE(max(ordinal), 0) FROM incidents), $1::bigint, 1)),
              setval(pg_get_serial_sequence('sightings', 'seq'), GREATEST((SELECT COALESCE(max(seq), 0) FROM sightings), (SELECT COALESCE(max(seq), 0) FROM incident_sightings), $2::bigint, 1)),
              setval(pg_get_serial_sequence('xdr_ops', 'id'), GREATEST((SELECT COALESCE(max(id), 0) FROM xdr_ops), $3::bigint, 1))`,
      [corr.nextOrdinal - 1, maxSeq, corr.nextOpId - 1],
    );

    // Receipts before the outbox: an item delivered (here or by the app since) is not queued again.
    counts['delivery receipts'] = await insertRows(tx, 'outbox_receipts (item_id)', 'item_id text', input.delivered.map((id) => ({ item_id: id })));
    counts['outbox items waiting'] = await insertOutbox(tx, input.state.outbox ?? []);
    counts['outbox items sent in part'] = await insertRows(tx, 'outbox_parts (item_id, sent)', 'item_id text, sent int', partsOfQueued(input));
    counts['outbox keys'] = await insertRows(tx, 'outbox_keys (dedupe_key)', 'dedupe_key text', (input.state.outboxKeys ?? []).map((k) => ({ dedupe_key: k })));
    counts['dead letters'] = await insertRows(
      tx,
      'dead_letters (id, channel, key, kind, subject, reason, created_at, failed_at, attempts, payload)',
      'id text, channel text, key text, kind text, subject text, reason text, created_at timestamptz, failed_at timestamptz, attempts int, payload jsonb',
      // The start-up schema does not check this section: fill what a hand-edited entry lacks rather than fail the whole import.
      ((input.state.outboxDead ?? []) as Partial<DeadLetter>[])
        .filter((d) => typeof d.id === 'string')
        .map((d) => {
          const failedAt = d.failedAt ?? d.createdAt ?? new Date(0).toISOString();
          return {
            id: d.id,
            channel: d.channel ?? 'unknown',
            key: d.key ?? '',
            kind: d.kind ?? 'unknown',
            subject: d.subject ?? null,
            reason: d.reason ?? 'unknown',
            created_at: d.createdAt ?? failedAt,
            failed_at: failedAt,
            attempts: d.attempts ?? 0,
            payload: d.payload ?? {},
          };
        }),
    );

    // Hunts, cursors, rooms, module state, the desk: into the control document, only while it is empty.
    // Locked last, so a running instance's write waits only for the end of the import (then loads the result).
    const doc = await controlDocument(tx, true);
    const fileControl = controlCounts(input.state);
    const fileHasControl = Object.values(fileControl).some((n) => n > 0);
    const controlKept = fileHasControl && !isEmptyControl(doc);
    if (fileHasControl && isEmptyControl(doc)) {
      const imported = controlDocumentOf(input.state) as unknown as State;
      // A start of the app armed the schedule: the file's older time wins, else the database's is kept.
      imported.talos = { ...doc.talos, ...input.state.talos };
      await tx.query('UPDATE control_state SET doc = $1::jsonb, revision = revision + 1, updated_at = now() WHERE id = 1', [JSON.stringify(imported)]);
      await tx.query('SELECT pg_notify($1, revision::text) FROM control_state WHERE id = 1', [CONTROL_CHANNEL]);
      Object.assign(counts, fileControl);
    }

    const total = Object.values(counts).reduce((a, b) => a + b, 0);
    return { counts, total, danglingLinks, controlKept };
  });
}

async function controlDocument(tx: pg.ClientBase, lock: boolean): Promise<State> {
  const { rows } = await tx.query<{ doc: State }>(`SELECT doc FROM control_state WHERE id = 1${lock ? ' FOR UPDATE' : ''}`);
  if (!rows[0]) throw new StoreError('store_corrupt', 'The control document (table control_state) has no row; it is made by schema migration 4, so import into a new database.');
  return rows[0].doc;
}

/** Refuses a database holding incidents or hunts this file does not have: that is another state. */
async function refuseForeign(tx: pg.ClientBase, input: ImportInput, incidentIds: string[], doc: State): Promise<void> {
  const { rows } = await tx.query<{ incidents: string; sightings: string }>(
    // Anti-joins against the file's ids (hashed), so a rerun of a large state stays linear.
    `SELECT (SELECT count(*) FROM incidents t WHERE NOT EXISTS (SELECT 1 FROM unnest($1::text[]) AS k(id) WHERE k.id = t.id)) AS incidents,
            (SELECT count(*) FROM sightings t WHERE NOT EXISTS (SELECT 1 FROM unnest($2::text[]) AS k(id) WHERE k.id = t.id)) AS sightings`,
    [incidentIds, input.journal.map((e) => e.item.dedupeKey)],
  );
  const fileHunts = new Set(input.state.hunts.map((h) => h.id));
  const r = { ...rows[0]!, hunts: (doc.hunts ?? []).filter((h) => !fileHunts.has(h.id)).length };
  const foreign = [
    Number(r.incidents) > 0 ? `${r.incidents} incident(s)` : '',
    Number(r.hunts) > 0 ? `${r.hunts} hunt(s)` : '',
    Number(r.sightings) > 0 ? `${r.sightings} sighting(s)` : '',
  ].filter(Boolean);
  if (foreign.length > 0) {
    throw new StoreError(
      'conflict',
      `The database already holds a different state (${foreign.join(', ')} not in ${input.source}), so nothing was imported; import into an empty database (createdb a new one), or drop this one if its data is not needed.`,
      { httpStatus: 409 },
    );
  }
}

function incidentRow(inc: Incident, open: boolean): Record<string, unknown> {
  // Open is what the lowdb index says; a closed incident without a close time is closed at its last sighting.
  const closedAt = open ? null : (inc.closedAt ?? inc.lastSeen);
  return {
    id: inc.id,
    ordinal: inc.ordinal,
    target_key: inc.targetKey,
    target_type: inc.targetType,
    target_value: inc.targetValue,
    status: inc.status,
    count: inc.count,
    revision: inc.revision,
    first_seen: inc.firstSeen,
    last_seen: inc.lastSeen,
    opened_at: inc.openedAt,
    closed_at: closedAt,
    closed_by: inc.closedBy ?? null,
    close_reason: inc.closeReason ?? null,
    xdr_id: inc.xdrId ?? null,
    card_message_id: inc.cardMessageId ?? null,
    summary: summaryOf(inc),
    xdr_dropped: inc.xdrSync.dropped,
    xdr_unmirrored: inc.xdrSync.unmirrored ?? 0,
    xdr_last_error: inc.xdrSync.lastError ?? null,
    xdr_last_synced_at: inc.xdrSync.lastSyncedAt ?? null,
  };
}

/** The sightings lowdb kept of an incident: the initial one and the recent ones (each once). */
function sightingsOf(inc: Incident): SightingRecord[] {
  const bySeq = new Map<number, SightingRecord>();
  for (const s of [inc.initial, ...inc.recentSightings]) bySeq.set(s.seq, s);
  return [...bySeq.values()];
}

/** Rows per statement: one JSON parameter of a large state's 100,000s of rows would be hundreds of MB. */
const CHUNK = 5000;

function chunks<T>(rows: T[]): T[][] {
  const out: T[][] = [];
  for (let from = 0; from < rows.length; from += CHUNK) out.push(rows.slice(from, from + CHUNK));
  return out;
}

/** Progress only for items still queued in the file (an item delivered or dead-lettered needs none). */
function partsOfQueued(input: ImportInput): { item_id: string; sent: number }[] {
  const queued = new Set((input.state.outbox ?? []).map((i) => i.id));
  return (input.partsSent ?? []).filter(([id]) => queued.has(id)).map(([id, sent]) => ({ item_id: id, sent }));
}

/** INSERT … SELECT FROM jsonb_to_recordset … ON CONFLICT DO NOTHING, in the order given; returns rows inserted. */
async function insertRows(tx: pg.ClientBase, table: string, columns: string, rows: Record<string, unknown>[]): Promise<number> {
  if (rows.length === 0) return 0;
  const [target, targetCols] = [table.replace(/\s*\(.*$/, ''), table.match(/\((.*)\)/)![1]!];
  const select = targetCols.split(',').map((c) => `r.${c.trim()}`).join(', ');
  let inserted = 0;
  for (const part of chunks(rows)) {
    const { rowCount } = await tx.query(
      `INSERT INTO ${target} (${targetCols}) SELECT ${select} FROM jsonb_to_recordset($1::jsonb) AS r(${columns}, n bigint) ORDER BY r.n ON CONFLICT DO NOTHING`,
      [JSON.stringify(part.map((row, n) => ({ ...row, n })))],
    );
    inserted += rowCount ?? 0;
  }
  return inserted;
}

async function insertOutbox(tx: pg.ClientBase, items: OutboxItem[]): Promise<number> {
  if (items.length === 0) return 0;
  const { rowCount } = await tx.query(
    `INSERT INTO outbox (id, channel, key, payload, created_at, attempts, next_attempt_at, last_error, dedupe_key)
     SELECT r.id, r.channel, r.key, COALESCE(r.payload, 'null'::jsonb), r.created_at, r.attempts, r.next_attempt_at, r.last_error, r.dedupe_key
     FROM jsonb_to_recordset($1::jsonb) AS r(id text, channel text, key text, payload jsonb, created_at timestamptz,
          attempts int, next_attempt_at timestamptz, last_error text, dedupe_key text, n bigint)
     WHERE NOT EXISTS (SELECT 1 FROM outbox_receipts d WHERE d.item_id = r.id)
     ORDER BY r.n
     ON CONFLICT DO NOTHING`,
    [
      JSON.stringify(
        items.map((i, n) => ({
          n,
          id: i.id,
          channel: i.channel,
          key: i.key,
          payload: i.payload ?? null,
          created_at: i.createdAt,
          attempts: i.attempts,
          next_attempt_at: i.nextAttemptAt,
          last_error: i.lastError ?? null,
          dedupe_key: i.dedupeKey ?? null,
        })),
      ),
    ],
  );
  return rowCount ?? 0;
}

/**
 * The control document holds nothing the import would bring: no hunts, rooms, module state,
 * desk, or Talos facts but `scheduleArmedAt` (which every start of the app writes).
 */
function isEmptyControl(doc: State): boolean {
  const d = doc as State & Record<string, unknown>;
  const filled = (v: unknown) => v !== undefined && v !== null && (typeof v !== 'object' || Object.keys(v).length > 0);
  return (
    (d.hunts ?? []).length === 0 &&
    !filled(d.rooms) &&
    !filled(d.modules) &&
    !filled(d.investigate) &&
    Object.keys(d.talos ?? {}).every((k) => k === 'scheduleArmedAt')
  );
}

/** What the file's control sections hold, counted as the report names them. */
function controlCounts(state: State): Pick<ImportCounts, ControlKind> {
  const t = state.talos ?? {};
  const repo = t.iocsRepo ?? {};
  const modules = readModulesState(state);
  const desk = (typeof state.investigate === 'object' && state.investigate !== null ? state.investigate : {}) as DeskSection;
  return {
    hunts: state.hunts.length,
    casebooks: state.hunts.reduce((n, h) => n + Object.keys(h.casebooks).length, 0),
    'Talos cursors': [t.cursorUrlId, t.lastHuntedWeek, t.pendingRetry, t.scheduleArmedAt, repo.lastCommit, repo.pending, repo.etags, repo.lastCheckedAt].filter((v) => v !== undefined).length,
    'Talos posts': Object.keys(repo.posts ?? {}).length,
    rooms: Object.keys(state.rooms ?? {}).length,
    'module states': Object.keys(modules.rss).length + (Object.keys(modules.x).length > 0 ? 1 : 0),
    'module items seen': Object.values(modules.rss).reduce((n, feed) => n + new Set(feed.seen).size, 0),
    'investigate offers': Object.values(desk.offers ?? {}).filter((o) => typeof o?.id === 'string').length,
    'investigate confirmations': Object.values(desk.confirmations ?? {}).filter((c) => typeof c?.id === 'string' && typeof c.status === 'string').length,
    'investigate actions': (desk.records ?? []).filter((r) => typeof r?.at === 'string').length,
  };
}

type ControlKind =
  | 'hunts'
  | 'casebooks'
  | 'Talos cursors'
  | 'Talos posts'
  | 'rooms'
  | 'module states'
  | 'module items seen'
  | 'investigate offers'
  | 'investigate confirmations'
  | 'investigate actions';

interface DeskSection {
  offers?: Record<string, { id: string; offeredAt?: string }>;
  confirmations?: Record<string, { id: string; status: string; requestedAt?: string }>;
  records?: Array<{ id?: string; at: string }>;
}
