import { describe, expect, it } from 'vitest';
import type { XdrOp } from '../../../src/domain/correlation/types.js';
import { OPS_OF_INCIDENTS_SQL, loadOpsWithoutBodies } from '../../../src/store/postgres/incident-rows.js';
import { testPostgres, useMigratedDatabase } from '../../support/postgres.js';

const server = await testPostgres();

/** The ops as the row-per-op read gave them (the reference the summary read must match). */
function opsOfRows(rows: Array<Record<string, string | number | null>>): Map<string, XdrOp[]> {
  const out = new Map<string, XdrOp[]>();
  for (const r of rows) {
    const base = { id: Number(r.id), attempts: Number(r.attempts), ...(r.last_error ? { lastError: String(r.last_error) } : {}) };
    const op: XdrOp =
      r.kind === 'sighting'
        ? { ...base, kind: 'sighting', seq: Number(r.seq), ctim: {}, ...(r.xdr_sighting_id ? { xdrSightingId: String(r.xdr_sighting_id) } : {}) }
        : r.kind === 'relate_previous'
          ? { ...base, kind: 'relate_previous', previousIncidentId: String(r.previous_incident_id) }
          : r.kind === 'status'
            ? { ...base, kind: 'status', status: String(r.status) }
            : { ...base, kind: r.kind as 'patch' | 'create_incident' };
    out.set(String(r.incident_id), [...(out.get(String(r.incident_id)) ?? []), op]);
  }
  return out;
}

describe.skipIf(!server)("the apply loop's read of waiting XDR ops", () => {
  const db = useMigratedDatabase(server!);

  it('gives every op of each incident, in id order, with what counting needs, as one row per op would', async () => {
    const { pool } = db;
    await pool.query(
      `INSERT INTO incidents (id, target_key, target_type, target_value, status, first_seen, last_seen, opened_at)
       SELECT 'inc-' || g, 'hostname:ws-' || g, 'endpoint', 'ws-' || g, 'New', now(), now(), now() FROM generate_series(1, 3) g`,
    );
    // inc-1: a create, untouched sightings, a sighting XDR stored, one being sent, one retried; inc-2: a patch, a relation,
    // a status and untouched sightings interleaved; inc-3: nothing waiting.
    const ops: Array<[string, string, Record<string, unknown>]> = [
      ['inc-1', 'create_incident', {}],
      ['inc-1', 'sighting', { seq: 11 }],
      ['inc-1', 'sighting', { seq: 12, xdr_sighting_id: 'sighting-xdr-12' }],
      ['inc-1', 'sighting', { seq: 13, last_error: 'sent to XDR; no answer recorded yet' }],
      ['inc-1', 'sighting', { seq: 14, attempts: 2, last_error: 'XDR answered 503' }],
      ['inc-1', 'sighting', { seq: 15 }],
      ['inc-2', 'sighting', { seq: 21 }],
      ['inc-2', 'patch', {}],
      ['inc-2', 'relate_previous', { previous_incident_id: 'inc-1' }],
      ['inc-2', 'sighting', { seq: 22 }],
      ['inc-2', 'status', { status: 'Closed' }],
      ['inc-2', 'sighting', { seq: 23 }],
    ];
    for (const [incident, kind, f] of ops) {
      await pool.query(
        `INSERT INTO xdr_ops (incident_id, kind, seq, ctim, xdr_sighting_id, previous_incident_id, status, attempts, last_error)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
        [incident, kind, f.seq ?? null, kind === 'sighting' ? { type: 'sighting' } : null, f.xdr_sighting_id ?? null, f.previous_incident_id ?? null, f.status ?? null, f.attempts ?? 0, f.last_error ?? null],
      );
    }
    const ids = ['inc-1', 'inc-2', 'inc-3'];
    const client = await pool.connect();
    try {
      const expected = opsOfRows((await client.query(OPS_OF_INCIDENTS_SQL, [ids])).rows);
      const got = await loadOpsWithoutBodies(client, ids);
      expect(got).toEqual(expected);
      expect(got.get('inc-1')!.map((o) => o.kind)).toEqual(['create_incident', 'sighting', 'sighting', 'sighting', 'sighting', 'sighting']);
      expect(got.get('inc-2')!.map((o) => (o.kind === 'sighting' ? o.seq : o.kind))).toEqual([21, 'patch', 'relate_previous', 22, 'status', 23]);
      expect(got.has('inc-3')).toBe(false);
    } finally {
      client.release();
    }
  });
});
