import { beforeEach, describe, expect, it } from 'vitest';
import type { IncomingSighting } from '../../../src/domain/correlation/intake.js';
import { parseLadder } from '../../../src/domain/correlation/ladder.js';
import { PostgresCorrelationStore } from '../../../src/store/postgres/correlation.js';
import { runRetention } from '../../../src/store/postgres/retention.js';
import { PostgresSightingsLog } from '../../../src/store/postgres/sightings-log.js';
import { testPostgres, useMigratedDatabase } from '../../support/postgres.js';
import { hostSighting } from './fixtures.js';

const server = await testPostgres();
const DAY = 86_400_000;
const NOW = new Date('2026-12-01T00:00:00.000Z');
let ids = 0;

const sighting = (id: string, host: string): IncomingSighting => hostSighting(id, host);

describe.skipIf(!server)('retention on PostgreSQL', () => {
  const db = useMigratedDatabase(server!);
  let log: PostgresSightingsLog;
  let store: PostgresCorrelationStore;

  beforeEach(async () => {
    await db.pool.query('TRUNCATE sightings, incidents, incident_sightings, incident_rungs, xdr_ops RESTART IDENTITY CASCADE');
    log = new PostgresSightingsLog(db.pool);
    store = new PostgresCorrelationStore(db.pool, log, { rungs: parseLadder('gte 2 -> notify'), rejectedIsClosed: true, dryRun: true });
  });

  const count = async (sql: string, params: unknown[] = []) => Number((await db.pool.query<{ n: string }>(sql, params)).rows[0]!.n);

  /** An incident for `host` with two sightings (so a rung row too), closed `daysAgo` days before NOW (open when undefined). */
  async function incidentClosed(host: string, daysAgo: number | undefined): Promise<string> {
    await log.append([sighting(`${host}-${++ids}`, host), sighting(`${host}-${++ids}`, host)]);
    await store.applyNext();
    const inc = (await store.incidentByTarget(`hostname:${host}`))!;
    if (daysAgo !== undefined) {
      await store.close(inc.id, 'alice');
      await db.pool.query('UPDATE incidents SET closed_at = $2 WHERE id = $1', [inc.id, new Date(NOW.getTime() - daysAgo * DAY)]);
    }
    return inc.id;
  }

  it('deletes closed incidents older than the window with their sightings, rungs and XDR ops, in batches, and nothing else', async () => {
    const old = [];
    for (let i = 0; i < 5; i++) old.push(await incidentClosed(`old-${i}`, 366 + i));
    const recent = await incidentClosed('recent', 364);
    const open = await incidentClosed('open', undefined);
    // A target whose old incident is gone keeps its newer one, which loses only the link.
    const relinked = await incidentClosed('old-0', undefined);
    expect((await store.incident(relinked))!.previousIncidentId).toBe(old[0]);

    const report = await runRetention(db.pool, { now: NOW, batchSize: 2 });
    expect(report).toMatchObject({ incidents: 5, more: false });
    // 5 rows at 2 a transaction: 3 for incidents, then 1 for the (empty) sightings pass and 1 for each of the 4 bookkeeping tables.
    expect(report.batches).toBe(8);

    const left = (await db.pool.query<{ id: string }>('SELECT id FROM incidents ORDER BY id')).rows.map((r) => r.id);
    expect(left.sort()).toEqual([recent, open, relinked].sort());
    for (const table of ['incident_sightings', 'incident_rungs', 'xdr_ops']) {
      expect(await count(`SELECT count(*) AS n FROM ${table} WHERE incident_id = ANY($1::text[])`, [old])).toBe(0);
      expect(await count(`SELECT count(*) AS n FROM ${table} WHERE incident_id = $1`, [recent])).toBeGreaterThan(0);
    }
    expect((await store.incident(relinked))!.previousIncidentId).toBeUndefined();
    expect((await store.closedIncidents()).items.map((i) => i.id)).toEqual([recent]);
  });

  it('keeps history for the number of days asked', async () => {
    const a = await incidentClosed('a', 40);
    const b = await incidentClosed('b', 20);
    expect((await runRetention(db.pool, { now: NOW, retentionDays: 30 })).incidents).toBe(1);
    expect(await store.incident(a)).toBeUndefined();
    expect(await store.incident(b)).toBeDefined();
  });

  it('stops after maxBatches and says there is more', async () => {
    for (let i = 0; i < 3; i++) await incidentClosed(`m-${i}`, 400);
    const first = await runRetention(db.pool, { now: NOW, batchSize: 1, maxBatches: 2 });
    expect(first).toMatchObject({ incidents: 2, more: true });
    expect(await runRetention(db.pool, { now: NOW, batchSize: 1, maxBatches: 2 })).toMatchObject({ incidents: 1 });
  });

  it('deletes applied sighting ids older than the dedupe window, never unapplied ones, and an id then counts again', async () => {
    await log.append([sighting('s-old', 'h'), sighting('s-new', 'h')]);
    await store.applyNext();
    await log.append([sighting('s-waiting', 'h')]);
    await db.pool.query("UPDATE sightings SET accepted_at = $1 WHERE id IN ('s-old', 's-waiting')", [new Date(NOW.getTime() - 2 * 3600_000)]);
    await db.pool.query("UPDATE sightings SET accepted_at = $1 WHERE id = 's-new'", [new Date(NOW.getTime() - 60_000)]);

    const report = await runRetention(db.pool, { now: NOW, dedupeWindowSeconds: 3600 });
    expect(report.sightings).toBe(1);
    const ids = (await db.pool.query<{ id: string }>('SELECT id FROM sightings ORDER BY id')).rows.map((r) => r.id);
    expect(ids).toEqual(['s-new', 's-waiting']);
    expect((await log.append([sighting('s-old', 'h'), sighting('s-new', 'h')])).items).toEqual([
      { id: 's-old', seq: expect.any(Number) },
      { id: 's-new', duplicate: true },
    ]);
  });

  it('prunes bookkeeping by age: receipts past the dedupe window, keys and dead letters past the history window, chat claims after a day', async () => {
    await db.pool.query('TRUNCATE outbox_receipts, outbox_keys, dead_letters, chat_claims');
    const ago = (ms: number) => new Date(NOW.getTime() - ms);
    await db.pool.query(`INSERT INTO outbox_receipts (item_id, delivered_at) VALUES ('r-old', $1), ('r-new', $2)`, [ago(2 * 3600_000), ago(60_000)]);
    await db.pool.query(`INSERT INTO outbox_keys (dedupe_key, queued_at) VALUES ('k-old', $1), ('k-new', $2)`, [ago(40 * DAY), ago(20 * DAY)]);
    await db.pool.query(
      `INSERT INTO dead_letters (id, channel, key, kind, reason, created_at, failed_at, attempts, payload)
       VALUES ('d-old', 'webex', 'room', 'hunt_failed', 'refused', $1, $1, 1, '{}'), ('d-new', 'webex', 'room', 'hunt_failed', 'refused', $2, $2, 1, '{}')`,
      [ago(40 * DAY), ago(20 * DAY)],
    );
    await db.pool.query(`INSERT INTO chat_claims (event_id, instance, claimed_at) VALUES ('c-old', 'a', $1), ('c-new', 'a', $2)`, [ago(25 * 3600_000), ago(3600_000)]);
    const report = await runRetention(db.pool, { now: NOW, retentionDays: 30, dedupeWindowSeconds: 3600 });
    expect(report.bookkeeping).toEqual({ outbox_receipts: 1, outbox_keys: 1, dead_letters: 1, chat_claims: 1 });
    for (const [table, column] of [['outbox_receipts', 'item_id'], ['outbox_keys', 'dedupe_key'], ['dead_letters', 'id'], ['chat_claims', 'event_id']] as const) {
      const left = (await db.pool.query<{ v: string }>(`SELECT ${column} AS v FROM ${table}`)).rows.map((r) => r.v);
      expect(left, table).toEqual([expect.stringMatching(/-new$/)]);
    }
  });

  it('finds what references a deleted incident by index, so a batch does not scan the table once per incident', async () => {
    const tx = await db.pool.connect();
    try {
      await tx.query('BEGIN');
      // A tiny table is seq-scanned anyway; what matters is that the indexes exist and fit the lookups.
      await tx.query('SET LOCAL enable_seqscan = off');
      for (const [table, column, index] of [
        ['incidents', 'previous_incident_id', 'incidents_previous'],
        ['xdr_dead_letters', 'incident_id', 'xdr_dead_letters_by_incident'],
      ] as const) {
        const plan = await tx.query<{ 'QUERY PLAN': string }>(`EXPLAIN SELECT 1 FROM ${table} WHERE ${column} = 'inc-1'`);
        expect(plan.rows.map((r) => r['QUERY PLAN']).join('\n')).toMatch(new RegExp(index));
      }
      await tx.query('ROLLBACK');
    } finally {
      tx.release();
    }
  });

  it('skips an incident another transaction holds, and takes it on the next run', async () => {
    const held = await incidentClosed('held', 400);
    const tx = await db.pool.connect();
    try {
      await tx.query('BEGIN');
      await tx.query('SELECT id FROM incidents WHERE id = $1 FOR UPDATE', [held]);
      expect((await runRetention(db.pool, { now: NOW })).incidents).toBe(0);
      await tx.query('COMMIT');
    } finally {
      tx.release();
    }
    expect((await runRetention(db.pool, { now: NOW })).incidents).toBe(1);
  });
});
