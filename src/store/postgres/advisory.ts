import type pg from 'pg';
import { LOCK_SPACE } from './locks.js';
import { poolError } from './pool.js';

/**
 * Runs `work` while holding a session advisory lock (waiting for it), on a pooled connection kept
 * for the duration. For short critical sections across instances that call outside services (a
 * Webex room created once), where a row lock would hold a transaction open over the call.
 */
export async function withAdvisoryLock<T>(pool: pg.Pool, key: number, doing: string, work: () => Promise<T>): Promise<T> {
  let client: pg.PoolClient;
  try {
    client = await pool.connect();
    await client.query('SELECT pg_advisory_lock($1, $2)', [LOCK_SPACE, key]);
  } catch (err) {
    throw poolError(pool, err, doing);
  }
  // A connection cut while `work` runs emits 'error' on the checked-out client; unheard, that ends the process.
  let cut: Error | undefined;
  const onError = (err: Error) => (cut = err);
  client.on('error', onError);
  try {
    return await work();
  } finally {
    // A failed unlock means the session is broken: drop it, which frees the lock on the server.
    const broken = cut ?? (await client.query('SELECT pg_advisory_unlock($1, $2)', [LOCK_SPACE, key]).then(() => undefined, (err: Error) => err));
    client.removeListener('error', onError);
    client.release(broken);
  }
}
