import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StoreError } from '../../../src/core/errors.js';
import { createPool, describeUrl, inTransaction, prepared, toStoreError } from '../../../src/store/postgres/pool.js';
import { createTestDatabase, testPostgres, type TestDatabase } from '../../support/postgres.js';
import { freePort } from '../../support/postgres-cluster.js';

describe('PostgreSQL errors as sentences', () => {
  it('names DATABASE_URL when the URL is not one, without echoing a password', () => {
    expect(() => describeUrl('not a url')).toThrow(/DATABASE_URL is not a valid URL/);
    expect(describeUrl('postgres://u:secret@db.example:6432/sightline')).toBe('db.example:6432/sightline');
  });

  it('says what to check for a refused login', () => {
    const err = toStoreError(Object.assign(new Error('password authentication failed'), { code: '28P01' }), 'starting', 'postgres://u:pw@h/db');
    expect(err).toBeInstanceOf(StoreError);
    expect(err.userMessage).toBe('PostgreSQL at h:5432/db refused the login while starting; check the user and password in DATABASE_URL.');
    expect(err.message).not.toMatch(/pw/);
  });

  it('says the server cannot be reached when nothing listens', async () => {
    const port = await freePort();
    const pool = createPool({ url: `postgres://sightline@127.0.0.1:${port}/sightline`, connectTimeoutMs: 2000 });
    try {
      const err = await inTransaction(pool, 'accepting sightings', (c) => c.query('SELECT 1')).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(StoreError);
      expect((err as StoreError).userMessage).toMatch(/cannot be reached while accepting sightings; check DATABASE_URL and that the server is running/);
    } finally {
      await pool.end();
    }
  });
});

const server = await testPostgres();

describe.skipIf(!server)('the pool', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase(server!);
  });
  afterAll(async () => db?.drop());

  it('names itself and cancels a statement that runs too long, with a sentence', async () => {
    const pool = createPool({ url: db.url, applicationName: 'sightline-a', statementTimeoutMs: 200 });
    try {
      const { rows } = await pool.query<{ name: string }>('SELECT current_setting($1) AS name', ['application_name']);
      expect(rows[0]!.name).toBe('sightline-a');
      const err = await inTransaction(pool, 'closing an incident', (c) => c.query('SELECT pg_sleep(5)')).catch((e: unknown) => e);
      expect((err as StoreError).userMessage).toMatch(/took too long while closing an incident and was cancelled/);
    } finally {
      await pool.end();
    }
  });

  it('compiles no statement with JIT, on a fresh connection and in a transaction', async () => {
    const pool = createPool({ url: db.url, max: 2 });
    try {
      const [a, b] = await Promise.all([pool.query<{ jit: string }>('SHOW jit'), inTransaction(pool, 'reading', (c) => c.query<{ jit: string }>('SHOW jit'))]);
      expect(a.rows[0]!.jit).toBe('off');
      expect(b.rows[0]!.jit).toBe('off');
    } finally {
      await pool.end();
    }
  });

  it('parses a hot statement once per connection, whatever the values, and names each text apart', async () => {
    const sql = 'SELECT $1::int + 1 AS n';
    expect(prepared(sql, [1]).name).toBe(prepared(sql, [2]).name);
    expect(prepared('SELECT $1::int + 2 AS n', [1]).name).not.toBe(prepared(sql, [1]).name);
    const pool = createPool({ url: db.url, max: 1 });
    try {
      const client = await pool.connect();
      try {
        const got: number[] = [];
        for (let i = 0; i < 8; i++) got.push((await client.query<{ n: number }>(prepared(sql, [i]))).rows[0]!.n);
        expect(got).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
        const { rows } = await client.query<{ name: string; statement: string }>('SELECT name, statement FROM pg_prepared_statements');
        expect(rows).toEqual([{ name: prepared(sql).name, statement: sql }]);
        // In a transaction, and after a failed statement on the same connection, it still runs.
        await client.query(prepared(sql, ['not a number'])).catch(() => undefined);
        expect((await client.query<{ n: number }>(prepared(sql, [41]))).rows[0]!.n).toBe(42);
      } finally {
        client.release();
      }
    } finally {
      await pool.end();
    }
  });

  it('commits a transaction only when it completes', async () => {
    const pool = createPool({ url: db.url });
    try {
      await pool.query('CREATE TABLE t (n int)');
      await inTransaction(pool, 'testing', (c) => c.query('INSERT INTO t VALUES (1)'));
      await inTransaction(pool, 'testing', async (c) => {
        await c.query('INSERT INTO t VALUES (2)');
        throw new Error('handler failed');
      }).catch(() => undefined);
      expect((await pool.query('SELECT n FROM t')).rows).toEqual([{ n: 1 }]);
    } finally {
      await pool.end();
    }
  });

  it('says the database does not exist', async () => {
    const url = new URL(db.url);
    url.pathname = '/no_such_database';
    const pool = createPool({ url: url.toString() });
    try {
      const err = await inTransaction(pool, 'starting', (c) => c.query('SELECT 1')).catch((e: unknown) => e);
      expect((err as StoreError).userMessage).toMatch(/The database in DATABASE_URL at 127\.0\.0\.1:\d+\/no_such_database does not exist/);
    } finally {
      await pool.end();
    }
  });
});
