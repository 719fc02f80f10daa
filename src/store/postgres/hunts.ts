import type pg from 'pg';
import type { HuntRecord, HuntedPost, TalosState } from '../state.js';
import { poolError } from './pool.js';

/**
 * Hunts and the Talos cursors on PostgreSQL (tables of migration 1): hunt records with the
 * threats done, one casebook per hunt and threat, the Talos sources' cursors and the IOCs
 * repo's posts hunted. Small typed reads and writes; each takes the pool or a transaction's
 * client, so a caller can group them (migrate-state imports everything in one transaction).
 * The casebook is claimed through the table's primary key: a hunt resumed on another
 * instance gets the casebook already recorded, never a second one.
 */
export type Db = pg.Pool | pg.ClientBase;

interface HuntRow {
  id: string;
  trigger: HuntRecord['trigger'];
  requested_by: string | null;
  week: string | null;
  uri: string | null;
  source: string;
  started_at: Date;
  finished_at: Date | null;
  status: HuntRecord['status'];
  threats_done: string[];
  summary: string | null;
  error: string | null;
  outcomes: unknown[] | null;
  dry_run: boolean;
}

async function run<R extends pg.QueryResultRow>(db: Db, doing: string, sql: string, params: unknown[] = []): Promise<pg.QueryResult<R>> {
  try {
    return await db.query<R>(sql, params);
  } catch (err) {
    // A client has no URL to name; the pool's error says which server failed.
    throw poolError(db as pg.Pool, err, doing);
  }
}

/**
 * Writes a hunt record (insert, or update of everything but its casebooks). `threatsDone`
 * only grows: a late write of an older copy never forgets a threat another instance finished.
 * Returns true when the row was new.
 */
export async function saveHunt(db: Db, h: HuntRecord): Promise<boolean> {
  const { rows } = await run<{ inserted: boolean }>(
    db,
    'saving a hunt',
    `INSERT INTO hunts (id, trigger, requested_by, week, uri, source, started_at, finished_at, status, threats_done, summary, error, outcomes, dry_run)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
     ON CONFLICT (id) DO UPDATE SET
       finished_at = EXCLUDED.finished_at, status = EXCLUDED.status, summary = EXCLUDED.summary, error = EXCLUDED.error,
       outcomes = EXCLUDED.outcomes, week = EXCLUDED.week, uri = EXCLUDED.uri,
       threats_done = ARRAY(SELECT DISTINCT t FROM unnest(hunts.threats_done || EXCLUDED.threats_done) AS t)
     RETURNING (xmax = 0) AS inserted`,
    [
      h.id,
      h.trigger,
      h.requestedBy ?? null,
      h.week ?? null,
      h.uri ?? null,
      h.source ?? 'roundup',
      h.startedAt,
      h.finishedAt ?? null,
      h.status,
      h.threatsDone,
      h.summary ?? null,
      h.error ?? null,
      h.outcomes === undefined ? null : JSON.stringify(h.outcomes),
      h.dryRun ?? false,
    ],
  );
  for (const [threat, casebookId] of Object.entries(h.casebooks)) await claimCasebook(db, h.id, threat, casebookId);
  return rows[0]?.inserted ?? false;
}

/** Records a threat as done (once) for a hunt. */
export async function markThreatDone(db: Db, huntId: string, threat: string): Promise<void> {
  await run(db, 'recording a hunted threat', `UPDATE hunts SET threats_done = threats_done || $2::text WHERE id = $1 AND NOT ($2 = ANY(threats_done))`, [huntId, threat]);
}

/**
 * The casebook of a hunt and threat: `casebookId` when this call recorded it, else the one
 * recorded before (by this or another instance) — use that one and drop yours.
 */
export async function claimCasebook(db: Db, huntId: string, threat: string, casebookId: string): Promise<string> {
  const { rows } = await run<{ casebook_id: string }>(
    db,
    'recording a hunt casebook',
    `WITH ins AS (INSERT INTO hunt_casebooks (hunt_id, threat, casebook_id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING RETURNING casebook_id)
     SELECT casebook_id FROM ins UNION ALL SELECT casebook_id FROM hunt_casebooks WHERE hunt_id = $1 AND threat = $2`,
    [huntId, threat, casebookId],
  );
  return rows[0]!.casebook_id;
}

/** The casebook recorded for a hunt and threat, if any. */
export async function casebookOf(db: Db, huntId: string, threat: string): Promise<string | undefined> {
  const { rows } = await run<{ casebook_id: string }>(db, 'reading a hunt casebook', 'SELECT casebook_id FROM hunt_casebooks WHERE hunt_id = $1 AND threat = $2', [huntId, threat]);
  return rows[0]?.casebook_id;
}

export async function getHunt(db: Db, id: string): Promise<HuntRecord | undefined> {
  return (await selectHunts(db, 'WHERE id = $1', [id]))[0];
}

/** Hunts still running (oldest first): what a new leader resumes. */
export function runningHunts(db: Db): Promise<HuntRecord[]> {
  return selectHunts(db, "WHERE status = 'running' ORDER BY started_at, id", []);
}

/** The newest hunts first (`hunt status`, the history). */
export function recentHunts(db: Db, limit = 20): Promise<HuntRecord[]> {
  return selectHunts(db, 'ORDER BY started_at DESC, id DESC LIMIT $1', [limit]);
}

async function selectHunts(db: Db, clause: string, params: unknown[]): Promise<HuntRecord[]> {
  const { rows } = await run<HuntRow>(db, 'reading hunts', `SELECT * FROM hunts ${clause}`, params);
  if (rows.length === 0) return [];
  const { rows: books } = await run<{ hunt_id: string; threat: string; casebook_id: string }>(
    db,
    'reading hunt casebooks',
    'SELECT hunt_id, threat, casebook_id FROM hunt_casebooks WHERE hunt_id = ANY($1::text[]) ORDER BY hunt_id, threat',
    [rows.map((r) => r.id)],
  );
  return rows.map((r) => {
    const h: HuntRecord = {
      id: r.id,
      trigger: r.trigger,
      startedAt: r.started_at.toISOString(),
      status: r.status,
      threatsDone: r.threats_done,
      casebooks: Object.fromEntries(books.filter((b) => b.hunt_id === r.id).map((b) => [b.threat, b.casebook_id])),
      source: r.source as NonNullable<HuntRecord['source']>,
    };
    if (r.requested_by !== null) h.requestedBy = r.requested_by;
    if (r.week !== null) h.week = r.week;
    if (r.uri !== null) h.uri = r.uri;
    if (r.finished_at) h.finishedAt = r.finished_at.toISOString();
    if (r.summary !== null) h.summary = r.summary;
    if (r.error !== null) h.error = r.error;
    if (r.outcomes !== null) h.outcomes = r.outcomes;
    if (r.dry_run) h.dryRun = true;
    return h;
  });
}

/**
 * The cursor names in `talos_cursors`, one row per fact of TalosState (the IOCs repo's posts
 * are rows of `talos_posts`). A missing row is an unset field.
 */
export const TALOS_CURSORS = {
  cursorUrlId: 'roundup.cursorUrlId',
  lastHuntedWeek: 'roundup.lastHuntedWeek',
  pendingRetry: 'roundup.pendingRetry',
  scheduleArmedAt: 'schedule.armedAt',
  lastCommit: 'iocsRepo.lastCommit',
  pending: 'iocsRepo.pending',
  etags: 'iocsRepo.etags',
  lastCheckedAt: 'iocsRepo.lastCheckedAt',
} as const;

export async function getCursor<T>(db: Db, name: string): Promise<T | undefined> {
  const { rows } = await run<{ value: T }>(db, 'reading a Talos cursor', 'SELECT value FROM talos_cursors WHERE name = $1', [name]);
  return rows[0]?.value;
}

/** Sets a cursor; `undefined` removes it. */
export async function setCursor(db: Db, name: string, value: unknown): Promise<void> {
  if (value === undefined) {
    await run(db, 'clearing a Talos cursor', 'DELETE FROM talos_cursors WHERE name = $1', [name]);
    return;
  }
  await run(
    db,
    'writing a Talos cursor',
    `INSERT INTO talos_cursors (name, value, updated_at) VALUES ($1, $2::jsonb, now())
     ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value, updated_at = now()`,
    [name, JSON.stringify(value)],
  );
}

/** Records a post hunted (or its newly hunted observables: the list only grows). */
export async function saveHuntedPost(db: Db, key: string, post: HuntedPost): Promise<void> {
  await run(
    db,
    'recording a hunted Talos post',
    `INSERT INTO talos_posts (key, name, link, observables, hunted_at) VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (key) DO UPDATE SET name = EXCLUDED.name, link = EXCLUDED.link, hunted_at = EXCLUDED.hunted_at,
       observables = ARRAY(SELECT DISTINCT o FROM unnest(talos_posts.observables || EXCLUDED.observables) AS o)`,
    [key, post.name, post.link ?? null, post.observables, post.huntedAt],
  );
}

export async function huntedPosts(db: Db): Promise<Record<string, HuntedPost>> {
  const { rows } = await run<{ key: string; name: string; link: string | null; observables: string[]; hunted_at: Date }>(
    db,
    'reading hunted Talos posts',
    'SELECT key, name, link, observables, hunted_at FROM talos_posts ORDER BY hunted_at, key',
  );
  return Object.fromEntries(
    rows.map((r) => [r.key, { name: r.name, ...(r.link !== null ? { link: r.link } : {}), observables: [...r.observables].sort(), huntedAt: r.hunted_at.toISOString() }]),
  );
}

/** The whole TalosState, as the lowdb section reads (posts sorted per post's observables). */
export async function readTalosState(db: Db): Promise<TalosState> {
  const { rows } = await run<{ name: string; value: unknown }>(db, 'reading the Talos cursors', 'SELECT name, value FROM talos_cursors');
  const v = new Map(rows.map((r) => [r.name, r.value]));
  const t: TalosState = {};
  const set = <K extends keyof TalosState>(key: K, name: string) => {
    if (v.has(name)) t[key] = v.get(name) as TalosState[K];
  };
  set('cursorUrlId', TALOS_CURSORS.cursorUrlId);
  set('lastHuntedWeek', TALOS_CURSORS.lastHuntedWeek);
  set('pendingRetry', TALOS_CURSORS.pendingRetry);
  set('scheduleArmedAt', TALOS_CURSORS.scheduleArmedAt);
  const repo: NonNullable<TalosState['iocsRepo']> = {};
  if (v.has(TALOS_CURSORS.lastCommit)) repo.lastCommit = v.get(TALOS_CURSORS.lastCommit) as NonNullable<typeof repo.lastCommit>;
  if (v.has(TALOS_CURSORS.pending)) repo.pending = v.get(TALOS_CURSORS.pending) as NonNullable<typeof repo.pending>;
  if (v.has(TALOS_CURSORS.etags)) repo.etags = v.get(TALOS_CURSORS.etags) as NonNullable<typeof repo.etags>;
  if (v.has(TALOS_CURSORS.lastCheckedAt)) repo.lastCheckedAt = v.get(TALOS_CURSORS.lastCheckedAt) as string;
  const posts = await huntedPosts(db);
  if (Object.keys(posts).length > 0) repo.posts = posts;
  if (Object.keys(repo).length > 0) t.iocsRepo = repo;
  return t;
}

/** Writes every fact of a TalosState (fields absent are removed); returns how many cursors and posts were written. */
export async function writeTalosState(db: Db, t: TalosState): Promise<{ cursors: number; posts: number }> {
  const facts: Array<[string, unknown]> = [
    [TALOS_CURSORS.cursorUrlId, t.cursorUrlId],
    [TALOS_CURSORS.lastHuntedWeek, t.lastHuntedWeek],
    [TALOS_CURSORS.pendingRetry, t.pendingRetry],
    [TALOS_CURSORS.scheduleArmedAt, t.scheduleArmedAt],
    [TALOS_CURSORS.lastCommit, t.iocsRepo?.lastCommit],
    [TALOS_CURSORS.pending, t.iocsRepo?.pending],
    [TALOS_CURSORS.etags, t.iocsRepo?.etags],
    [TALOS_CURSORS.lastCheckedAt, t.iocsRepo?.lastCheckedAt],
  ];
  for (const [name, value] of facts) await setCursor(db, name, value);
  const posts = Object.entries(t.iocsRepo?.posts ?? {});
  for (const [key, post] of posts) await saveHuntedPost(db, key, post);
  return { cursors: facts.filter(([, value]) => value !== undefined).length, posts: posts.length };
}
