import { createHash } from 'node:crypto';
import pg from 'pg';
import { StoreError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';

/**
 * The connection pool of the PostgreSQL store. Every statement has a time limit (a wedged
 * query must not hold a sighting's 202 or a lock forever), every connection names itself
 * (`application_name`, seen in pg_stat_activity), and every driver error that leaves the
 * store becomes a StoreError whose sentence says what to check — usually DATABASE_URL.
 */
export interface PoolOptions {
  url: string;
  /** Shown in pg_stat_activity; one name per instance helps an operator tell them apart. */
  applicationName?: string;
  max?: number;
  /** Longest any one statement may run (ms). */
  statementTimeoutMs?: number;
  /** Longest to wait for a connection, new or from the pool (ms). */
  connectTimeoutMs?: number;
  idleTimeoutMs?: number;
  logger?: Logger;
}

export const POOL_DEFAULTS = { max: 10, statementTimeoutMs: 15_000, connectTimeoutMs: 5_000, idleTimeoutMs: 30_000 } as const;

/** Startup settings of every pooled session (see createPool). */
export const SESSION_OPTIONS = '-c jit=off';

/** The URL each pool was made from, so an error can say which server failed. */
const urls = new WeakMap<pg.Pool, string>();

export function createPool(opts: PoolOptions): pg.Pool {
  const where = describeUrl(opts.url);
  const pool = new pg.Pool({
    connectionString: opts.url,
    application_name: opts.applicationName ?? 'sightline',
    max: opts.max ?? POOL_DEFAULTS.max,
    statement_timeout: opts.statementTimeoutMs ?? POOL_DEFAULTS.statementTimeoutMs,
    // A session left inside a transaction (a crashed handler) would hold row locks: end it.
    idle_in_transaction_session_timeout: 4 * (opts.statementTimeoutMs ?? POOL_DEFAULTS.statementTimeoutMs),
    connectionTimeoutMillis: opts.connectTimeoutMs ?? POOL_DEFAULTS.connectTimeoutMs,
    idleTimeoutMillis: opts.idleTimeoutMs ?? POOL_DEFAULTS.idleTimeoutMs,
    keepAlive: true,
    // No JIT compilation: the store's statements are short, but a queue table that grew within
    // seconds has no statistics yet, and planned for hundreds of thousands of rows they crossed
    // jit_inline_above_cost — the bench measured 250 ms of compiling for a 38 ms read of a batch's
    // XDR ops (docs/POSTGRES.md, "Dead rows, plans and JIT"). An `options` in DATABASE_URL replaces this.
    options: SESSION_OPTIONS,
  });
  urls.set(pool, opts.url);
  // An idle connection that dies (server restart, network) emits here; unhandled, it would end the process.
  pool.on('error', (err) => opts.logger?.warn({ err: err.message, database: where }, 'an idle PostgreSQL connection failed; the pool opens a new one when needed'));
  return pool;
}

/** host:port/database of a URL, without the password, for messages and logs. */
export function describeUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.hostname}:${u.port || '5432'}${u.pathname}`;
  } catch {
    throw new StoreError('store_unwritable', 'DATABASE_URL is not a valid URL; write it as postgres://user:password@host:5432/database.');
  }
}

/** The driver's error as a StoreError: one sentence naming what failed and what to check. */
export function toStoreError(err: unknown, doing: string, url?: string): StoreError {
  if (err instanceof StoreError) return err;
  const e = err as { code?: string; message?: string };
  const where = url ? ` at ${describeUrl(url)}` : '';
  const detail = e.message ?? String(err);
  const say = (sentence: string) => new StoreError('store_unwritable', sentence, { cause: err, detail });
  switch (e.code) {
    case 'ECONNREFUSED':
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'ETIMEDOUT':
    case 'ECONNRESET':
    case '57P01': // admin_shutdown
    case '57P03': // cannot_connect_now (starting up / shutting down)
      return say(`PostgreSQL${where} cannot be reached while ${doing}; check DATABASE_URL and that the server is running.`);
    case '28P01':
    case '28000':
      return say(`PostgreSQL${where} refused the login while ${doing}; check the user and password in DATABASE_URL.`);
    case '3D000':
      return say(`The database in DATABASE_URL${where} does not exist; create it (createdb) or fix DATABASE_URL.`);
    case '57014':
      return say(`A PostgreSQL statement took too long while ${doing} and was cancelled; check the server's load and locks (pg_stat_activity).`);
    case '53300':
      return say(`PostgreSQL${where} has no connection slot left while ${doing}; raise max_connections or lower the pool size.`);
  }
  if (e.code?.startsWith('22')) {
    // Class 22, data exception: e.g. a NUL character, which text and jsonb cannot hold.
    return say(`PostgreSQL refused a value it cannot store while ${doing}, so nothing of it was stored; the log has the value's problem.`);
  }
  if (/timeout exceeded when trying to connect|Connection terminated/i.test(detail)) {
    return say(`PostgreSQL${where} did not answer in time while ${doing}; check DATABASE_URL, the network and the server.`);
  }
  return say(`PostgreSQL failed while ${doing}; check DATABASE_URL and the server's log.`);
}

/** toStoreError naming the pool's server. */
export function poolError(pool: pg.Pool, err: unknown, doing: string): StoreError {
  return toStoreError(err, doing, urls.get(pool));
}

/** Runs `fn` with one connection, each statement committed on its own; rethrows any error as a StoreError. */
export function autocommit<T>(pool: pg.Pool, doing: string, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  return withConnection(pool, doing, async (client, broke) => {
    try {
      return await fn(client);
    } catch (err) {
      if (!isSqlError(err)) broke();
      throw err;
    }
  });
}

/** An error the server answered with (the session is fine), as opposed to a broken connection. */
function isSqlError(err: unknown): boolean {
  return typeof (err as { code?: unknown }).code === 'string' && typeof (err as { severity?: unknown }).severity === 'string';
}

/** Runs `fn` with one connection inside a transaction; rolls back on any error and rethrows it as a StoreError. */
export function inTransaction<T>(pool: pg.Pool, doing: string, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  return withConnection(pool, doing, async (client, broke) => {
    try {
      await client.query('BEGIN');
      const result = await fn(client);
      await client.query('COMMIT');
      return result;
    } catch (err) {
      await client.query('ROLLBACK').catch(broke);
      throw err;
    }
  });
}

/**
 * One pooled connection for `fn`; any error reaches the caller as a StoreError. A connection cut
 * while checked out (an instance holding a row lock during a chat send or an XDR call, killed by
 * idle_in_transaction_session_timeout or a server restart) emits 'error' on the client; without a
 * listener that ends the process. The next statement fails with the same cause, so it is only
 * noted here, and a connection that failed (or that `fn` says is broken) is not given to the next caller.
 */
async function withConnection<T>(pool: pg.Pool, doing: string, fn: (client: pg.PoolClient, broke: () => void) => Promise<T>): Promise<T> {
  let client: pg.PoolClient;
  try {
    client = await pool.connect();
  } catch (err) {
    throw poolError(pool, err, doing);
  }
  let broken = false;
  const onError = () => (broken = true);
  client.on('error', onError);
  try {
    return await fn(client, onError);
  } catch (err) {
    throw poolError(pool, err, doing);
  } finally {
    client.removeListener('error', onError);
    client.release(broken);
  }
}

const names = new Map<string, string>();

/**
 * A hot statement as a named prepared statement (constant SQL only: the name is its text's hash).
 * Each connection parses it once; PostgreSQL then skips the parse, and plans it once it has seen
 * that a generic plan does as well (plan_cache_mode auto). The ingest runs the same few statements
 * thousands of times a minute, and parsing and planning an unnamed statement each time cost
 * PostgreSQL about as much as running the small ones.
 */
export function prepared(text: string, values?: unknown[]): pg.QueryConfig {
  let name = names.get(text);
  if (name === undefined) {
    name = `sl_${createHash('sha1').update(text).digest('hex').slice(0, 20)}`;
    names.set(text, name);
  }
  return values === undefined ? { name, text } : { name, text, values };
}
