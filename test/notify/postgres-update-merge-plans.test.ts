import type pg from 'pg';
import { describe, expect, it } from 'vitest';
import { MERGE_UPDATES_SQL, WAITING_UPDATES_SQL } from '../../src/notify/postgres-notifier.js';
import { testPostgres, useMigratedDatabase } from '../support/postgres.js';

const server = await testPostgres();

interface PlanNode {
  'Relation Name'?: string;
  'Actual Rows'?: number;
  'Actual Loops'?: number;
  'Rows Removed by Filter'?: number;
  Plans?: PlanNode[];
}

/** Rows of `outbox` the statement read (returned by a scan or removed by its filter), over every loop. */
async function outboxRowsRead(client: pg.ClientBase, sql: string, values: unknown[]): Promise<number> {
  await client.query('BEGIN');
  try {
    const { rows } = await client.query<{ 'QUERY PLAN': Array<{ Plan: PlanNode }> }>(`EXPLAIN (ANALYZE, FORMAT JSON) ${sql}`, values);
    let read = 0;
    const walk = (n: PlanNode): void => {
      if (n['Relation Name'] === 'outbox') read += ((n['Actual Rows'] ?? 0) + (n['Rows Removed by Filter'] ?? 0)) * (n['Actual Loops'] ?? 1);
      for (const c of n.Plans ?? []) walk(c);
    };
    walk(rows[0]!['QUERY PLAN'][0]!.Plan);
    return read;
  } finally {
    await client.query('ROLLBACK');
  }
}

/** `n` waiting updates of incidents inc-0 … inc-(n-1) in one room, as the notifier queues them. */
function fill(pool: pg.Pool, n: number): Promise<unknown> {
  return pool.query(
    `INSERT INTO outbox (id, channel, key, payload, created_at, next_attempt_at)
     SELECT 'item-' || g || '-' || md5(random()::text), 'webex', 'Incidents',
            jsonb_build_object('kind', 'incident_updated', 'newSightings', 1, 'crossed', '[]'::jsonb,
                               'incident', jsonb_build_object('id', 'inc-' || g, 'count', 2, 'summary', repeat('x', 400))),
            now(), now()
     FROM generate_series(0, $1::int - 1) g`,
    [n],
  );
}

describe.skipIf(!server)('merging waiting incident updates on PostgreSQL: the statements under stale statistics', () => {
  const db = useMigratedDatabase(server!);

  it('probes each incident (and each merged row) by index, even when the outbox was analyzed empty and then flooded', async () => {
    // The outbox as a queue is seen by ANALYZE: emptied by delivery, its pages still there (no vacuum yet).
    await fill(db.pool, 2_000);
    await db.pool.query('DELETE FROM outbox');
    await db.pool.query('ANALYZE outbox');
    // Then a storm: 2,000 waiting updates, one per incident, before autovacuum's next visit.
    await fill(db.pool, 2_000);
    const ids = Array.from({ length: 20 }, (_, i) => `inc-${i * 97}`);
    const client = await db.pool.connect();
    try {
      await client.query('SET jit = off');
      // The forms they replace, as controls: with these statistics each reads the whole outbox.
      const before = await outboxRowsRead(
        client,
        `SELECT id, channel, key, payload FROM outbox WHERE payload->>'kind' = 'incident_updated' AND payload->'incident'->>'id' = ANY($1::text[]) ORDER BY position FOR UPDATE SKIP LOCKED`,
        [ids],
      );
      expect(before).toBeGreaterThan(1_000);
      expect(await outboxRowsRead(client, WAITING_UPDATES_SQL, [ids])).toBeLessThanOrEqual(ids.length);

      const { rows } = await client.query<{ id: string; payload: { incident: { id: string } } }>(WAITING_UPDATES_SQL, [ids]);
      expect(rows.map((r) => r.payload.incident.id).sort()).toEqual([...ids].sort());
      const merged = Object.fromEntries(rows.map((r) => [r.id, { ...r.payload, newSightings: 7 }]));
      const joined = await outboxRowsRead(
        client,
        'UPDATE outbox o SET payload = v.payload FROM jsonb_to_recordset($1::jsonb) AS v(id text, payload jsonb) WHERE o.id = v.id',
        [JSON.stringify(Object.entries(merged).map(([id, payload]) => ({ id, payload })))],
      );
      expect(joined).toBeGreaterThan(1_000);
      expect(await outboxRowsRead(client, MERGE_UPDATES_SQL, [Object.keys(merged), JSON.stringify(merged)])).toBeLessThanOrEqual(2 * ids.length);

      // And it writes what it is given, to those rows only.
      const { rowCount } = await client.query(MERGE_UPDATES_SQL, [Object.keys(merged), JSON.stringify(merged)]);
      expect(rowCount).toBe(ids.length);
      const after = await client.query<{ n: string }>(`SELECT count(*) AS n FROM outbox WHERE (payload->>'newSightings')::int = 7`);
      expect(Number(after.rows[0]!.n)).toBe(ids.length);
    } finally {
      client.release();
    }
  });
});
