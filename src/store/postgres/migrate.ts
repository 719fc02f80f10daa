import { createHash } from 'node:crypto';
import type pg from 'pg';
import { StoreError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import { MIGRATIONS, type Migration } from './migrations/index.js';
import { LOCK_SPACE, LOCKS } from './locks.js';
import { poolError } from './pool.js';

/**
 * Applies the schema migrations at start. Several instances may start at once: each takes
 * the same session advisory lock first, so one applies while the others wait and then find
 * nothing left to do. Each migration runs in its own transaction with its row in
 * schema_migrations, so it is applied completely and once, or not at all. A migration whose
 * text changed since it was applied, or a database migrated by a newer Sightline, stops
 * start-up with a sentence: running on a schema the code does not know would corrupt data.
 */

export interface MigrationResult {
  /** Versions applied by this call (empty when another instance or an earlier start did it). */
  applied: number[];
  /** The schema version the database is at now. */
  version: number;
}

export function checksumOf(m: Migration): string {
  return createHash('sha256').update(m.sql).digest('hex');
}

export async function migrate(pool: pg.Pool, opts: { migrations?: readonly Migration[]; logger?: Logger } = {}): Promise<MigrationResult> {
  const migrations = [...(opts.migrations ?? MIGRATIONS)].sort((a, b) => a.version - b.version);
  let client: pg.PoolClient;
  try {
    client = await pool.connect();
  } catch (err) {
    throw poolError(pool, err, 'connecting to apply the schema migrations');
  }
  let clean = true;
  try {
    // Waiting for another instance's migration may take longer than one statement may.
    await client.query('SET statement_timeout = 0');
    await client.query('SELECT pg_advisory_lock($1, $2)', [LOCK_SPACE, LOCKS.migrate]);
    await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version    integer     PRIMARY KEY,
      name       text        NOT NULL,
      checksum   text        NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now()
    )`);
    const { rows } = await client.query<{ version: number; name: string; checksum: string }>('SELECT version, name, checksum FROM schema_migrations ORDER BY version');
    checkApplied(rows, migrations);
    const done = new Set(rows.map((r) => r.version));
    const applied: number[] = [];
    for (const m of migrations) {
      if (done.has(m.version)) continue;
      await applyOne(client, m);
      applied.push(m.version);
      opts.logger?.info({ version: m.version, name: m.name }, 'applied a PostgreSQL schema migration');
    }
    return { applied, version: Math.max(0, ...rows.map((r) => r.version), ...applied) };
  } catch (err) {
    clean = false;
    throw poolError(pool, err, 'applying the schema migrations');
  } finally {
    if (clean) await client.query('SELECT pg_advisory_unlock($1, $2)', [LOCK_SPACE, LOCKS.migrate]).catch(() => undefined);
    // The session is closed, not given back: it has statement_timeout off, and closing frees the lock whatever happened.
    client.release(true);
  }
}

function checkApplied(rows: Array<{ version: number; name: string; checksum: string }>, migrations: Migration[]): void {
  const known = new Map(migrations.map((m) => [m.version, m]));
  for (const row of rows) {
    const m = known.get(row.version);
    if (!m) {
      throw new StoreError(
        'store_corrupt',
        `The database was migrated by a newer Sightline (schema migration ${row.version}, ${row.name}, is unknown to this version); run that version or newer, or restore a backup.`,
      );
    }
    if (checksumOf(m) !== row.checksum) {
      throw new StoreError(
        'store_corrupt',
        `Schema migration ${row.version} (${row.name}) differs from the one applied to this database on an earlier start; restore the migration as it was released (a schema change must be a new migration).`,
        { detail: `checksum ${row.checksum.slice(0, 12)} applied, ${checksumOf(m).slice(0, 12)} now` },
      );
    }
  }
}

async function applyOne(client: pg.PoolClient, m: Migration): Promise<void> {
  await client.query('BEGIN');
  try {
    await client.query(m.sql);
    await client.query('INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)', [m.version, m.name, checksumOf(m)]);
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    const e = err as { message?: string };
    throw new StoreError('store_unwritable', `Schema migration ${m.version} (${m.name}) failed and was rolled back; the database is as before it. Fix the cause named in the log and start again.`, {
      cause: err,
      detail: e.message,
    });
  }
}
