import pg from 'pg';
import type { Logger } from '../../core/logger.js';
import type { HuntLock } from '../../services/exclusive-hunts.js';
import { LOCK_SPACE, LOCKS } from './locks.js';
import { toStoreError } from './pool.js';

/**
 * One Talos hunt at a time across instances: a session advisory lock, held on a connection of its
 * own for as long as the hunt runs. An instance that dies mid-hunt loses its session and with it
 * the lock, so "the lock is free" also means "nobody is running the hunt recorded as running".
 */
export function postgresHuntLock(url: string, logger: Logger): HuntLock {
  let client: pg.Client | undefined;
  // One attempt at a time in this process: two at once would open two sessions, and the loser would
  // read "held by another instance" when it is held here.
  let attempts: Promise<unknown> = Promise.resolve();
  const drop = async (): Promise<void> => {
    const c = client;
    client = undefined;
    await c?.end().catch(() => undefined);
  };
  return {
    tryAcquire() {
      const attempt = attempts.then(() => acquire());
      attempts = attempt.catch(() => undefined);
      return attempt;
    },
    async release() {
      await client?.query('SELECT pg_advisory_unlock($1, $2)', [LOCK_SPACE, LOCKS.hunt]).catch(() => undefined);
      await drop();
    },
    async heldElsewhere() {
      if (client) return false; // held here
      // A short session of its own: asked only by `hunt status`, so no pool is kept for it.
      const c = new pg.Client({ connectionString: url, application_name: 'sightline-hunt-status' });
      c.on('error', () => undefined);
      try {
        await c.connect();
        // Two-key advisory locks show in pg_locks as classid/objid with objsubid 2; they are per database.
        const { rows } = await c.query<{ held: boolean }>(
          `SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND classid = $1 AND objid = $2 AND objsubid = 2 AND granted
             AND database = (SELECT oid FROM pg_database WHERE datname = current_database())) AS held`,
          [LOCK_SPACE, LOCKS.hunt],
        );
        return rows[0]?.held ?? false;
      } catch (err) {
        throw toStoreError(err, 'asking whether another instance runs a hunt', url);
      } finally {
        await c.end().catch(() => undefined);
      }
    },
  };

  async function acquire(): Promise<boolean> {
    if (client) return false; // this instance already holds it
    const c = new pg.Client({ connectionString: url, application_name: 'sightline-hunt', keepAlive: true });
    c.on('error', (err) => {
      // The session is gone, and the lock with it: the hunt goes on here, but another instance may now start one.
      logger.warn({ err: err.message }, 'the hunt lock connection failed; another instance may start a hunt meanwhile');
      if (client === c) client = undefined;
    });
    try {
      await c.connect();
      const { rows } = await c.query<{ won: boolean }>('SELECT pg_try_advisory_lock($1, $2) AS won', [LOCK_SPACE, LOCKS.hunt]);
      if (rows[0]?.won) {
        client = c;
        return true;
      }
    } catch (err) {
      await c.end().catch(() => undefined);
      throw toStoreError(err, 'taking the hunt lock', url);
    }
    await c.end().catch(() => undefined);
    return false;
  }
}
