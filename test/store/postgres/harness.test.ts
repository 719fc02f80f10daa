import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, planPostgres, testPostgres, type TestDatabase } from '../../support/postgres.js';

describe('the PostgreSQL test harness plan', () => {
  it('uses TEST_DATABASE_URL first, then a throwaway cluster', () => {
    expect(planPostgres({ TEST_DATABASE_URL: 'postgres://u@h/db' }, '/bin')).toEqual({ kind: 'url', url: 'postgres://u@h/db' });
    expect(planPostgres({}, '/usr/lib/postgresql/15/bin')).toEqual({ kind: 'cluster', binDir: '/usr/lib/postgresql/15/bin' });
  });

  it('skips with a reason outside CI and fails in CI when PostgreSQL is missing', () => {
    const local = planPostgres({}, undefined);
    expect(local.kind).toBe('skip');
    expect(local.kind === 'skip' && local.reason).toMatch(/TEST_DATABASE_URL/);
    expect(planPostgres({ CI: 'true' }, undefined).kind).toBe('fail');
  });
});

const server = await testPostgres();

describe.skipIf(!server)('a test database', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase(server!);
  });
  afterAll(async () => db?.drop());

  it('is a fresh, empty database of its own', async () => {
    const c = new pg.Client({ connectionString: db.url });
    await c.connect();
    try {
      const { rows } = await c.query<{ db: string; tables: string }>(
        "SELECT current_database() AS db, (SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public') AS tables",
      );
      expect(rows[0]!.db).toMatch(/^sightline_test_/);
      expect(Number(rows[0]!.tables)).toBe(0);
    } finally {
      await c.end();
    }
  });
});
