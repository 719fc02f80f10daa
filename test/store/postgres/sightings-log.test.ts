import type pg from 'pg';
import { beforeEach, describe, expect, it } from 'vitest';
import { StoreError } from '../../../src/core/errors.js';
import type { IncomingSighting } from '../../../src/domain/correlation/intake.js';
import { createPool } from '../../../src/store/postgres/pool.js';
import { PostgresSightingsLog } from '../../../src/store/postgres/sightings-log.js';
import { freePort } from '../../support/postgres-cluster.js';
import { testPostgres, useTwoInstances } from '../../support/postgres.js';
import { hostSighting } from './fixtures.js';

const server = await testPostgres();

function sighting(id: string, host = 'ws-042'): IncomingSighting {
  return hostSighting(id, host, { ctim: { type: 'sighting', observables: [{ type: 'domain', value: 'evil.example' }], note: 'quote " and backslash \\ survive' } });
}

describe('the sightings log without a database', () => {
  it('rejects every append of the group with a StoreError naming DATABASE_URL, so nothing is acknowledged', async () => {
    const pool = createPool({ url: `postgres://sightline@127.0.0.1:${await freePort()}/sightline`, connectTimeoutMs: 2000 });
    const log = new PostgresSightingsLog(pool);
    try {
      const results = await Promise.allSettled([log.append([sighting('a')]), log.append([sighting('b')])]);
      for (const r of results) {
        expect(r.status).toBe('rejected');
        const err = (r as PromiseRejectedResult).reason as StoreError;
        expect(err).toBeInstanceOf(StoreError);
        expect(err.userMessage).toMatch(/while accepting sightings; check DATABASE_URL/);
      }
    } finally {
      await pool.end();
    }
  });
});

describe.skipIf(!server)('the committed sightings log, two instances on one database', () => {
  const pools = useTwoInstances(server!);
  let a: PostgresSightingsLog;
  let b: PostgresSightingsLog;
  beforeEach(async () => {
    await pools.a.query('TRUNCATE sightings RESTART IDENTITY');
    a = new PostgresSightingsLog(pools.a);
    b = new PostgresSightingsLog(pools.b);
  });

  const count = async () => Number((await pools.b.query<{ n: string }>('SELECT count(*) AS n FROM sightings')).rows[0]!.n);

  it('has the rows committed, and readable by the other instance, when append resolves', async () => {
    const outcome = await a.append([sighting('s-1'), sighting('s-2')]);
    expect(outcome).toMatchObject({ accepted: 2, duplicates: 0 });
    expect(outcome.items.map((i) => ('seq' in i ? i.seq : -1))).toEqual([1, 2]);
    const { rows } = await pools.b.query<{ id: string; item: IncomingSighting }>('SELECT id, item FROM sightings ORDER BY seq');
    expect(rows.map((r) => r.id)).toEqual(['s-1', 's-2']);
    expect(rows[0]!.item).toEqual(sighting('s-1'));
  });

  it('reports ids seen before, within a batch or earlier, as duplicates', async () => {
    await a.append([sighting('s-1')]);
    const outcome = await b.append([sighting('s-1'), sighting('s-2'), sighting('s-2')]);
    expect(outcome).toMatchObject({ accepted: 1, duplicates: 2 });
    expect(outcome.items).toEqual([{ id: 's-1', duplicate: true }, { id: 's-2', seq: expect.any(Number) }, { id: 's-2', duplicate: true }]);
    expect(await count()).toBe(2);
  });

  it('counts the same id sent to both instances at the same time once', async () => {
    const ids = Array.from({ length: 300 }, (_, i) => `dup-${i}`);
    // Each id goes to both instances, in batches of 10, all at once.
    const sends: Array<Promise<{ accepted: number; duplicates: number }>> = [];
    for (let i = 0; i < ids.length; i += 10) {
      const batch = ids.slice(i, i + 10).map((id) => sighting(id));
      sends.push(a.append(batch), b.append(batch));
    }
    const outcomes = await Promise.all(sends);
    expect(outcomes.reduce((n, o) => n + o.accepted, 0)).toBe(ids.length);
    expect(outcomes.reduce((n, o) => n + o.duplicates, 0)).toBe(ids.length);
    expect(await count()).toBe(ids.length);
  });

  it('settles ids sent to both instances in opposite orders without a deadlock, each counted once', async () => {
    for (let round = 0; round < 5; round++) {
      const ids = Array.from({ length: 2000 }, (_, i) => sighting(`x-${round}-${i}`));
      const [one, two] = await Promise.all([a.append(ids), b.append([...ids].reverse())]);
      expect(one.accepted + two.accepted).toBe(2000);
      expect(one.duplicates + two.duplicates).toBe(2000);
    }
    expect(await count()).toBe(10_000);
  });

  it('commits every concurrent append, sharing transactions (group commit)', async () => {
    const appends = 400;
    const t0 = process.hrtime.bigint();
    const outcomes = await Promise.all(Array.from({ length: appends }, (_, i) => (i % 2 ? a : b).append([sighting(`c-${i}`, `host-${i % 37}`)])));
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    expect(outcomes.every((o) => o.accepted === 1)).toBe(true);
    expect(await count()).toBe(appends);
    const groups = a.stats.groups + b.stats.groups;
    expect(groups).toBeLessThan(appends);
    console.log(`${appends} concurrent appends of one sighting on two instances: ${groups} transactions, ${Math.round((appends / ms) * 1000)} sightings/s (a figure, not a check)`);
  });

  it('splits a backlog bigger than one group into several transactions, all committed', async () => {
    const small = new PostgresSightingsLog(pools.a, { maxGroupRows: 10 });
    const outcomes = await Promise.all(Array.from({ length: 6 }, (_, i) => small.append(Array.from({ length: 4 }, (_, k) => sighting(`g-${i}-${k}`)))));
    expect(outcomes.every((o) => o.accepted === 4)).toBe(true);
    expect(small.stats).toEqual({ groups: 3, rows: 24 });
    expect(await count()).toBe(24);
  });

  it("fails only the request with a value PostgreSQL cannot store, not the others in its group", async () => {
    const bad = { ...sighting('nul-1'), source: 'web\u0000hook' };
    const [good1, refused, good2] = await Promise.allSettled([a.append([sighting('ok-1')]), a.append([bad]), a.append([sighting('ok-2')])]);
    expect(good1).toMatchObject({ status: 'fulfilled', value: { accepted: 1 } });
    expect(good2).toMatchObject({ status: 'fulfilled', value: { accepted: 1 } });
    expect(refused.status).toBe('rejected');
    expect(((refused as PromiseRejectedResult).reason as StoreError).userMessage).toMatch(/refused a value it cannot store while accepting sightings/);
    expect(await count()).toBe(2);
  });

  it('gives a throughput figure for batches from many clients', async () => {
    const clients = 20;
    const perClient = 25;
    const batch = 10;
    const t0 = process.hrtime.bigint();
    await Promise.all(
      Array.from({ length: clients }, async (_, c) => {
        const log = c % 2 ? a : b;
        for (let r = 0; r < perClient; r++) {
          await log.append(Array.from({ length: batch }, (_, k) => sighting(`t-${c}-${r}-${k}`, `host-${k}`)));
        }
      }),
    );
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    const total = clients * perClient * batch;
    expect(await count()).toBe(total);
    console.log(`${total} sightings from ${clients} clients in batches of ${batch}: ${Math.round((total / ms) * 1000)} sightings/s, ${a.stats.groups + b.stats.groups} transactions (a figure, not a check)`);
  });

  it('lets readers claim unapplied rows in order, each row once, and keeps rows whose apply failed', async () => {
    await a.append(Array.from({ length: 50 }, (_, i) => sighting(`r-${i}`)));
    const failed = await a.claim(10, async () => {
      throw new Error('the engine failed');
    }).catch((e: unknown) => e);
    expect(failed).toBeInstanceOf(StoreError);
    const first = await a.claim(5, async (rows) => rows.map((r) => r.seq));
    expect(first).toEqual({ claimed: 5, result: [1, 2, 3, 4, 5] });
    // Two readers at once, each holding its rows while it applies: they never take the same row.
    const seen: number[] = [];
    const reader = (log: PostgresSightingsLog) => async () => {
      for (let i = 0; i < 20; i++) {
        const { claimed } = await log.claim(4, async (rows) => {
          await new Promise((r) => setTimeout(r, 5));
          seen.push(...rows.map((r) => r.seq));
        });
        if (claimed === 0) break;
      }
    };
    await Promise.all([reader(a)(), reader(b)()]);
    expect(seen.sort((x, y) => x - y)).toEqual(Array.from({ length: 45 }, (_, i) => i + 6));
    expect(Number((await pools.a.query('SELECT count(*) AS n FROM sightings WHERE applied_at IS NULL')).rows[0].n)).toBe(0);
  });

  it('claims from the lowest seq it last saw unapplied, and still takes a row below it: when nothing is above, and at each full scan', async () => {
    let now = 0;
    const log = new PostgresSightingsLog(pools.a, { fullScanMs: 1000, nowMs: () => now });
    const claimSeqs = async () => (await log.claim(10, async (rows) => rows.map((r) => r.seq))).result ?? [];
    // A row committed after a higher seq was claimed, as a slow group or another reader's rolled-back claim leaves one.
    const late = (seq: number) => pools.b.query('INSERT INTO sightings (seq, id, item) VALUES ($1, $2, $3)', [seq, `late-${seq}`, JSON.stringify(sighting(`late-${seq}`))]);
    await pools.a.query(`SELECT setval('sightings_seq_seq', 9)`);
    await a.append([sighting('f-10')]);
    expect(await claimSeqs()).toEqual([10]);
    await late(5);
    await a.append([sighting('f-11')]);
    now = 100;
    expect(await claimSeqs()).toEqual([11]);
    now = 200;
    expect(await claimSeqs()).toEqual([5]);
    await late(6);
    await a.append([sighting('f-12')]);
    now = 1300;
    expect(await claimSeqs()).toEqual([6, 12]);
    expect(Number((await pools.b.query('SELECT count(*) AS n FROM sightings WHERE applied_at IS NULL')).rows[0].n)).toBe(0);
    expect(await claimSeqs()).toEqual([]);
  });

  it('drops the body of a sighting once applied, keeps it while it waits, and still counts a resent id once', async () => {
    await a.append([sighting('body-1'), sighting('body-2'), sighting('body-3')]);
    // One left for a later claim (its target was held elsewhere): it keeps its body, and is claimed again with it.
    await a.claim(10, async (rows) => rows, (rows) => [rows[2]!.seq]);
    const { rows } = await pools.b.query<{ id: string; item: IncomingSighting | null; applied: boolean }>(
      'SELECT id, item, applied_at IS NOT NULL AS applied FROM sightings ORDER BY seq',
    );
    expect(rows.map((r) => [r.id, r.applied, r.item === null])).toEqual([
      ['body-1', true, true],
      ['body-2', true, true],
      ['body-3', false, false],
    ]);
    const again = await b.claim(10, async (claimed) => claimed.map((r) => r.item));
    expect(again.result).toEqual([sighting('body-3')]);
    expect(await b.append([sighting('body-1'), sighting('body-4')])).toMatchObject({ accepted: 1, duplicates: 1 });
  });
});
