import pg from 'pg';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { StoreError } from '../../../src/core/errors.js';
import { migrate } from '../../../src/store/postgres/migrate.js';
import { MIGRATIONS, type Migration } from '../../../src/store/postgres/migrations/index.js';
import { createPool } from '../../../src/store/postgres/pool.js';
import { createTestDatabase, testPostgres, type TestDatabase } from '../../support/postgres.js';

const server = await testPostgres();

describe.skipIf(!server)('schema migrations', () => {
  const databases: TestDatabase[] = [];
  const pools: pg.Pool[] = [];
  async function freshPool(): Promise<pg.Pool> {
    const db = await createTestDatabase(server!);
    databases.push(db);
    return newPool(db.url);
  }
  function newPool(url: string): pg.Pool {
    const pool = createPool({ url, applicationName: 'sightline-test' });
    pools.push(pool);
    return pool;
  }
  afterEach(async () => {
    await Promise.all(pools.splice(0).map((p) => p.end()));
  });
  afterAll(async () => {
    await Promise.all(databases.map((d) => d.drop()));
  });

  it('applies the schema once, records it, and finds nothing to do the next time', async () => {
    const pool = await freshPool();
    // Every migration in the list, in order (derived, so a new migration does not edit this test).
    const versions = MIGRATIONS.map((m) => m.version);
    expect(versions).toEqual(versions.map((_, i) => i + 1));
    expect(await migrate(pool)).toEqual({ applied: versions, version: versions.length });
    expect(await migrate(pool)).toEqual({ applied: [], version: versions.length });
    const { rows } = await pool.query('SELECT version, name, length(checksum) AS len, applied_at FROM schema_migrations ORDER BY version');
    expect(rows).toHaveLength(versions.length);
    expect(rows[0]).toMatchObject({ version: 1, name: 'schema', len: 64 });
    const tables = await pool.query<{ table_name: string }>("SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'");
    expect(tables.rows.map((r) => r.table_name)).toEqual(
      expect.arrayContaining(['sightings', 'incidents', 'incident_sightings', 'incident_rungs', 'xdr_ops', 'outbox', 'outbox_receipts', 'dead_letters', 'control_state']),
    );
  });

  it('applies each migration once when several instances start at the same moment', async () => {
    const first = await freshPool();
    const url = databases.at(-1)!.url;
    // Not idempotent and slow: without the lock, a second instance would fail on CREATE TABLE or insert twice.
    const migrations: Migration[] = [
      { version: 1, name: 'slow', sql: 'CREATE TABLE once (n int); SELECT pg_sleep(0.3); INSERT INTO once VALUES (1);' },
      { version: 2, name: 'more', sql: 'INSERT INTO once VALUES (2);' },
    ];
    const instances = [first, newPool(url), newPool(url), newPool(url)];
    const results = await Promise.all(instances.map((p) => migrate(p, { migrations })));
    expect(results.flatMap((r) => r.applied).sort()).toEqual([1, 2]);
    expect(results.every((r) => r.version === 2)).toBe(true);
    expect((await first.query('SELECT n FROM once ORDER BY n')).rows).toEqual([{ n: 1 }, { n: 2 }]);
  });

  it('stops start-up with a sentence when an applied migration was changed', async () => {
    const pool = await freshPool();
    await migrate(pool, { migrations: [{ version: 1, name: 'first', sql: 'CREATE TABLE a (n int);' }] });
    const err = await migrate(pool, { migrations: [{ version: 1, name: 'first', sql: 'CREATE TABLE a (n bigint);' }] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StoreError);
    expect((err as StoreError).userMessage).toMatch(/Schema migration 1 \(first\) differs from the one applied/);
  });

  it('refuses a database migrated by a newer version', async () => {
    const pool = await freshPool();
    await migrate(pool, {
      migrations: [
        { version: 1, name: 'first', sql: 'SELECT 1;' },
        { version: 2, name: 'second', sql: 'SELECT 2;' },
      ],
    });
    const err = await migrate(pool, { migrations: [{ version: 1, name: 'first', sql: 'SELECT 1;' }] }).catch((e: unknown) => e);
    expect((err as StoreError).userMessage).toMatch(/migrated by a newer Sightline \(schema migration 2, second/);
  });

  it('rolls a failing migration back completely and frees the lock for the next start', async () => {
    const pool = await freshPool();
    const good: Migration = { version: 1, name: 'good', sql: 'CREATE TABLE a (n int);' };
    const bad: Migration = { version: 2, name: 'bad', sql: 'CREATE TABLE b (n int); SELECT 1/0;' };
    const err = await migrate(pool, { migrations: [good, bad] }).catch((e: unknown) => e);
    expect((err as StoreError).userMessage).toMatch(/Schema migration 2 \(bad\) failed and was rolled back/);
    const b = await pool.query("SELECT to_regclass('public.b') AS t");
    expect(b.rows[0].t).toBeNull();
    expect((await pool.query('SELECT version FROM schema_migrations')).rows).toEqual([{ version: 1 }]);
    const fixed: Migration = { ...bad, sql: 'CREATE TABLE b (n int);' };
    expect(await migrate(pool, { migrations: [good, fixed] })).toEqual({ applied: [2], version: 2 });
  });
});
