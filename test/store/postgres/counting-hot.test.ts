import { describe, expect, it } from 'vitest';
import { parseLadder } from '../../../src/domain/correlation/ladder.js';
import { PostgresCorrelationStore } from '../../../src/store/postgres/correlation.js';
import { createPool } from '../../../src/store/postgres/pool.js';
import { PostgresSightingsLog } from '../../../src/store/postgres/sightings-log.js';
import { testPostgres, useMigratedDatabase } from '../../support/postgres.js';
import { hostSighting } from './fixtures.js';

const server = await testPostgres();

describe.skipIf(!server)('counting into an open incident (migration 10)', () => {
  const db = useMigratedDatabase(server!);

  /**
   * The incidents table's updates so far, and how many were HOT. A session's statistics reach the
   * shared ones when it goes idle, at most once a second unless asked: the store runs on a pool of
   * one session here, which is asked to flush before the read.
   */
  async function updates(pool: typeof db.pool): Promise<{ upd: number; hot: number }> {
    await pool.query('SELECT pg_stat_force_next_flush()');
    await pool.query('SELECT pg_stat_clear_snapshot()');
    const { rows } = await pool.query<{ upd: string; hot: string }>(`SELECT n_tup_upd AS upd, n_tup_hot_upd AS hot FROM pg_stat_user_tables WHERE relname = 'incidents'`);
    return { upd: Number(rows[0]!.upd), hot: Number(rows[0]!.hot) };
  }

  it('rewrites no index entry of the incident: each count is a HOT update, and the open list still pages by latest activity', async () => {
    const pool = createPool({ url: db.url, max: 1 });
    try {
      await counts(pool);
    } finally {
      await pool.end();
    }
  });

  async function counts(pool: typeof db.pool): Promise<void> {
    const log = new PostgresSightingsLog(pool);
    const store = new PostgresCorrelationStore(pool, log, { rungs: parseLadder('gte 100 -> notify'), rejectedIsClosed: true, dryRun: true });
    await log.append([hostSighting('h-0', 'ws-1'), hostSighting('h-1', 'ws-2')]);
    await store.applyNext();
    const before = await updates(pool);
    // Each batch counts one later sighting into each of the two open incidents: last_seen moves every time.
    for (let i = 1; i <= 5; i++) {
      const at = `2026-11-30T10:0${i}:00.000Z`;
      await log.append([hostSighting(`h-1-${i}`, 'ws-1', { observedAt: at }), hostSighting(`h-2-${i}`, 'ws-2', { observedAt: at })]);
      await store.applyNext();
    }
    const after = await updates(pool);
    expect(after.upd - before.upd).toBe(10);
    expect(after.hot - before.hot).toBe(10);
    const { rows } = await pool.query<{ indexname: string }>(`SELECT indexname FROM pg_indexes WHERE tablename = 'incidents' AND indexdef ILIKE '%last_seen%'`);
    expect(rows).toEqual([]);
    // Newest activity first: ws-2's last count was its later one.
    await log.append([hostSighting('h-1-late', 'ws-1', { observedAt: '2026-11-30T11:00:00.000Z' })]);
    await store.applyNext();
    const first = await store.openIncidents({ limit: 1 });
    expect(first.items.map((i) => i.targetValue)).toEqual(['ws-1']);
    const second = await store.openIncidents({ limit: 1, after: first.next! });
    expect(second.items.map((i) => i.targetValue)).toEqual(['ws-2']);
    expect(second.next).toBeUndefined();
  }
});
