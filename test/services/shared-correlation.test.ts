import type pg from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/core/logger.js';
import { parseLadder } from '../../src/domain/correlation/ladder.js';
import type { XdrPort } from '../../src/domain/ports/xdr.js';
import type { Notification } from '../../src/notify/notification.js';
import { PostgresCorrelationStore } from '../../src/store/postgres/correlation.js';
import { PostgresIntake } from '../../src/store/postgres/intake.js';
import { PostgresSightingsLog } from '../../src/store/postgres/sightings-log.js';
import { SharedCorrelation, type SharedCorrelationDeps, type TransactionalNotifier } from '../../src/services/shared-correlation.js';
import { pgOpenIncidentLookup } from '../../src/services/open-incident.js';
import { PostgresIncidentService } from '../../src/services/pg-incident-service.js';
import { testPostgres, useTwoInstances } from '../support/postgres.js';
import { harness, ask } from '../bot/fakes.js';
import { hostSighting } from '../store/postgres/fixtures.js';
import { ManualTimers } from '../domain/correlation/helpers.js';

const server = await testPostgres();

// Evaluation order is highest first: count 2 fires "eq 2", count 3 and up fires "gte 3" once.
const rungs = parseLadder('eq 2 -> notify; gte 3 -> mention, respond');
const config = { coalesceMs: 0, dryRun: false, oncall: ['oncall@example.com'], responseActions: [], webhookUrl: undefined, rejectedIsClosed: true };

/**
 * The Notifier port's transactional side, as PostgresNotifier gives it: rows in the caller's
 * transaction (so a rolled-back batch queues nothing), a dedupe key queued once on any instance.
 */
class TableNotifier implements TransactionalNotifier {
  constructor(private readonly pool: pg.Pool) {}
  async notify(n: Notification): Promise<void> {
    await this.pool.query('INSERT INTO test_notes (kind, incident_id, body) VALUES ($1, $2, $3)', [n.kind, incidentOf(n), n]);
  }
  async notifyIn(tx: pg.ClientBase, n: Notification, dedupeKey?: string): Promise<boolean> {
    const r = await tx.query('INSERT INTO test_notes (dedupe_key, kind, incident_id, body) VALUES ($1, $2, $3, $4) ON CONFLICT (dedupe_key) DO NOTHING', [dedupeKey ?? null, n.kind, incidentOf(n), n]);
    return (r.rowCount ?? 0) > 0;
  }
}

/** The same with the optional batch call (instance B uses it, A the one-by-one path). */
class BatchTableNotifier extends TableNotifier {
  async notifyAllIn(tx: pg.ClientBase, items: Array<{ notification: Notification; dedupeKey?: string }>): Promise<void> {
    await tx.query(
      `INSERT INTO test_notes (dedupe_key, kind, incident_id, body)
       SELECT e->>'dedupe_key', e->>'kind', e->>'incident_id', e->'body' FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS t(e, n)
       ORDER BY n ON CONFLICT (dedupe_key) DO NOTHING`,
      [JSON.stringify(items.map((i) => ({ dedupe_key: i.dedupeKey ?? null, kind: i.notification.kind, incident_id: incidentOf(i.notification), body: i.notification })))],
    );
  }
}

function incidentOf(n: Notification): string | null {
  return 'incident' in n ? n.incident.id : null;
}

const noXdr = {} as XdrPort;

interface Instance {
  log: PostgresSightingsLog;
  store: PostgresCorrelationStore;
  loop: SharedCorrelation;
  intake: PostgresIntake;
  service: PostgresIncidentService;
}

describe.skipIf(!server)('SharedCorrelation: two instances counting into one database', () => {
  const pools = useTwoInstances(server!);
  const responded: string[] = [];
  const logs: Record<string, unknown>[] = [];
  const logger = createLogger({ level: 'info', destination: { write: (line: string) => void logs.push(JSON.parse(line) as Record<string, unknown>) } });
  const running: SharedCorrelation[] = [];

  beforeAll(async () => {
    await pools.a.query(`CREATE TABLE test_notes (n serial PRIMARY KEY, dedupe_key text UNIQUE, kind text NOT NULL, incident_id text, body jsonb NOT NULL)`);
  });

  // Registered after useTwoInstances' hooks, so it runs before its pools end.
  afterAll(async () => {
    for (const loop of running.splice(0)) await loop.stop();
  });

  beforeEach(async () => {
    for (const loop of running.splice(0)) await loop.stop();
    await pools.a.query('TRUNCATE sightings, incidents, incident_sightings, incident_rungs, xdr_ops, test_notes RESTART IDENTITY CASCADE');
    responded.length = 0;
    logs.length = 0;
  });

  function instance(pool: pg.Pool, over: Partial<SharedCorrelationDeps> = {}): Instance {
    const log = new PostgresSightingsLog(pool);
    const store = new PostgresCorrelationStore(pool, log, { rungs, rejectedIsClosed: true, dryRun: false });
    const loop = new SharedCorrelation({
      store,
      notifier: pool === pools.b ? new BatchTableNotifier(pool) : new TableNotifier(pool),
      xdr: noXdr,
      logger,
      config,
      responder: async (view) => {
        responded.push(view.id);
        return 'blocked';
      },
      pollMs: 20,
      maxBackoffMs: 100,
      batchSize: 25,
      ...over,
    });
    running.push(loop);
    return { log, store, loop, intake: new PostgresIntake(log, loop), service: new PostgresIncidentService(store, loop) };
  }

  const scalar = async (sql: string, params: unknown[] = []) => Number((await pools.b.query<{ n: string }>(sql, params)).rows[0]!.n);
  const notes = async (kind: string) => (await pools.b.query<{ incident_id: string; dedupe_key: string | null; body: Notification }>('SELECT incident_id, dedupe_key, body FROM test_notes WHERE kind = $1 ORDER BY n', [kind])).rows;

  /** Until no sighting waits and every loop has run its side effects (bounded). */
  async function settle(...instances: Instance[]): Promise<void> {
    for (let i = 0; i < 500; i++) {
      await Promise.all(instances.map((x) => x.loop.idle()));
      if ((await scalar('SELECT count(*) AS n FROM sightings WHERE applied_at IS NULL')) === 0) {
        await Promise.all(instances.map((x) => x.loop.idle()));
        return;
      }
    }
    throw new Error('sightings still waiting after 500 rounds');
  }

  /** Every incident's count matches its sightings, each accepted id counted once, one open per target. */
  async function expectCountedOnce(uniqueIds: number): Promise<void> {
    expect(await scalar('SELECT coalesce(sum(count), 0) AS n FROM incidents')).toBe(uniqueIds);
    expect(await scalar('SELECT count(*) AS n FROM incident_sightings')).toBe(uniqueIds);
    expect(await scalar('SELECT count(DISTINCT seq) AS n FROM incident_sightings')).toBe(uniqueIds);
    expect(await scalar('SELECT count(*) AS n FROM (SELECT target_key FROM incidents WHERE closed_at IS NULL GROUP BY target_key HAVING count(*) > 1) d')).toBe(0);
  }

  /** One card per incident, and per incident that reached 3: one notify, one mention, one respond message and one response. */
  async function expectMessagesOnce(): Promise<void> {
    const incidents = (await pools.b.query<{ id: string; count: string }>('SELECT id, count FROM incidents')).rows;
    const opened = await notes('incident_opened');
    expect(opened.map((r) => r.incident_id).sort()).toEqual(incidents.map((i) => i.id).sort());
    const fired = await notes('rung_fired');
    for (const inc of incidents) {
      const mine = fired.filter((r) => r.incident_id === inc.id).map((r) => `${r.body.kind === 'rung_fired' ? r.body.rung : ''}/${r.body.kind === 'rung_fired' ? r.body.action : ''}`).sort();
      expect(mine).toEqual(Number(inc.count) >= 3 ? ['eq 2/notify', 'gte 3/mention', 'gte 3/respond'] : Number(inc.count) === 2 ? ['eq 2/notify'] : []);
    }
    const reached3 = incidents.filter((i) => Number(i.count) >= 3).map((i) => i.id).sort();
    expect([...responded].sort()).toEqual(reached3);
  }

  it('counts each sighting once, opens one incident per target and queues each card and rung message once, with sightings sent to both instances', async () => {
    const a = instance(pools.a);
    const b = instance(pools.b);
    a.loop.start();
    b.loop.start();
    // 240 ids over 12 hosts; every id is sent to BOTH instances (a client retrying elsewhere), in bursts.
    const ids = Array.from({ length: 240 }, (_, i) => hostSighting(`s-${i}`, `host-${i % 12}`, { observedAt: new Date(Date.UTC(2026, 10, 30, 10, 0, i)).toISOString() }));
    const outcomes = [];
    for (let i = 0; i < ids.length; i += 20) {
      const chunk = ids.slice(i, i + 20);
      outcomes.push(...(await Promise.all([a.intake.accept(chunk), b.intake.accept([...chunk].reverse())])));
    }
    expect(outcomes.reduce((s, o) => s + o.accepted, 0)).toBe(240);
    expect(outcomes.reduce((s, o) => s + o.duplicates, 0)).toBe(240);
    await settle(a, b);
    await expectCountedOnce(240);
    expect(await scalar('SELECT count(*) AS n FROM incidents')).toBe(12);
    expect(await scalar('SELECT count(*) AS n FROM incidents WHERE count = 20')).toBe(12);
    await expectMessagesOnce();
    // Nothing failed on the way (a failing instance would leave the work to the other one unnoticed).
    expect(logs.filter((l) => (l.level as number) >= 50)).toEqual([]);
    expect(a.loop.stats.applied + b.loop.stats.applied).toBe(240);
    // The rung outcomes were recorded after the actions ran.
    expect(await scalar(`SELECT count(*) AS n FROM incident_rungs WHERE rung = 'gte 3' AND outcome = 'mention: sent; respond: blocked'`)).toBe(12);
    // Updates (coalescing 0: one per batch and incident counted into): the room ends up seeing every incident's final count.
    const shown = new Map<string, number>();
    for (const r of [...(await notes('incident_opened')), ...(await notes('incident_updated'))]) {
      if (r.body.kind === 'incident_opened' || r.body.kind === 'incident_updated') shown.set(r.incident_id, Math.max(shown.get(r.incident_id) ?? 0, r.body.incident.count));
    }
    expect([...shown.values()]).toEqual(Array.from({ length: 12 }, () => 20));
    const updates = await notes('incident_updated');
    expect(updates.every((r) => r.body.kind === 'incident_updated' && r.body.newSightings > 0)).toBe(true);
  });

  it('loses no count and counts none twice when an instance crashes after applying (its transaction fails before the commit)', async () => {
    let crashes = 0;
    const a = instance(pools.a, {
      beforeCommit: async (batch) => {
        if (batch.applied.length > 0 && crashes < 4) {
          crashes++;
          throw new Error('simulated crash before the commit');
        }
      },
    });
    const b = instance(pools.b);
    const items = Array.from({ length: 150 }, (_, i) => hostSighting(`c-${i}`, `crash-${i % 10}`));
    for (let i = 0; i < items.length; i += 15) await Promise.all([a.intake.accept(items.slice(i, i + 15)), b.intake.accept(items.slice(i, i + 15))]);
    // A claims first and fails four times (each time after applying a batch); then both count.
    a.loop.start();
    for (let i = 0; i < 500 && crashes < 4; i++) await new Promise((r) => setTimeout(r, 10));
    b.loop.start();
    await b.intake.accept(Array.from({ length: 30 }, (_, i) => hostSighting(`c-late-${i}`, `crash-${i % 10}`)));
    await settle(a, b);
    expect(crashes).toBe(4);
    await expectCountedOnce(180);
    expect(await scalar('SELECT count(*) AS n FROM incidents')).toBe(10);
    await expectMessagesOnce();
  });

  it('logs a database outage once, not once per try, and counts everything once it recovers', async () => {
    let failures = 0;
    const a = instance(pools.a, {
      beforeCommit: async () => {
        if (failures < 3) {
          failures++;
          throw new Error('database gone');
        }
      },
    });
    await a.intake.accept(Array.from({ length: 30 }, (_, i) => hostSighting(`o-${i}`, `out-${i % 3}`)));
    a.loop.start();
    await settle(a);
    expect(failures).toBe(3);
    expect(logs.filter((l) => l.msg === 'counting sightings failed; they stay in the log and are tried again')).toHaveLength(1);
    expect(logs.filter((l) => l.msg === 'counting sightings again: the database answers')).toHaveLength(1);
    await expectCountedOnce(30);
    await expectMessagesOnce();
  });

  it('closing an incident queues its close once; a new sighting then opens a linked incident with a new card', async () => {
    const a = instance(pools.a);
    const b = instance(pools.b);
    a.loop.start();
    b.loop.start();
    await a.intake.accept([hostSighting('k-1', 'ws-042'), hostSighting('k-2', 'ws-042')]);
    await settle(a, b);
    const first = (await a.store.incidentByTarget('hostname:ws-042'))!;
    // Closed from the other instance, as the target an analyst types.
    const closed = await b.service.close('WS-042', 'alice@example.com', 'reimaged');
    expect(closed).toMatchObject({ id: first.id, status: 'Closed' });
    await expect(a.service.close('ws-042', 'bob@example.com')).rejects.toThrow('No open incident for ws-042');
    expect((await a.service.closeById(first.id, 'bob@example.com')).closed).toBe(false);
    await b.intake.accept([hostSighting('k-3', 'ws-042')]);
    await settle(a, b);
    const second = (await a.store.incidentByTarget('hostname:ws-042'))!;
    expect(second.id).not.toBe(first.id);
    expect(second.previousIncidentId).toBe(first.id);
    expect(second.count).toBe(1);
    expect((await notes('incident_opened')).map((r) => r.incident_id)).toEqual([first.id, second.id]);
    const closes = await notes('incident_closed');
    expect(closes).toHaveLength(1);
    expect(closes[0]!.body).toMatchObject({ by: 'alice@example.com', reason: 'reimaged' });
    // The close waits for XDR as a status op (the mirror's).
    expect(await scalar(`SELECT count(*) AS n FROM xdr_ops WHERE incident_id = $1 AND kind = 'status'`, [first.id])).toBe(1);
    // The card's Close button on the old card points at the new open incident.
    expect(await a.service.closeById(first.id, 'bob@example.com')).toMatchObject({ closed: false, open: { id: second.id } });
    // The investigator's lookup sees the open incident from any instance.
    expect(await pgOpenIncidentLookup(b.store, b.loop)('hostname:ws-042')).toEqual({ id: second.id, count: 1 });
    expect(await pgOpenIncidentLookup(b.store, b.loop)('hostname:nowhere')).toBeUndefined();
    expect(await b.service.sightings(second.id, 10)).toEqual([{ observedAt: '2026-11-30T10:00:00.000Z', ioc: 'domain:evil.example', source: 'webhook' }]);
  });

  it('pages `incidents closed` through more closed incidents than lowdb keeps, in chat, with the total over all history', async () => {
    const a = instance(pools.a);
    // 530 closed incidents (lowdb keeps 500) and 3 open, written as the store writes them.
    await pools.a.query(
      `INSERT INTO incidents (id, target_key, target_type, target_value, status, count, first_seen, last_seen, opened_at, closed_at, closed_by, summary)
       SELECT 'old-' || g, 'hostname:h' || g, 'hostname', 'h' || g, CASE WHEN g <= 530 THEN 'Closed' ELSE 'New' END, 1,
              t, t, t, CASE WHEN g <= 530 THEN t + interval '1 hour' END, CASE WHEN g <= 530 THEN 'alice' END,
              jsonb_build_object('initial', jsonb_build_object('seq', g, 'observedAt', to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
                                 'ioc', jsonb_build_object('type', 'domain', 'value', 'evil.example'), 'source', 'webhook'),
                                 'lastIoc', jsonb_build_object('type', 'domain', 'value', 'evil.example'), 'lastSource', 'webhook',
                                 'iocs', '[]'::jsonb, 'iocsTotal', 1, 'sources', '{}'::jsonb)
       FROM generate_series(1, 533) AS g, LATERAL (SELECT timestamptz '2026-01-01T00:00:00Z' + g * interval '1 hour' AS t) AS x`,
    );
    const seen = new Set<string>();
    for (let page = 1; page <= 53; page++) {
      const { items, total } = await a.service.list('closed', page, 10);
      expect(total).toBe(530);
      expect(items).toHaveLength(10);
      for (const i of items) seen.add(i.id);
    }
    expect(seen.size).toBe(530);
    // Newest closed first: page 1 starts with the last one closed, page 53 ends with the first.
    expect((await a.service.list('closed', 1, 10)).items[0]!.id).toBe('old-530');
    expect((await a.service.list('closed', 53, 10)).items.at(-1)!.id).toBe('old-1');
    expect(await a.service.list('open', 1, 10)).toMatchObject({ total: 3 });
    expect((await a.service.list('all', 54, 10)).items).toHaveLength(3);

    const h = harness({}, { incidents: a.service });
    expect(await ask(h, 'incidents closed')).toContain('**Closed incidents** (530)');
    const last = await ask(h, 'incidents closed 53');
    expect(last).toContain('`h1`');
    expect(last).toContain('Page 53 of 53.');
    expect(await ask(h, 'incidents closed 54')).toBe('There are only 53 pages of closed incidents; try `incidents closed 53`.');
    // A close typed in chat goes through the async service too.
    expect(await ask(h, 'close h531')).toContain('h531');
    expect((await a.store.incident('old-531'))!.closedAt).toBeDefined();
    expect(await notes('incident_closed')).toHaveLength(1);
  });

  it('coalesces updates per incident for CORRELATION_COALESCE_MS, threaded under the card; the update waiting goes out with the close', async () => {
    const timers = new ManualTimers();
    // Instance B's notifier queues a batch in one call (notifyAllIn).
    const a = instance(pools.b, { config: { ...config, coalesceMs: 60_000 }, timers });
    await a.intake.accept([hostSighting('u-1', 'ws-7'), hostSighting('u-2', 'ws-8')]);
    await a.loop.applyOnce();
    const inc = (await a.store.incidentByTarget('hostname:ws-7'))!;
    await a.loop.recordCardMessage(inc.id, 'card-msg-7');
    for (let i = 2; i <= 5; i++) {
      await a.intake.accept([hostSighting(`u-7-${i}`, 'ws-7')]);
      await a.loop.applyOnce();
    }
    await a.loop.idle();
    expect(await notes('incident_updated')).toHaveLength(0);
    timers.fireAll();
    await a.loop.idle();
    const updates = await notes('incident_updated');
    expect(updates.map((r) => r.body)).toEqual([expect.objectContaining({ newSightings: 4, crossed: ['eq 2', 'gte 3'], replyTo: 'card-msg-7', incident: expect.objectContaining({ id: inc.id, count: 5 }) })]);
    await a.intake.accept([hostSighting('u-8-2', 'ws-8')]);
    await a.loop.applyOnce();
    const other = (await a.store.incidentByTarget('hostname:ws-8'))!;
    await a.loop.closeIncident(other.id, 'alice');
    const tail = (await pools.b.query<{ kind: string; incident_id: string }>('SELECT kind, incident_id FROM test_notes WHERE incident_id = $1 ORDER BY n', [other.id])).rows.map((r) => r.kind);
    expect(tail).toEqual(['incident_opened', 'rung_fired', 'incident_updated', 'incident_closed']);
    expect(logs.filter((l) => (l.level as number) >= 50)).toEqual([]);
    expect(timers.scheduled.size).toBe(0);
  });

  it('status sync (leader): an incident XDR says is closed is closed here, not mirrored back; another status is recorded', async () => {
    const remote = new Map<string, { status: string }>([['incident-1', { status: 'Closed' }], ['incident-2', { status: 'Containment Achieved' }]]);
    const xdr = { getIncident: async (shortId: string) => remote.get(shortId) } as unknown as XdrPort;
    const a = instance(pools.a, { xdr });
    await a.intake.accept([hostSighting('x-1', 'xa'), hostSighting('x-2', 'xb'), hostSighting('x-3', 'xc')]);
    await a.loop.applyOnce();
    const [xa, xb] = [(await a.store.incidentByTarget('hostname:xa'))!, (await a.store.incidentByTarget('hostname:xb'))!];
    await pools.a.query(`UPDATE incidents SET xdr_id = 'https://private.intel.amp.cisco.com/ctia/incident/incident-' || CASE id WHEN $1 THEN '1' ELSE '2' END WHERE id IN ($1, $2)`, [xa.id, xb.id]);
    expect(await a.loop.syncStatuses()).toEqual({ checked: 2, closed: 1 });
    expect(await a.store.incident(xa.id)).toMatchObject({ status: 'Closed', closedBy: 'XDR' });
    expect(await a.store.incident(xb.id)).toMatchObject({ status: 'Containment Achieved' });
    expect((await a.store.incident(xb.id))!.closedAt).toBeUndefined();
    expect(await scalar(`SELECT count(*) AS n FROM xdr_ops WHERE kind = 'status'`)).toBe(0);
    expect((await notes('incident_closed')).map((r) => r.incident_id)).toEqual([xa.id]);
    expect(await a.loop.syncStatuses()).toEqual({ checked: 1, closed: 0 });
  });

  it('status sync (leader): with three or more open incidents the statuses come from one search since the oldest, not one read each', async () => {
    const searches: { source: string; from: string }[] = [];
    const reads: string[] = [];
    const xdr = {
      getIncident: async (shortId: string) => (reads.push(shortId), { status: 'New' }),
      incidentStatusesSince: async (source: string, from: string) => {
        searches.push({ source, from });
        return new Map([['incident-s1', 'Closed: False Positive'], ['incident-s2', 'Open: Investigating'], ['incident-s3', 'New']]);
      },
    } as unknown as XdrPort;
    const a = instance(pools.a, { xdr });
    await a.intake.accept([hostSighting('s-1', 'sa'), hostSighting('s-2', 'sb'), hostSighting('s-3', 'sc'), hostSighting('s-4', 'sd')]);
    await a.loop.applyOnce();
    const incs = await Promise.all(['sa', 'sb', 'sc', 'sd'].map(async (h) => (await a.store.incidentByTarget(`hostname:${h}`))!));
    for (const [i, inc] of incs.entries()) await pools.a.query(`UPDATE incidents SET xdr_id = $2 WHERE id = $1`, [inc.id, `https://private.intel.amp.cisco.com/ctia/incident/incident-s${i + 1}`]);
    expect(await a.loop.syncStatuses()).toEqual({ checked: 4, closed: 1 });
    expect(searches).toHaveLength(1);
    expect(searches[0]!.source).toBe('sightline');
    const oldest = incs.map((i) => i.openedAt).sort()[0]!;
    expect(Date.parse(searches[0]!.from)).toBe(Date.parse(oldest) - 24 * 60 * 60 * 1000);
    // Only the incident the search did not return is read on its own.
    expect(reads).toEqual(['incident-s4']);
    expect(await a.store.incident(incs[0]!.id)).toMatchObject({ status: 'Closed: False Positive', closedBy: 'XDR' });
    expect(await a.store.incident(incs[1]!.id)).toMatchObject({ status: 'Open: Investigating' });
  });

  it('in dry run, every rung action is a message queued with the counts and nothing runs', async () => {
    const a = instance(pools.b, { config: { ...config, dryRun: true } });
    await a.intake.accept([1, 2, 3].map((i) => hostSighting(`d-${i}`, 'dry-1')));
    await a.loop.applyOnce();
    await a.loop.idle();
    const fired = (await notes('rung_fired')).map((r) => (r.body.kind === 'rung_fired' ? `${r.body.rung}/${r.body.action}/${r.body.dryRun}/${r.dedupe_key !== null}` : ''));
    expect(fired).toEqual(['eq 2/notify/true/true', 'gte 3/mention/true/true', 'gte 3/respond/true/true']);
    expect(responded).toEqual([]);
    expect(logs.filter((l) => (l.level as number) >= 50)).toEqual([]);
    expect(await scalar(`SELECT count(*) AS n FROM incident_rungs WHERE rung = 'gte 3' AND outcome = 'mention: sent; respond: dry run'`)).toBe(1);
  });

  it('on stop, finishes the rung action under way and leaves the ones not started to the next instance, which runs each once', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let started!: () => void;
    const first = new Promise<void>((r) => (started = r));
    const a = instance(pools.a, {
      responder: async (view) => {
        responded.push(view.id);
        started();
        await gate;
        return 'blocked';
      },
    });
    a.loop.start();
    // Three targets reach 3 in one batch: three rungs with a response action, run one after another.
    await a.intake.accept(Array.from({ length: 9 }, (_, i) => hostSighting(`r-${i}`, `host-${i % 3}`)));
    await first;
    const stopped = a.loop.stop();
    release();
    await stopped;
    expect(responded).toHaveLength(1);
    const outcomes = async () => (await pools.b.query<{ outcome: string | null }>(`SELECT outcome FROM incident_rungs WHERE rung = 'gte 3' ORDER BY outcome`)).rows.map((r) => r.outcome);
    // Not marked failed: left empty, as if never fired.
    expect(await outcomes()).toEqual(['mention: sent; respond: blocked', null, null]);
    expect(logs.filter((l) => (l.level as number) >= 50)).toEqual([]);

    const b = instance(pools.b);
    b.loop.start();
    await b.loop.idle();
    expect([...responded].sort()).toEqual((await pools.b.query<{ id: string }>('SELECT id FROM incidents ORDER BY id')).rows.map((r) => r.id));
    expect(await outcomes()).toEqual(['mention: sent; respond: blocked', 'mention: sent; respond: blocked', 'mention: sent; respond: blocked']);
    // Started once: a third instance finds nothing left.
    const c = instance(pools.a);
    c.loop.start();
    await c.loop.idle();
    expect(responded).toHaveLength(3);
  });

  it('after abandon (the shutdown ran out of time, the pool ends next), starts nothing more on the database', async () => {
    const timers = new ManualTimers();
    const a = instance(pools.a, { config: { ...config, coalesceMs: 60_000 }, timers });
    a.loop.start();
    await a.intake.accept([hostSighting('u-1', 'host-0'), hostSighting('u-2', 'host-1')]);
    await a.loop.idle();
    await a.intake.accept([hostSighting('u-3', 'host-0'), hostSighting('u-4', 'host-1')]);
    await a.loop.idle();
    await a.loop.abandon();
    // The coalescing waits end, and stop runs what waits: none of it reaches the database.
    timers.fireAll();
    await a.loop.stop();
    expect(await scalar("SELECT count(*) AS n FROM test_notes WHERE kind = 'incident_updated'")).toBe(0);
    expect(logs.filter((l) => (l.level as number) >= 50)).toEqual([]);
  });
});
