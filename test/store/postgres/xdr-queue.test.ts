import type pg from 'pg';
import { beforeEach, describe, expect, it } from 'vitest';
import type { IncomingSighting } from '../../../src/domain/correlation/intake.js';
import { parseLadder } from '../../../src/domain/correlation/ladder.js';
import type { XdrOp } from '../../../src/domain/correlation/types.js';
import { PostgresCorrelationStore } from '../../../src/store/postgres/correlation.js';
import { PostgresSightingsLog } from '../../../src/store/postgres/sightings-log.js';
import { PostgresXdrQueue, type XdrClaim } from '../../../src/store/postgres/xdr-queue.js';
import { testPostgres, useTwoInstances } from '../../support/postgres.js';
import { hostSighting } from './fixtures.js';

const server = await testPostgres();

const opts = { rungs: parseLadder('gte 3 -> notify'), rejectedIsClosed: true, dryRun: true };

function sighting(id: string, host: string): IncomingSighting {
  return hostSighting(id, host, { ctim: { type: 'sighting', observables: [{ type: 'domain', value: 'evil.example' }] } });
}

describe.skipIf(!server)('the XDR queue on PostgreSQL, two mirrors on one database', () => {
  const pools = useTwoInstances(server!, ['mirror-a', 'mirror-b']);
  let a: PostgresXdrQueue;
  let b: PostgresXdrQueue;
  let correlation: PostgresCorrelationStore;
  let log: PostgresSightingsLog;

  beforeEach(async () => {
    await pools.a.query('TRUNCATE sightings, incidents, incident_sightings, incident_rungs, xdr_ops, xdr_dead_letters RESTART IDENTITY CASCADE');
    log = new PostgresSightingsLog(pools.a);
    correlation = new PostgresCorrelationStore(pools.a, log, opts);
    a = new PostgresXdrQueue(pools.a);
    b = new PostgresXdrQueue(pools.b);
  });

  /** `hosts` incidents with `each` sightings apiece, counted by the real correlation store (so the ops are the domain's). */
  /** Mirror A claims an incident and holds it (its transaction open) until `release`; then runs `work`. */
  async function holdClaim<T>(work: (claim: Parameters<Parameters<PostgresXdrQueue['claimNext']>[0]>[0]) => Promise<T>) {
    let release!: () => void;
    let entered!: () => void;
    const inside = new Promise<void>((r) => (entered = r));
    const holding = a.claimNext(async (claim) => {
      entered();
      await new Promise<void>((r) => (release = r));
      return work(claim);
    });
    await inside;
    return { holding, release };
  }

  async function incidents(hosts: number, each: number): Promise<void> {
    for (let n = 0; n < each; n++) await log.append(Array.from({ length: hosts }, (_, h) => sighting(`s-${h}-${n}`, `host-${h}`)));
    for (let i = 0; i < 100 && (await correlation.applyNext(200)).claimed > 0; i++);
  }
  const opIds = async () => (await pools.b.query<{ id: string; incident_id: string }>('SELECT id, incident_id FROM xdr_ops ORDER BY id')).rows;

  it('finds an incident whose first op is due behind hundreds of due ops waiting on a head that is not', async () => {
    await incidents(1, 1);
    const [blocked] = (await pools.a.query<{ incident_id: string }>('SELECT incident_id FROM xdr_ops LIMIT 1')).rows;
    // host-0's head waits (XDR said Retry-After), with 400 sighting ops behind it, all due, all older than host-1's.
    await pools.a.query(`UPDATE xdr_ops SET next_attempt_at = now() + interval '1 hour' WHERE id = (SELECT min(id) FROM xdr_ops)`);
    await pools.a.query(
      `INSERT INTO xdr_ops (incident_id, kind, seq, ctim, next_attempt_at) SELECT $1, 'sighting', g, '{}'::jsonb, now() - interval '1 minute' FROM generate_series(1, 400) g`,
      [blocked!.incident_id],
    );
    await log.append([sighting('s-other', 'host-1')]);
    await correlation.applyNext(10);
    const other = (await pools.a.query<{ id: string }>(`SELECT id FROM incidents WHERE target_value = 'host-1'`)).rows[0]!.id;
    const claimed = await a.claimNext(async (claim) => claim.incident.id);
    expect(claimed?.incidentId).toBe(other);
    // And nothing is due once host-1 is done and host-0's head still waits.
    await pools.a.query('DELETE FROM xdr_ops WHERE incident_id = $1', [other]);
    expect(await a.claimNext(async () => 'x')).toBeUndefined();
  });

  it('queues a new op behind a waiting first op no sooner than it, and a new queue at once', async () => {
    await incidents(1, 1);
    // host-0's queue waits an hour (its first op failed; the ops behind it wait as long).
    await pools.a.query(`UPDATE xdr_ops SET next_attempt_at = now() + interval '1 hour'`);
    await log.append([sighting('s-later', 'host-0'), sighting('s-new', 'host-9')]);
    await correlation.applyNext(10);
    const { rows } = await pools.a.query<{ target: string; waiting: boolean }>(
      `SELECT i.target_value AS target, bool_and(o.next_attempt_at > now() + interval '50 minutes') AS waiting
       FROM xdr_ops o JOIN incidents i ON i.id = o.incident_id GROUP BY i.target_value ORDER BY 1`,
    );
    expect(rows).toEqual([
      { target: 'host-0', waiting: true },
      { target: 'host-9', waiting: false },
    ]);
  });

  it('never lets two mirrors hold the same incident, and applies each op once, in order', async () => {
    await incidents(20, 3);
    const before = await opIds();
    expect(before.length).toBeGreaterThanOrEqual(60);
    const held = new Set<string>();
    const overlaps: string[] = [];
    const applied: Array<{ incident: string; op: XdrOp; by: string }> = [];
    const mirror = (by: string) => async (claim: XdrClaim) => {
      const id = claim.incident.id;
      if (held.has(id)) overlaps.push(id);
      held.add(id);
      try {
        expect(claim.incident.xdrSync.pending).toEqual(claim.ops);
        for (const op of claim.ops) {
          await new Promise((r) => setImmediate(r));
          applied.push({ incident: id, op, by });
          await claim.done(op, op.kind === 'create_incident' ? { xdrId: `https://xdr.example/incidents/incident-${id}` } : undefined);
        }
      } finally {
        held.delete(id);
      }
    };
    const [ra, rb] = await Promise.all([a.drain(mirror('a'), { concurrency: 3 }), b.drain(mirror('b'), { concurrency: 3 })]);
    expect(ra.length).toBeGreaterThan(0);
    expect(rb.length).toBeGreaterThan(0);
    expect(overlaps).toEqual([]);
    expect(applied.map((x) => x.op.id).sort((x, y) => x - y)).toEqual(before.map((r) => Number(r.id)));
    for (const host of Array.from({ length: 20 }, (_, h) => `host-${h}`)) {
      const inc = (await correlation.incidentByTarget(`hostname:${host}`))!;
      const mine = applied.filter((x) => x.incident === inc.id).map((x) => x.op);
      expect(mine.map((o) => o.id)).toEqual([...mine.map((o) => o.id)].sort((x, y) => x - y));
      expect(mine[0]!.kind).toBe('create_incident');
      expect(mine.filter((o) => o.kind === 'sighting').map((o) => (o as { ctim: unknown }).ctim)).toEqual([expect.objectContaining({ type: 'sighting' }), expect.anything(), expect.anything()]);
      expect(inc.xdrId).toBe(`https://xdr.example/incidents/incident-${inc.id}`);
    }
    expect(await a.pending()).toBe(0);
  });

  it('keeps the newest waiting sightings of the incident it claims (XDR_MIRROR_NEWEST_SIGHTINGS), counting the rest as not mirrored', async () => {
    await incidents(1, 12);
    const inc = (await correlation.incidentByTarget('hostname:host-0'))!;
    // Counting keeps every sighting op; the oldest one was sent to XDR already, so it is not waiting.
    expect((await opIds()).length).toBe(14); // create, patch and 12 sightings
    await pools.a.query(`UPDATE xdr_ops SET xdr_sighting_id = 'sighting-sent' WHERE id = (SELECT min(id) FROM xdr_ops WHERE kind = 'sighting')`);

    const claimed = await new PostgresXdrQueue(pools.b, { newestSightings: 5 }).claimNext(async (claim) => ({
      ops: claim.ops.map((o) => (o.kind === 'sighting' ? `${o.xdrSightingId ?? 'sighting'} ${o.seq}` : o.kind)),
      unmirrored: claim.incident.xdrSync.unmirrored,
    }));
    expect(claimed!.result).toEqual({
      ops: ['create_incident', 'sighting-sent 1', 'patch', 'sighting 8', 'sighting 9', 'sighting 10', 'sighting 11', 'sighting 12'],
      unmirrored: 6,
    });
    expect((await correlation.incident(inc.id))!.xdrSync.unmirrored).toBe(6);
    // Counting goes on as before; the next claim drops only what is new beyond the newest five.
    await log.append([sighting('s-later', 'host-0')]);
    await correlation.applyNext(10);
    const next = await a.claimNext(async (claim) => claim.ops.filter((o) => o.kind === 'sighting' && !o.xdrSightingId).length);
    expect(next!.result).toBe(6); // the queue's default (the domain's 20) keeps all six
    expect((await correlation.incident(inc.id))!.count).toBe(13);
  });

  it('skips an incident another mirror holds, and gives it out once released', async () => {
    await incidents(1, 1);
    const { holding, release } = await holdClaim(async (claim) => claim.ops.length);
    expect(await b.claimNext(async () => 'taken')).toBeUndefined();
    release();
    expect((await holding)!.result).toBe(2);
    // Nothing was marked done: B now gets the same ops.
    expect((await b.claimNext(async (claim) => claim.ops.map((o) => o.kind)))!.result).toEqual(['create_incident', 'sighting']);
  });

  it('lets counting go on while a mirror holds the incident; a patch rendered before a sighting was counted stays for the next claim', async () => {
    await incidents(1, 2); // ops: create, sighting, patch, sighting
    const logB = new PostgresSightingsLog(pools.b);
    const counting = new PostgresCorrelationStore(pools.b, logB, opts);
    const { holding, release } = await holdClaim(async (claim) => {
      for (const op of claim.ops) await claim.done(op, op.kind === 'create_incident' ? { xdrId: 'xdr-1' } : undefined);
      return claim.ops.map((o) => ({ id: o.id, kind: o.kind }));
    });
    await logB.append([sighting('s-0-late', 'host-0')]);
    // Not blocked by the claim (it holds no row while XDR answers): counted at once.
    expect((await counting.applyNext(10)).claimed).toBe(1);
    release();
    const read = (await holding)!.result;
    expect(read.map((o) => o.kind)).toEqual(['create_incident', 'sighting', 'patch', 'sighting']);
    const left = await pools.b.query<{ id: string; kind: string }>('SELECT id, kind FROM xdr_ops ORDER BY id');
    // The patch showed count 2; the incident is at 3 now, so it stays. The late sighting's op is new.
    expect(left.rows.map((r) => r.kind)).toEqual(['patch', 'sighting']);
    expect(Number(left.rows[0]!.id)).toBe(read.find((o) => o.kind === 'patch')!.id);
    expect(Number(left.rows[1]!.id)).toBeGreaterThan(Math.max(...read.map((o) => o.id)));
    expect((await correlation.incidentByTarget('hostname:host-0'))!).toMatchObject({ count: 3, xdrId: 'xdr-1' });
    // The next claim renders the patch from count 3 and it leaves the queue.
    const next = await b.claimNext(async (claim) => {
      for (const op of claim.ops) await claim.done(op);
      return claim.incident.count;
    });
    expect(next!.result).toBe(3);
    expect((await opIds()).length).toBe(0);
  });

  it('keeps a failed op (and the ops behind it) waiting until it is due, while other incidents go on', async () => {
    await incidents(2, 1);
    const failing = (await correlation.incidentByTarget('hostname:host-0'))!.id;
    const runs: string[] = [];
    const mirror = async (claim: XdrClaim) => {
      for (const op of claim.ops) {
        runs.push(`${claim.incident.id}:${op.kind}`);
        if (claim.incident.id === failing && op.kind === 'create_incident') return claim.failed(op, { message: 'XDR answered 503', permanent: false, retryAfterMs: 60_000 });
        await claim.done(op, op.kind === 'create_incident' ? { xdrId: `xdr-${claim.incident.id}` } : undefined);
      }
      return 'done';
    };
    const first = await a.drain(mirror);
    expect(first.map((r) => r.result).sort()).toEqual(['done', 'waiting']);
    expect(runs.filter((r) => r.startsWith(failing))).toEqual([`${failing}:create_incident`]);
    const waiting = await pools.b.query<{ kind: string; attempts: number; last_error: string | null }>('SELECT kind, attempts, last_error FROM xdr_ops WHERE incident_id = $1 ORDER BY id', [failing]);
    expect(waiting.rows).toEqual([
      { kind: 'create_incident', attempts: 0, last_error: 'XDR answered 503' },
      { kind: 'sighting', attempts: 0, last_error: null },
    ]);
    expect((await correlation.incident(failing))!.xdrSync.lastError).toBe('XDR answered 503');
    // The op behind waits exactly as long (one statement sets both), a minute from now.
    const due = await pools.b.query<{ waits: boolean }>(
      `SELECT next_attempt_at > now() + interval '50 seconds' AS waits FROM xdr_ops WHERE incident_id = $1 GROUP BY next_attempt_at`,
      [failing],
    );
    expect(due.rows).toEqual([{ waits: true }]);
    // Not due: no mirror takes it, not even its due sighting op.
    expect(await b.claimNext(async () => 'taken')).toBeUndefined();
    await pools.a.query('UPDATE xdr_ops SET next_attempt_at = now()');
    runs.length = 0;
    await b.drain(async (claim) => {
      for (const op of claim.ops) {
        runs.push(`${claim.incident.id}:${op.kind}`);
        await claim.done(op, op.kind === 'create_incident' ? { xdrId: `xdr-${claim.incident.id}` } : undefined);
      }
    });
    expect(runs).toEqual([`${failing}:create_incident`, `${failing}:sighting`]);
    expect((await correlation.incident(failing))!.xdrSync.lastError).toBeUndefined();
  });

  it('turns an op XDR refused the domain limit of times into a dead letter, and goes on with the next', async () => {
    await incidents(1, 1);
    const refuse = (claim: XdrClaim) => claim.failed(claim.ops[0]!, { message: 'XDR answered 400: invalid incident', permanent: true, retryAfterMs: 0 });
    expect((await a.claimNext(refuse))!.result).toBe('waiting');
    expect((await b.claimNext(refuse))!.result).toBe('waiting');
    expect((await a.claimNext(refuse))!.result).toBe('dead');
    const dead = await b.deadLetters();
    expect(dead).toEqual({
      total: 1,
      latest: [{ incidentId: expect.any(String), target: 'host-0', opId: expect.any(Number), kind: 'create_incident', reason: 'XDR answered 400: invalid incident', attempts: 3, at: expect.any(String) }],
    });
    expect((await correlation.incidentByTarget('hostname:host-0'))!.xdrSync.dropped).toBe(1);
    expect((await b.claimNext(async (claim) => claim.ops.map((o) => o.kind)))!.result).toEqual(['sighting']);
  });

  it('records what a claim did when it ends: work that throws leaves every op queued (each looks XDR up before creating again), but an XDR sighting id recorded at once stays', async () => {
    await incidents(1, 1);
    await expect(
      a.claimNext(async (claim) => {
        await claim.done(claim.ops[0]!, { xdrId: 'xdr-1' });
        await claim.recordSightingId(claim.ops[1]!, 'sighting-xdr-1');
        throw new Error('the process died');
      }),
    ).rejects.toThrow();
    const again = await b.claimNext(async (claim) => ({ xdrId: claim.incident.xdrId, ops: claim.ops.map((o) => ({ kind: o.kind, xdrSightingId: (o as { xdrSightingId?: string }).xdrSightingId })) }));
    expect(again!.result).toEqual({ xdrId: undefined, ops: [{ kind: 'create_incident', xdrSightingId: undefined }, { kind: 'sighting', xdrSightingId: 'sighting-xdr-1' }] });
  });

  it('records everything a claim did in one commit when it ends: done ops leave, the XDR id and the ids kept until then are written', async () => {
    await incidents(1, 2);
    await a.claimNext(async (claim) => {
      const [first, second] = claim.ops.filter((o) => o.kind === 'sighting');
      await claim.done(claim.ops.find((o) => o.kind === 'create_incident')!, { xdrId: 'xdr-1' });
      await claim.recordSightingId(first!, 'sighting-xdr-1', { untilFlush: true });
      await claim.done(first!);
      await claim.recordSightingId(second!, 'sighting-xdr-2', { untilFlush: true });
    });
    const again = await b.claimNext(async (claim) => ({ xdrId: claim.incident.xdrId, ops: claim.ops.map((o) => ({ kind: o.kind, xdrSightingId: (o as { xdrSightingId?: string }).xdrSightingId })) }));
    expect(again!.result).toEqual({ xdrId: 'xdr-1', ops: [{ kind: 'patch', xdrSightingId: undefined }, { kind: 'sighting', xdrSightingId: 'sighting-xdr-2' }] });
  });
});
