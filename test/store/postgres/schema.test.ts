import { describe, expect, it } from 'vitest';
import { testPostgres, useMigratedDatabase } from '../../support/postgres.js';

const server = await testPostgres();

/** The rules that must hold across instances are constraints of the schema, checked here on the real migration. */
describe.skipIf(!server)('the schema (migration 1)', () => {
  const db = useMigratedDatabase(server!);

  const open = (id: string, target: string) =>
    db.pool.query(
      `INSERT INTO incidents (id, target_key, target_type, target_value, status, first_seen, last_seen, opened_at)
       VALUES ($1, $2, 'hostname', $2, 'Open', now(), now(), now())`,
      [id, target],
    );
  const code = (p: Promise<unknown>) => p.then(() => 'ok', (e: { code?: string }) => e.code);

  it('allows one open incident per target, and a new one once it is closed', async () => {
    await open('inc-1', 'host:a');
    expect(await code(open('inc-2', 'host:a'))).toBe('23505');
    expect(await code(open('inc-3', 'host:b'))).toBe('ok');
    await db.pool.query("UPDATE incidents SET closed_at = now(), status = 'Closed' WHERE id = 'inc-1'");
    expect(await code(open('inc-4', 'host:a'))).toBe('ok');
    const ordinals = await db.pool.query<{ ordinal: string }>("SELECT ordinal FROM incidents WHERE id IN ('inc-1', 'inc-4') ORDER BY ordinal");
    expect(Number(ordinals.rows[1]!.ordinal)).toBeGreaterThan(Number(ordinals.rows[0]!.ordinal));
  });

  it('counts a sighting id once and a ladder rung once per incident', async () => {
    const sighting = (id: string) => db.pool.query(`INSERT INTO sightings (id, item) VALUES ($1, '{}')`, [id]);
    expect(await code(sighting('s-1'))).toBe('ok');
    expect(await code(sighting('s-1'))).toBe('23505');
    await open('inc-r', 'host:rung');
    const rung = () => db.pool.query(`INSERT INTO incident_rungs (incident_id, rung, count, at, actions, dry_run) VALUES ('inc-r', 'gte 3', 3, now(), '{notify}', false)`);
    expect(await code(rung())).toBe('ok');
    expect(await code(rung())).toBe('23505');
  });

  // One casebook per hunt and threat is the control document's business since migration 4 (control-store.test.ts).
  it('keeps one waiting XDR patch per incident', async () => {
    await open('inc-x', 'host:x');
    const patch = () => db.pool.query(`INSERT INTO xdr_ops (incident_id, kind) VALUES ('inc-x', 'patch')`);
    expect(await code(patch())).toBe('ok');
    expect(await code(patch())).toBe('23505');
    expect(await code(db.pool.query(`INSERT INTO xdr_ops (incident_id, kind) VALUES ('inc-x', 'explode')`))).toBe('23514');
  });

  it('pages closed incidents from its index', async () => {
    // A tiny table is seq-scanned anyway; what matters is that the index exists and fits the query.
    await db.pool.query('SET enable_seqscan = off');
    const forced = await db.pool.query<{ 'QUERY PLAN': string }>(
      'EXPLAIN SELECT id FROM incidents WHERE closed_at IS NOT NULL ORDER BY closed_at DESC, ordinal DESC LIMIT 10',
    );
    expect(forced.rows.map((r) => r['QUERY PLAN']).join('\n')).toMatch(/incidents_closed_page/);
  });
});
