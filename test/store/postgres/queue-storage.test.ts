import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate } from '../../../src/store/postgres/migrate.js';
import { MIGRATIONS } from '../../../src/store/postgres/migrations/index.js';
import { createPool } from '../../../src/store/postgres/pool.js';
import { createTestDatabase, testPostgres, type TestDatabase } from '../../support/postgres.js';

const server = await testPostgres();

/** Each table's storage parameters as name -> value (pg_class.reloptions). */
async function reloptions(pool: pg.Pool): Promise<Record<string, Record<string, string>>> {
  const { rows } = await pool.query<{ relname: string; reloptions: string[] | null }>(
    `SELECT relname, reloptions FROM pg_class WHERE relnamespace = 'public'::regnamespace AND relkind = 'r' AND relname = ANY($1::text[])`,
    [['xdr_ops', 'outbox', 'outbox_queues', 'sightings', 'incidents', 'incident_sightings']],
  );
  return Object.fromEntries(rows.map((r) => [r.relname, Object.fromEntries((r.reloptions ?? []).map((o) => o.split('=') as [string, string]))]));
}

describe.skipIf(!server)('migration 8: storage settings of the queue tables', () => {
  let db: TestDatabase;
  let pool: pg.Pool;
  beforeAll(async () => {
    db = await createTestDatabase(server!);
    pool = createPool({ url: db.url });
  });
  afterAll(async () => {
    await pool?.end();
    await db?.drop();
  });

  it('vacuums and analyzes the queue tables after a few hundred changed rows, whatever their size, and leaves room for HOT updates', async () => {
    // Migrated up to 7 first: a database of the release before, as an operator's would be.
    await migrate(pool, { migrations: MIGRATIONS.filter((m) => m.version < 8) });
    expect((await reloptions(pool)).xdr_ops).toEqual({});
    expect(await migrate(pool, { migrations: MIGRATIONS.filter((m) => m.version <= 8) })).toEqual({ applied: [8], version: 8 });
    const opts = await reloptions(pool);
    for (const table of ['xdr_ops', 'outbox', 'outbox_queues']) {
      expect(opts[table]).toMatchObject({ autovacuum_vacuum_scale_factor: '0', autovacuum_analyze_scale_factor: '0', autovacuum_vacuum_cost_delay: '0' });
      expect(Number(opts[table]!.autovacuum_vacuum_threshold)).toBeLessThanOrEqual(500);
      expect(Number(opts[table]!.autovacuum_analyze_threshold)).toBeLessThanOrEqual(500);
    }
    // History tables: a small scale factor (each vacuum scans indexes that grow with the history).
    for (const table of ['sightings', 'incidents']) {
      expect(Number(opts[table]!.autovacuum_vacuum_scale_factor)).toBeGreaterThan(0);
      expect(Number(opts[table]!.autovacuum_vacuum_scale_factor)).toBeLessThanOrEqual(0.01);
      expect(opts[table]!.autovacuum_vacuum_cost_delay).toBe('0');
    }
    expect(Number(opts.xdr_ops!.fillfactor)).toBeLessThan(100);
    expect(Number(opts.outbox_queues!.fillfactor)).toBeLessThan(100);
    // Insert-only history is left to PostgreSQL's defaults.
    expect(opts.incident_sightings).toEqual({});
  });

  it('finds nothing to do the next time, and its statements can run again without error', async () => {
    const before = await reloptions(pool);
    expect(await migrate(pool, { migrations: MIGRATIONS.filter((m) => m.version <= 8) })).toEqual({ applied: [], version: 8 });
    const m8 = MIGRATIONS.find((m) => m.version === 8)!;
    await pool.query(m8.sql);
    expect(await reloptions(pool)).toEqual(before);
  });

  it('lets the mirror mark a claim\'s ops as being sent without new index entries (HOT updates)', async () => {
    await pool.query(`INSERT INTO incidents (id, target_key, target_type, target_value, status, first_seen, last_seen, opened_at)
      VALUES ('inc-hot', 'endpoint:hot', 'endpoint', 'hot', 'New', now(), now(), now())`);
    // The same rows in a table with the same indexes and the default fillfactor: what the setting changes.
    await pool.query('CREATE TABLE xdr_ops_default (LIKE xdr_ops INCLUDING DEFAULTS INCLUDING INDEXES)');
    for (const table of ['xdr_ops', 'xdr_ops_default']) {
      // A claim's 20 sighting ops with CTIM bodies of about a kilobyte.
      await pool.query(`INSERT INTO ${table} (incident_id, kind, seq, ctim) SELECT 'inc-hot', 'sighting', g, jsonb_build_object('title', repeat('x', 900)) FROM generate_series(1, 20) g`);
    }
    const hotUpdates = async (table: string): Promise<{ upd: number; hot: number }> => {
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        // As the claim's "being sent" mark: last_error only, every op of the claim in one statement.
        await client.query(`UPDATE ${table} SET last_error = 'sending' WHERE incident_id = 'inc-hot'`);
        const { rows } = await client.query<{ upd: string; hot: string }>(`SELECT n_tup_upd AS upd, n_tup_hot_upd AS hot FROM pg_stat_xact_user_tables WHERE relname = $1`, [table]);
        await client.query('ROLLBACK');
        return { upd: Number(rows[0]!.upd), hot: Number(rows[0]!.hot) };
      } finally {
        client.release();
      }
    };
    expect(await hotUpdates('xdr_ops')).toEqual({ upd: 20, hot: 20 });
    const control = await hotUpdates('xdr_ops_default');
    expect(control.upd).toBe(20);
    expect(control.hot).toBeLessThan(10);
  });

  /**
   * Ops read by incident, as the store's statements do (insertOps' heads, the claim's ops): planned on
   * the statistics of a queue table that grew within seconds, `incident_id = ANY(…) ORDER BY id` read it
   * all (20 ms a batch in the two-instance bench), and so did this LATERAL once ANALYZE had seen one
   * incident's ops (every row then looked like a match): 3.3 s a batch, until migration 8.
   */
  const OPS_OF_INCIDENTS_SQL = `SELECT o.id, o.incident_id, o.kind FROM unnest($1::text[]) AS k(incident_id)
     CROSS JOIN LATERAL (SELECT * FROM xdr_ops x WHERE x.incident_id = k.incident_id ORDER BY x.incident_id, x.id) o`;

  it('reads waiting ops by incident even when ANALYZE last saw a single incident\'s ops', async () => {
    const incidents = Array.from({ length: 300 }, (_, i) => `inc-nd-${i}`);
    await pool.query(
      `INSERT INTO incidents (id, target_key, target_type, target_value, status, first_seen, last_seen, opened_at)
       SELECT id, 'endpoint:' || id, 'endpoint', id, 'New', now(), now(), now() FROM unnest($1::text[]) AS id`,
      [incidents],
    );
    // The same table without the column setting, for comparison.
    await pool.query('CREATE TABLE xdr_ops_plain (LIKE xdr_ops INCLUDING DEFAULTS INCLUDING INDEXES)');
    const planOf = async (table: string): Promise<string> => {
      // As the bench's preload: analyzed while one incident's ops were waiting, then a flood.
      await pool.query(`DELETE FROM ${table}`);
      await pool.query(`INSERT INTO ${table} (incident_id, kind, seq) SELECT 'inc-hot', 'sighting', g FROM generate_series(1, 10) g`);
      await pool.query(`ANALYZE ${table}`);
      await pool.query(`INSERT INTO ${table} (incident_id, kind, seq) SELECT i.id, 'sighting', g FROM unnest($1::text[]) AS i(id) CROSS JOIN generate_series(1, 15) g`, [incidents]);
      const sql = OPS_OF_INCIDENTS_SQL.replace(/\bxdr_ops\b/g, table);
      const { rows } = await pool.query<{ 'QUERY PLAN': string }>(`EXPLAIN ${sql}`, [incidents.slice(0, 100)]);
      return rows.map((r) => r['QUERY PLAN']).join('\n');
    };
    expect(await planOf('xdr_ops')).toMatch(/Index Scan using xdr_ops_by_incident/);
    // Without it, every incident's read walks the whole table (its primary key in the bench: 3.3 s a batch; a seq scan here).
    const plain = await planOf('xdr_ops_plain');
    expect(plain).not.toMatch(/xdr_ops_plain_incident_id_id_idx/);
    expect(plain).toMatch(/Seq Scan on xdr_ops_plain|Index Scan using xdr_ops_plain_pkey/);
  });
});
