import { describe, expect, it } from 'vitest';
import { createLogger } from '../../../src/core/logger.js';
import { postgresHuntLock } from '../../../src/store/postgres/hunt-lock.js';
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
    expect(await b.tryAcquire()).toBe(true);
    // b's process dies: its session ends on the server, and the lock with it.
    await db.pool.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'sightline-hunt'`);
    await new Promise((r) => setTimeout(r, 100));
    expect(await a.tryAcquire()).toBe(true);
    await a.release();
    await b.release();
  });
});
