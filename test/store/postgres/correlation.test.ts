import type pg from 'pg';
import { beforeEach, describe, expect, it } from 'vitest';
import { applySighting } from '../../../src/domain/correlation/correlator.js';
import { toIncidentView } from '../../../src/domain/correlation/describe.js';
import type { IncomingSighting } from '../../../src/domain/correlation/intake.js';
import { parseLadder } from '../../../src/domain/correlation/ladder.js';
import { emptyCorrelationState, type Incident } from '../../../src/domain/correlation/types.js';
import { enqueueForSighting } from '../../../src/domain/correlation/xdr-sync.js';
import { PostgresCorrelationStore, type AppliedBatch, type IncidentPage, type PageRequest } from '../../../src/store/postgres/correlation.js';
import { PostgresSightingsLog, type LoggedSighting } from '../../../src/store/postgres/sightings-log.js';
import { testPostgres, useTwoInstances } from '../../support/postgres.js';
import { hostSighting } from './fixtures.js';

const server = await testPostgres();

// Evaluation order is highest first: count 2 fires "eq 2", count 3 and up fire "gte 3" once.
const rungs = parseLadder('eq 2 -> notify; gte 3 -> mention');
const opts = { rungs, rejectedIsClosed: true, dryRun: true };

function sighting(id: string, host: string, observedAt = '2026-11-30T10:00:00.000Z', ioc = 'evil.example'): IncomingSighting {
  return hostSighting(id, host, { observedAt, ioc: { type: 'domain', value: ioc }, ctim: { type: 'sighting', observables: [{ type: 'domain', value: ioc }], tactics: ['TA0001'] } });
}

/** A deterministic random sequence, so a failure can be reproduced. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

describe.skipIf(!server)('correlation on PostgreSQL, two instances on one database', () => {
  const pools = useTwoInstances(server!);
  let logA: PostgresSightingsLog;
  let logB: PostgresSightingsLog;
  let a: PostgresCorrelationStore;
  let b: PostgresCorrelationStore;

  beforeEach(async () => {
    await pools.a.query('TRUNCATE sightings, incidents, incident_sightings, incident_rungs, xdr_ops RESTART IDENTITY CASCADE');
    logA = new PostgresSightingsLog(pools.a);
    logB = new PostgresSightingsLog(pools.b);
    a = new PostgresCorrelationStore(pools.a, logA, opts);
    b = new PostgresCorrelationStore(pools.b, logB, opts);
  });

  const scalar = async (sql: string, params: unknown[] = []) => Number((await pools.b.query<{ n: string }>(sql, params)).rows[0]!.n);

  /** Applies until the log has nothing left for this instance and `more()` says no more will come (bounded). */
  async function drain(store: PostgresCorrelationStore, more: () => boolean): Promise<AppliedBatch[]> {
    const out: AppliedBatch[] = [];
    for (let i = 0; i < 5_000; i++) {
      const r = await store.applyNext(25);
      if (r.result) out.push(r.result);
      if (r.claimed === 0) {
        if (!more()) return out;
        await new Promise((res) => setTimeout(res, 2));
      }
    }
    throw new Error('drain did not finish in 5,000 passes');
  }

  it('counts claimed sightings into one incident with the domain rules: counts, sightings, rungs and XDR ops in the claim transaction', async () => {
    await logA.append([sighting('s-1', 'WS-042'), sighting('s-2', 'ws-042', '2026-11-30T09:00:00.000Z', 'bad.example'), sighting('s-3', 'ws-042.')]);
    const { claimed, result } = await a.applyNext();
    expect(claimed).toBe(3);
    expect(result!.opened).toHaveLength(1);
    const inc = (await b.incidentByTarget('hostname:ws-042'))!;
    expect(inc).toMatchObject({ id: result!.opened[0], count: 3, targetValue: 'ws-042', status: 'New', firstSeen: '2026-11-30T09:00:00.000Z' });
    // The late, earlier observation became the initial event, as the domain decides.
    expect(inc.initial.ioc.value).toBe('bad.example');
    expect(inc.tactics).toEqual(['TA0001']);
    expect(inc.rungsFired.map((r) => [r.rung, r.count])).toEqual([
      ['eq 2', 2],
      ['gte 3', 3],
    ]);
    expect(result!.rungsFired.map((f) => [f.rung.label, f.count])).toEqual([
      ['eq 2', 2],
      ['gte 3', 3],
    ]);
    expect(await scalar('SELECT count(*) AS n FROM incident_sightings WHERE incident_id = $1', [inc.id])).toBe(3);
    expect(await scalar('SELECT count(*) AS n FROM sightings WHERE applied_at IS NULL')).toBe(0);

    // The same sightings through the domain in memory give the same incident and the same XDR queue.
    const mem = emptyCorrelationState();
    const items = [sighting('s-1', 'WS-042'), sighting('s-2', 'ws-042', '2026-11-30T09:00:00.000Z', 'bad.example'), sighting('s-3', 'ws-042.')];
    items.forEach((s, i) => {
      const seq = i + 1;
      enqueueForSighting(mem, applySighting(mem, { ...s, seq }, new Date(), { ...opts, newId: () => 'inc-mem' }), { ...s, seq });
    });
    const m = mem.incidents['inc-mem']!;
    expect({ count: inc.count, iocs: inc.iocs, sources: inc.sources, recent: inc.recentSightings }).toEqual({ count: m.count, iocs: m.iocs, sources: m.sources, recent: m.recentSightings });
    const { rows: ops } = await pools.b.query<{ kind: string; seq: string | null }>('SELECT kind, seq FROM xdr_ops WHERE incident_id = $1 ORDER BY id', [inc.id]);
    expect(ops.map((o) => [o.kind, o.seq === null ? null : Number(o.seq)])).toEqual(m.xdrSync.pending.map((o) => [o.kind, o.kind === 'sighting' ? o.seq : null]));
    // describe.ts renders it as any incident.
    expect(toIncidentView(inc)).toMatchObject({ id: inc.id, count: 3, lastIoc: { type: 'domain', value: 'evil.example' }, rungsFired: ['eq 2', 'gte 3'] });
  });

  it('keeps one open incident per target when two instances open it at the same time: the second leaves the target for its next batch, then counts into it, and the rung fires once', async () => {
    const row = (seq: number, id: string, host = 'race-host'): LoggedSighting => ({ seq, id, item: sighting(id, host), acceptedAt: new Date() });
    const txA = await pools.a.connect();
    const txB = await pools.b.connect();
    try {
      await txA.query('BEGIN');
      await txB.query('BEGIN');
      const first = await a.applyClaimed([row(1, 'r-1')], txA);
      expect(first.opened).toHaveLength(1);
      // B does not wait for A's uncommitted incident: it counts its other target and leaves this one.
      const second = await b.applyClaimed([row(2, 'r-2'), row(3, 'o-1', 'other-host')], txB);
      expect(second.deferred).toEqual([2]);
      expect(second.applied.map((x) => x.seq)).toEqual([3]);
      await txA.query('COMMIT');
      await txB.query('COMMIT');
      await txB.query('BEGIN');
      const again = await b.applyClaimed([row(2, 'r-2')], txB);
      await txB.query('COMMIT');
      expect(again.deferred).toEqual([]);
      expect(again.opened).toEqual([]);
      expect(again.applied).toEqual([{ seq: 2, id: 'r-2', incidentId: first.opened[0], created: false }]);
      expect(again.rungsFired.map((f) => f.rung.label)).toEqual(['eq 2']);
    } finally {
      txA.release();
      txB.release();
    }
    expect(await scalar("SELECT count(*) AS n FROM incidents WHERE target_key = 'hostname:race-host'")).toBe(1);
    expect((await a.incidentByTarget('hostname:race-host'))!.count).toBe(2);
  });

  it('does not wait for an incident row held elsewhere (a close, the mirror): that target\'s sightings stay unapplied for the next batch, in order', async () => {
    await logA.append([sighting('h-1', 'held-host'), sighting('f-1', 'free-host')]);
    await a.applyNext();
    const held = (await a.incidentByTarget('hostname:held-host'))!;
    await logA.append([sighting('h-2', 'held-host'), sighting('f-2', 'free-host'), sighting('h-3', 'held-host')]);
    const holder = await pools.b.connect();
    try {
      await holder.query('BEGIN');
      await holder.query('SELECT id FROM incidents WHERE id = $1 FOR UPDATE', [held.id]);
      // Would wait for the holder's commit (which comes only after it): it must not.
      const r = await a.applyNext();
      expect(r.claimed).toBe(3);
      expect(r.result!.applied.map((x) => x.id)).toEqual(['f-2']);
      expect(r.result!.deferred).toHaveLength(2);
      expect(await scalar("SELECT count(*) AS n FROM sightings WHERE applied_at IS NULL")).toBe(2);
      await holder.query('COMMIT');
    } finally {
      holder.release();
    }
    const next = await a.applyNext();
    expect(next.result!.applied.map((x) => x.id)).toEqual(['h-2', 'h-3']);
    expect((await a.incidentByTarget('hostname:held-host'))!.count).toBe(3);
    expect((await a.incidentByTarget('hostname:free-host'))!.count).toBe(2);
  });

  it("records an incident's card message id while a counting batch holds the incident, and reads show it", async () => {
    await logA.append([sighting('c-1', 'card-host')]);
    await a.applyNext();
    const inc = (await a.incidentByTarget('hostname:card-host'))!;
    const counting = await pools.b.connect();
    try {
      await counting.query('BEGIN');
      // As the apply loop locks a batch's incidents; the write below would wait for this commit, which comes after it.
      await counting.query('SELECT id FROM incidents WHERE id = $1 FOR NO KEY UPDATE', [inc.id]);
      await a.recordCardMessage(inc.id, 'msg-1');
      await a.recordCardMessage(inc.id, 'msg-2');
      await counting.query('COMMIT');
    } finally {
      counting.release();
    }
    expect((await b.incident(inc.id))!.cardMessageId).toBe('msg-2');
    expect((await b.incidentByTarget('hostname:card-host'))!.cardMessageId).toBe('msg-2');
    expect((await b.openIncidents({ limit: 10 })).items[0]!.cardMessageId).toBe('msg-2');
  });

  it('takes another id when the random one is taken already', async () => {
    const ids = ['inc-same', 'inc-same', 'inc-other'];
    const store = new PostgresCorrelationStore(pools.a, logA, { ...opts, newId: () => ids.shift() ?? 'inc-spare' });
    await logA.append([sighting('i-1', 'first')]);
    await store.applyNext();
    await logA.append([sighting('i-2', 'second')]);
    const { result } = await store.applyNext();
    expect(result).toMatchObject({ opened: ['inc-other'], retries: 1 });
    expect((await b.incidentByTarget('hostname:first'))!.id).toBe('inc-same');
    expect((await b.incidentByTarget('hostname:second'))!.count).toBe(1);
  });

  it('with clients sending to both instances and both applying concurrently: one open incident per target, counts equal the distinct sightings, each rung once', async () => {
    const rand = rng(15);
    const hosts = Array.from({ length: 12 }, (_, i) => `host-${i}`);
    const sent: IncomingSighting[] = [];
    for (let i = 0; i < 600; i++) sent.push(sighting(`id-${i}`, hosts[Math.floor(rand() * hosts.length)]!, new Date(Date.UTC(2026, 10, 30, 0, 0, i)).toISOString()));
    let appending = true;
    const appends = (async () => {
      for (let i = 0; i < sent.length; i += 20) {
        const chunk = sent.slice(i, i + 20);
        // Every fourth chunk goes to both instances: an id sent to both must count once.
        const both = i % 80 === 0;
        await Promise.all([logA.append(chunk.filter((_, j) => both || j % 2 === 0)), logB.append(chunk.filter((_, j) => both || j % 2 === 1))]);
      }
    })().finally(() => (appending = false));
    const [batchesA, batchesB] = await Promise.all([drain(a, () => appending), drain(b, () => appending)]);
    await appends;
    const tail = await drain(a, () => false);
    const batches = [...batchesA, ...batchesB, ...tail];

    expect(await scalar('SELECT count(*) AS n FROM sightings WHERE applied_at IS NULL')).toBe(0);
    expect(await scalar('SELECT count(*) AS n FROM incidents WHERE closed_at IS NULL')).toBe(hosts.length);
    const { rows } = await pools.b.query<{ target_key: string; count: string; n: string }>(
      `SELECT i.target_key, i.count, (SELECT count(*) FROM incident_sightings s WHERE s.incident_id = i.id) AS n FROM incidents i`,
    );
    // The lowdb engine's rules in memory, over the same distinct sightings, give the same counts per target.
    const mem = emptyCorrelationState();
    let n = 0;
    sent.forEach((s, i) => applySighting(mem, { ...s, seq: i + 1 }, new Date(), { ...opts, newId: () => `m-${n++}` }));
    const expected = Object.fromEntries(Object.values(mem.incidents).map((i) => [i.targetKey, i.count]));
    expect(Object.fromEntries(rows.map((r) => [r.target_key, Number(r.count)]))).toEqual(expected);
    for (const r of rows) expect(Number(r.n)).toBe(Number(r.count));
    expect(batches.reduce((sum, b) => sum + b.applied.length, 0)).toBe(sent.length);
    // Each rung fired once per incident, reported by exactly one instance.
    const fired = batches.flatMap((b) => b.rungsFired.map((f) => `${f.incidentId} ${f.rung.label}`));
    expect(new Set(fired).size).toBe(fired.length);
    expect(fired).toHaveLength(await scalar('SELECT count(*) AS n FROM incident_rungs'));
    expect(await scalar('SELECT count(*) AS n FROM incident_rungs')).toBe(2 * hosts.length);
    console.info(`correlation on two instances: ${sent.length} sightings in ${batches.length} batches, ${batches.reduce((s, b) => s + b.retries, 0)} target(s) loaded again after a lost race`);
  });

  it('with closes racing the counting on both instances: every sighting counted once, and each target a chain of incidents, each related to the one before', async () => {
    const rand = rng(7);
    const hosts = Array.from({ length: 6 }, (_, i) => `chain-${i}`);
    const sent = Array.from({ length: 400 }, (_, i) => sighting(`k-${i}`, hosts[Math.floor(rand() * hosts.length)]!));
    let appending = true;
    let closes = 0;
    const appends = (async () => {
      for (let i = 0; i < sent.length; i += 10) {
        // Every 100 sightings, wait (bounded) for the closer to have closed one more, so sightings surely follow closes.
        for (let w = 0; i > 0 && i % 100 === 0 && closes < i / 100 && w < 1_000; w++) await new Promise((r) => setTimeout(r, 5));
        const chunk = sent.slice(i, i + 10);
        await Promise.all([logA.append(chunk.slice(0, 5)), logB.append(chunk.slice(5))]);
        await new Promise((r) => setTimeout(r, 1));
      }
    })().finally(() => (appending = false));
    const closer = (async () => {
      for (let i = 0; i < 2_000 && appending; i++) {
        const open = (await b.openIncidents({ limit: 50 })).items;
        const pick = open[Math.floor(rand() * open.length)];
        if (pick && (await (i % 2 ? a : b).close(pick.id, 'closer'))) closes++;
        await new Promise((r) => setTimeout(r, 5));
      }
    })();
    await Promise.all([drain(a, () => appending), drain(b, () => appending), closer]);
    await appends;
    await drain(a, () => false);

    const { rows } = await pools.a.query<{ id: string; target_key: string; count: string; previous_incident_id: string | null; closed_at: Date | null; n: string }>(
      `SELECT i.id, i.target_key, i.count, i.previous_incident_id, i.closed_at,
              (SELECT count(*) FROM incident_sightings s WHERE s.incident_id = i.id) AS n
       FROM incidents i ORDER BY i.target_key, i.ordinal`,
    );
    expect(rows.reduce((sum, r) => sum + Number(r.count), 0)).toBe(sent.length);
    for (const r of rows) expect(Number(r.n)).toBe(Number(r.count));
    for (const host of hosts) {
      const chain = rows.filter((r) => r.target_key === `hostname:${host}`);
      expect(chain.length).toBeGreaterThan(0);
      chain.forEach((r, i) => {
        expect(r.previous_incident_id).toBe(i === 0 ? null : chain[i - 1]!.id);
        // Only the newest may be open.
        if (i < chain.length - 1) expect(r.closed_at).not.toBeNull();
      });
    }
    expect(closes).toBeGreaterThanOrEqual(3);
    expect(rows.length).toBeGreaterThan(hosts.length);
    console.info(`closes racing the counting: ${closes} closes, ${rows.length} incidents over ${hosts.length} targets`);
  });

  it('closes once on any instance, and a new sighting then opens a new incident related to the closed one', async () => {
    await logA.append([sighting('c-1', 'ws-7'), sighting('c-2', 'ws-7')]);
    await a.applyNext();
    const first = (await a.incidentByTarget('hostname:ws-7'))!;
    const closed = await b.close(first.id, 'alice', 'false positive');
    expect(closed).toMatchObject({ id: first.id, status: 'Closed', closedBy: 'alice', closeReason: 'false positive' });
    expect(closed!.closedAt).toBeDefined();
    expect(await a.close(first.id, 'bob')).toBeUndefined();
    expect(await scalar("SELECT count(*) AS n FROM xdr_ops WHERE incident_id = $1 AND kind = 'status' AND status = 'Closed'", [first.id])).toBe(1);

    await logB.append([sighting('c-3', 'ws-7')]);
    const { result } = await b.applyNext();
    expect(result!.opened).toHaveLength(1);
    expect(result!.applied[0]).toMatchObject({ created: true, previousIncidentId: first.id });
    const second = (await a.incidentByTarget('hostname:ws-7'))!;
    expect(second).toMatchObject({ id: result!.opened[0], count: 1, previousIncidentId: first.id });
    expect(second.closedAt).toBeUndefined();
    const { rows } = await pools.a.query<{ kind: string; previous_incident_id: string | null }>('SELECT kind, previous_incident_id FROM xdr_ops WHERE incident_id = $1 ORDER BY id', [second.id]);
    expect(rows.map((r) => r.kind)).toEqual(['create_incident', 'relate_previous', 'sighting']);
    expect(rows[1]!.previous_incident_id).toBe(first.id);
    expect((await a.incident(first.id))!.count).toBe(2);
  });

  it('links each new incident to the one closed just before it, however long the history of the target', async () => {
    const chain: string[] = [];
    for (let i = 0; i < 4; i++) {
      await logA.append([sighting(`h-${i}`, 'ws-8')]);
      const { result } = await (i % 2 ? b : a).applyNext();
      chain.push(result!.opened[0]!);
      if (i < 3) await (i % 2 ? a : b).close(chain[i]!, 'alice');
    }
    const incidents = await Promise.all(chain.map((id) => a.incident(id)));
    expect(incidents.map((i) => i!.previousIncidentId)).toEqual([undefined, chain[0], chain[1], chain[2]]);
    await logB.append([sighting('h-4', 'ws-8')]);
    await a.applyNext();
    expect((await a.incidentByTarget('hostname:ws-8'))!).toMatchObject({ id: chain[3], count: 2 });
    // What the chat side records afterwards, from any instance.
    await b.recordCardMessage(chain[3]!, 'msg-1');
    await a.recordRungOutcome(chain[3]!, 'eq 2', 'notify: sent');
    const last = (await a.incident(chain[3]!))!;
    expect(last.cardMessageId).toBe('msg-1');
    expect(last.rungsFired).toEqual([expect.objectContaining({ rung: 'eq 2', count: 2, outcome: 'notify: sent' })]);
  });

  it('counts into a new incident when the open one has a closed status XDR reported (Rejected), closing the old one in the table', async () => {
    await logA.append([sighting('x-1', 'ws-9')]);
    await a.applyNext();
    const old = (await a.incidentByTarget('hostname:ws-9'))!;
    await pools.a.query("UPDATE incidents SET status = 'Rejected' WHERE id = $1", [old.id]);
    await logA.append([sighting('x-2', 'ws-9')]);
    const { result } = await b.applyNext();
    expect(result!.applied[0]).toMatchObject({ created: true, previousIncidentId: old.id });
    expect((await a.incident(old.id))!.closedAt).toBeDefined();
    expect(await scalar("SELECT count(*) AS n FROM incidents WHERE target_key = 'hostname:ws-9' AND closed_at IS NULL")).toBe(1);
  });

  it('reads incidents for notification views without their sightings list, and the views are the same', async () => {
    await logA.append([sighting('v-1', 'ws-100'), sighting('v-2', 'ws-100', '2026-11-30T10:05:00.000Z', 'other.example'), sighting('v-3', 'ws-101')]);
    const { result } = await a.applyNext();
    await a.recordCardMessage(result!.opened[0]!, 'msg-card-1');
    const ids = [...result!.opened, 'inc-unknown'];
    const full = await b.incidents(ids);
    const light = await b.incidentsForViews(ids);
    expect(light.map((i) => i.id).sort()).toEqual(full.map((i) => i.id).sort());
    expect(full.some((i) => i.recentSightings.length > 0)).toBe(true);
    for (const inc of light) {
      const same = full.find((f) => f.id === inc.id)!;
      expect(inc.recentSightings).toEqual([]);
      expect(inc).toEqual({ ...same, recentSightings: [] });
      expect(toIncidentView(inc, 'https://xdr.example/{shortId}')).toEqual(toIncidentView(same, 'https://xdr.example/{shortId}'));
    }
    expect(light.find((i) => i.id === result!.opened[0])!.cardMessageId).toBe('msg-card-1');
  });

  describe('paging', () => {
    async function all(fetch: (p: PageRequest) => Promise<IncidentPage>, limit: number): Promise<Incident[]> {
      const out: Incident[] = [];
      let after: string | undefined;
      for (let i = 0; i < 100; i++) {
        const page = await fetch({ limit, ...(after ? { after } : {}) });
        expect(page.items.length).toBeLessThanOrEqual(limit);
        out.push(...page.items);
        if (!page.next) return out;
        after = page.next;
      }
      throw new Error('more than 100 pages');
    }

    it('returns every incident once across pages, newest first, also when several closed at the same instant', async () => {
      const hosts = Array.from({ length: 23 }, (_, i) => `p-${String(i).padStart(2, '0')}`);
      await logA.append(hosts.map((h, i) => sighting(`p-${i}`, h, new Date(Date.UTC(2026, 10, 1, 0, i)).toISOString())));
      await a.applyNext();
      // Closes at three instants, several at each: the ordinal must break the ties.
      let tick = 0;
      const closer = new PostgresCorrelationStore(pools.b, logB, { ...opts, now: () => new Date(Date.UTC(2026, 11, 1, 0, 0, Math.floor(tick++ / 4))) });
      const incidents = (await a.allIncidents({ limit: 500 })).items;
      const toClose = incidents.filter((_, i) => i % 2 === 0);
      for (const inc of toClose) await closer.close(inc.id, 'alice');

      const closed = await all((p) => b.closedIncidents(p), 5);
      expect(closed.map((i) => i.id).sort()).toEqual(toClose.map((i) => i.id).sort());
      const keys = closed.map((i) => [i.closedAt!, i.ordinal] as const);
      for (let i = 1; i < keys.length; i++) {
        const [t0, o0] = keys[i - 1]!;
        const [t1, o1] = keys[i]!;
        expect(t0 > t1 || (t0 === t1 && o0 > o1)).toBe(true);
      }

      const open = await all((p) => a.openIncidents(p), 4);
      expect(open.map((i) => i.id).sort()).toEqual(incidents.filter((_, i) => i % 2 === 1).map((i) => i.id).sort());
      expect(open.map((i) => i.lastSeen)).toEqual([...open.map((i) => i.lastSeen)].sort().reverse());

      const everything = await all((p) => b.allIncidents(p), 7);
      expect(everything.map((i) => i.ordinal)).toEqual([...incidents.map((i) => i.ordinal)].sort((x, y) => y - x));
      // Page numbers, as a chat command gives them, cover the same list.
      const byNumber: Incident[] = [];
      for (let page = 1; page <= 4; page++) byNumber.push(...(await b.allIncidents({ limit: 7, page })).items);
      expect(byNumber.map((i) => i.id)).toEqual(everything.map((i) => i.id));
    });

    it('refuses a page marker it did not hand out with a sentence saying what to do', async () => {
      await expect(a.closedIncidents({ after: 'not-a-marker' })).rejects.toThrow(/start again from the first page/);
    });
  });
});
