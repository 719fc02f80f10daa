import type pg from 'pg';
import { poolError } from './pool.js';

/**
 * Rooms, the RSS/X modules' memory and the investigate desk on PostgreSQL (tables of
 * migration 1): small typed reads and writes taking the pool or a transaction's client.
 * What lowdb bounds by count (items seen, offers, action records) is kept by time here;
 * retention prunes it.
 */
export type Db = pg.Pool | pg.ClientBase;

async function run<R extends pg.QueryResultRow>(db: Db, doing: string, sql: string, params: unknown[] = []): Promise<pg.QueryResult<R>> {
  try {
    return await db.query<R>(sql, params);
  } catch (err) {
    throw poolError(db as pg.Pool, err, doing);
  }
}

/** Webex room title → room id. */
export async function setRoom(db: Db, title: string, roomId: string): Promise<void> {
  await run(db, 'recording a Webex room', 'INSERT INTO rooms (title, room_id) VALUES ($1, $2) ON CONFLICT (title) DO UPDATE SET room_id = EXCLUDED.room_id', [title, roomId]);
}

export async function getRoom(db: Db, title: string): Promise<string | undefined> {
  return (await run<{ room_id: string }>(db, 'reading a Webex room', 'SELECT room_id FROM rooms WHERE title = $1', [title])).rows[0]?.room_id;
}

export async function allRooms(db: Db): Promise<Record<string, string>> {
  const { rows } = await run<{ title: string; room_id: string }>(db, 'reading the Webex rooms', 'SELECT title, room_id FROM rooms ORDER BY title');
  return Object.fromEntries(rows.map((r) => [r.title, r.room_id]));
}

/** One module instance's remembered state (an RSS feed by URL, the X search as "x"). */
export async function setModuleState(db: Db, module: string, instance: string, state: unknown): Promise<void> {
  await run(
    db,
    'writing module state',
    `INSERT INTO module_state (module, instance, state, updated_at) VALUES ($1, $2, $3::jsonb, now())
     ON CONFLICT (module, instance) DO UPDATE SET state = EXCLUDED.state, updated_at = now()`,
    [module, instance, JSON.stringify(state)],
  );
}

export async function getModuleState<T>(db: Db, module: string, instance: string): Promise<T | undefined> {
  return (await run<{ state: T }>(db, 'reading module state', 'SELECT state FROM module_state WHERE module = $1 AND instance = $2', [module, instance])).rows[0]?.state;
}

/** Every instance's state of a module. */
export async function moduleStates<T>(db: Db, module: string): Promise<Record<string, T>> {
  const { rows } = await run<{ instance: string; state: T }>(db, 'reading module state', 'SELECT instance, state FROM module_state WHERE module = $1 ORDER BY instance', [module]);
  return Object.fromEntries(rows.map((r) => [r.instance, r.state]));
}

/** Marks items seen; returns those not seen before (in the order given), the ones to investigate. */
export async function markSeen(db: Db, module: string, instance: string, itemIds: readonly string[]): Promise<string[]> {
  if (itemIds.length === 0) return [];
  const { rows } = await run<{ item_id: string }>(
    db,
    'recording items seen',
    `INSERT INTO module_seen (module, instance, item_id)
     SELECT $1, $2, i FROM unnest($3::text[]) WITH ORDINALITY AS t(i, n) ORDER BY n
     ON CONFLICT DO NOTHING RETURNING item_id`,
    [module, instance, itemIds],
  );
  const fresh = new Set(rows.map((r) => r.item_id));
  return [...new Set(itemIds)].filter((id) => fresh.has(id));
}

/** Items seen by a module instance, oldest first. */
export async function seenItems(db: Db, module: string, instance: string): Promise<string[]> {
  const { rows } = await run<{ item_id: string }>(
    db,
    'reading items seen',
    'SELECT item_id FROM module_seen WHERE module = $1 AND instance = $2 ORDER BY seen_at, item_id',
    [module, instance],
  );
  return rows.map((r) => r.item_id);
}

/** An action offered on an investigate card (kept as the desk wrote it). */
export async function saveOffer(db: Db, offer: { id: string; offeredAt?: string }): Promise<boolean> {
  const { rowCount } = await run(
    db,
    'recording an offered action',
    'INSERT INTO investigate_offers (id, offer, offered_at) VALUES ($1, $2::jsonb, COALESCE($3::timestamptz, now())) ON CONFLICT (id) DO NOTHING',
    [offer.id, JSON.stringify(offer), offer.offeredAt ?? null],
  );
  return rowCount === 1;
}

export async function getOffer<T>(db: Db, id: string): Promise<T | undefined> {
  return (await run<{ offer: T }>(db, 'reading an offered action', 'SELECT offer FROM investigate_offers WHERE id = $1', [id])).rows[0]?.offer;
}

/** A confirmation (pending → running → done/cancelled); its status is a column so a claim can be one conditional UPDATE. */
export async function saveConfirmation(db: Db, c: { id: string; status: string; requestedAt?: string }): Promise<void> {
  await run(
    db,
    'recording an action confirmation',
    `INSERT INTO investigate_confirmations (id, status, detail, created_at) VALUES ($1, $2, $3::jsonb, COALESCE($4::timestamptz, now()))
     ON CONFLICT (id) DO UPDATE SET status = EXCLUDED.status, detail = EXCLUDED.detail`,
    [c.id, c.status, JSON.stringify(c), c.requestedAt ?? null],
  );
}

export async function getConfirmation<T>(db: Db, id: string): Promise<T | undefined> {
  return (await run<{ detail: T }>(db, 'reading an action confirmation', 'SELECT detail FROM investigate_confirmations WHERE id = $1', [id])).rows[0]?.detail;
}

/** Appends the record of an action run. */
export async function recordAction(db: Db, record: { at: string }): Promise<void> {
  await run(db, 'recording an action run', 'INSERT INTO investigate_actions (at, record) VALUES ($1, $2::jsonb)', [record.at, JSON.stringify(record)]);
}

/** Actions run, newest first. */
export async function recentActions<T>(db: Db, limit = 50): Promise<T[]> {
  return (await run<{ record: T }>(db, 'reading actions run', 'SELECT record FROM investigate_actions ORDER BY at DESC, id DESC LIMIT $1', [limit])).rows.map((r) => r.record);
}
