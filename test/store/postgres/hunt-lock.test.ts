import { describe, expect, it } from 'vitest';
import { createLogger } from '../../../src/core/logger.js';
import { withAdvisoryLock } from '../../../src/store/postgres/advisory.js';
import { postgresHuntLock } from '../../../src/store/postgres/hunt-lock.js';
import { LOCKS } from '../../../src/store/postgres/locks.js';
import { createPool } from '../../../src/store/postgres/pool.js';
import { testPostgres, useMigratedDatabase } from '../../support/postgres.js';

const server = await testPostgres();
const logger = createLogger({ level: 'silent' });

describe.skipIf(!server)('the hunt lock on PostgreSQL', () => {
  const db = useMigratedDatabase(server!);

  it('is held by one instance at a time, and freed when its holder releases it or dies', async () => {
    const a = postgresHuntLock(db.url, logger);
    const b = postgresHuntLock(db.url, logger);
    expect(await a.tryAcquire()).toBe(true);
    expect(await b.tryAcquire()).toBe(false);
    expect(await a.tryAcquire()).toBe(false); // a second hunt on the holder itself is refused too
    await a.release();
    // Two tries at once in one process (a resume and the missed-run check of a new leader): one wins, in this process.
    expect((await Promise.all([a.tryAcquire(), a.tryAcquire()])).sort()).toEqual([false, true]);
    expect(await b.tryAcquire()).toBe(false);
    await a.release();
    expect(await b.tryAcquire()).toBe(true);
    // b's process dies: its session ends on the server, and the lock with it.
    await db.pool.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'sightline-hunt'`);
    await new Promise((r) => setTimeout(r, 100));
    expect(await a.tryAcquire()).toBe(true);
    await a.release();
    await b.release();
  });

  it('tells `hunt status` on another instance that a hunt runs elsewhere, and not on the holder itself', async () => {
    const a = postgresHuntLock(db.url, logger);
    const b = postgresHuntLock(db.url, logger);
    expect(await b.heldElsewhere!()).toBe(false);
    expect(await a.tryAcquire()).toBe(true);
    expect(await b.heldElsewhere!()).toBe(true);
    expect(await a.heldElsewhere!()).toBe(false);
    await a.release();
    expect(await b.heldElsewhere!()).toBe(false);
  });

  it('withAdvisoryLock runs one section at a time across pools (instances), and frees the lock after a failure', async () => {
    const other = createPool({ url: db.url });
    try {
      const events: string[] = [];
      const section = (name: string) => async () => {
        events.push(`${name} in`);
        await new Promise((r) => setTimeout(r, 150));
        events.push(`${name} out`);
        return name;
      };
      const results = await Promise.all([withAdvisoryLock(db.pool, LOCKS.rooms, 'test', section('a')), withAdvisoryLock(other, LOCKS.rooms, 'test', section('b'))]);
      expect(results).toEqual(['a', 'b']);
      // Never interleaved: each "in" is followed by its own "out".
      expect(events.map((e) => e.split(' ')[0])).toEqual([events[0]!.split(' ')[0], events[0]!.split(' ')[0], events[2]!.split(' ')[0], events[2]!.split(' ')[0]]);
      await expect(withAdvisoryLock(db.pool, LOCKS.rooms, 'test', async () => Promise.reject(new Error('Webex refused')))).rejects.toThrow('Webex refused');
      expect(await withAdvisoryLock(other, LOCKS.rooms, 'test', async () => 'free again')).toBe('free again');
    } finally {
      await other.end();
    }
  });
});
