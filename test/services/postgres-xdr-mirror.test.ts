import type pg from 'pg';
import { pino } from 'pino';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { XdrHttpClient } from '../../src/clients/xdr/client.js';
import { UpstreamError } from '../../src/core/errors.js';
import { FakeClock } from '../../src/core/clock.js';
import { silentLogger } from '../../src/core/logger.js';
import { CallAllowance, type MirrorAllowance } from '../../src/domain/correlation/call-allowance.js';
import { MIRROR_CONCURRENCY } from '../../src/domain/correlation/xdr-ops.js';
import type { IncomingSighting } from '../../src/domain/correlation/intake.js';
import { parseLadder } from '../../src/domain/correlation/ladder.js';
import type { XdrPort } from '../../src/domain/ports/xdr.js';
import { XdrEmulator } from '../../src/emulators/xdr/index.js';
import { PostgresXdrMirror } from '../../src/services/postgres-xdr-mirror.js';
import { PostgresCorrelationStore } from '../../src/store/postgres/correlation.js';
import { PostgresCallAllowance } from '../../src/store/postgres/call-allowance.js';
import { PostgresSightingsLog } from '../../src/store/postgres/sightings-log.js';
import { PostgresXdrQueue } from '../../src/store/postgres/xdr-queue.js';
import { testPostgres, useTwoInstances } from '../support/postgres.js';
import { hostSighting } from '../store/postgres/fixtures.js';

/**
 * Two instances mirroring one PostgreSQL database into the XDR emulator (real HTTP, the real
 * client). Waits are set long and "time passing" is `makeDue()`, so no test depends on timing.
 */
const server = await testPostgres();

const opts = { rungs: parseLadder('gte 3 -> notify'), rejectedIsClosed: true, dryRun: true };

function sighting(id: string, host: string): IncomingSighting {
  return hostSighting(id, host, { ctim: { type: 'sighting', observables: [{ type: 'domain', value: 'evil.example' }] } });
}

interface XdrEvent {
  by: string;
  call: string;
  arg: unknown;
  result?: { id: string };
}

/** The client, with every create noted (in the order XDR answered) and an optional hook after it. */
function recording(xdr: XdrPort, by: string, events: XdrEvent[], after?: (call: string, arg: unknown) => Promise<void>): XdrPort {
  return new Proxy(xdr, {
    get(target, prop) {
      const value: unknown = Reflect.get(target, prop, target);
      if (typeof value !== 'function') return value;
      const fn = value as (...args: unknown[]) => Promise<unknown>;
      if (typeof prop !== 'string' || !prop.startsWith('create')) return fn.bind(target);
      return async (arg: unknown) => {
        const result = (await fn.call(target, arg)) as { id: string };
        events.push({ by, call: prop, arg, result });
        await after?.(prop, arg);
        return result;
      };
    },
  });
}

describe.skipIf(!server)('PostgresXdrMirror: two instances mirroring one database into XDR', () => {
  const pools = useTwoInstances(server!, ['mirror-a', 'mirror-b']);
  let emu: XdrEmulator;
  let log: PostgresSightingsLog;
  let correlation: PostgresCorrelationStore;
  let events: XdrEvent[];

  beforeAll(async () => {
    emu = new XdrEmulator();
    await emu.start();
  });
  afterAll(() => emu.stop());

  beforeEach(async () => {
    await pools.a.query('TRUNCATE sightings, incidents, incident_sightings, incident_rungs, xdr_ops, xdr_dead_letters RESTART IDENTITY CASCADE');
    emu.reset();
    events = [];
    log = new PostgresSightingsLog(pools.a);
    correlation = new PostgresCorrelationStore(pools.a, log, opts);
  });

  const client = () => new XdrHttpClient({ xdr: emu.xdrConfig(), logger: silentLogger, httpOptions: { retry: { retries: 0 } } });
  function mirror(pool: pg.Pool, by: string, xdr: XdrPort = recording(client(), by, events)): PostgresXdrMirror {
    // Waits of a minute: a failed or blocked op is not due again until the test says time passed.
    return new PostgresXdrMirror({ queue: new PostgresXdrQueue(pool, {}), xdr, logger: silentLogger, retryDelayMs: 60_000, blockedDelayMs: 60_000 });
  }
  const makeDue = () => pools.b.query('UPDATE xdr_ops SET next_attempt_at = now()');
  const ops = async () => (await pools.b.query<{ incident_id: string; kind: string; attempts: number; last_error: string | null }>('SELECT incident_id, kind, attempts, last_error FROM xdr_ops ORDER BY id')).rows;
  const ours = () => emu.state.incident.filter((i) => i.source === 'sightline');
  const rels = (type: string) => emu.state.relationship.filter((r) => r.relationship_type === type);

  async function incidents(hosts: number, each: number, prefix = 's'): Promise<void> {
    for (let n = 0; n < each; n++) await log.append(Array.from({ length: hosts }, (_, h) => sighting(`${prefix}-${h}-${n}`, `host-${h}`)));
    for (let i = 0; i < 100 && (await correlation.applyNext(200)).claimed > 0; i++);
  }

  /** Passes of every mirror at once until nothing waits (bounded). */
  async function settle(...mirrors: PostgresXdrMirror[]): Promise<number> {
    for (let round = 1; round <= 20; round++) {
      const reports = await Promise.all(mirrors.map((m) => m.syncPending()));
      if (reports.every((r) => r.pending === 0)) return round;
      await makeDue();
    }
    throw new Error('the XDR queue did not drain in 20 rounds');
  }

  it('creates each incident and each sighting once, whichever instance runs it, create before sightings', async () => {
    await incidents(16, 3);
    const a = mirror(pools.a, 'a');
    const b = mirror(pools.b, 'b');
    await settle(a, b);

    expect(new Set(events.map((e) => e.by))).toEqual(new Set(['a', 'b']));
    const remote = ours();
    expect(remote).toHaveLength(16);
    expect(new Set(remote.map((i) => i.title)).size).toBe(16);
    // Rendered from the incident as PostgreSQL holds it: the count, and the description that says it.
    for (const r of remote) {
      expect(r.meta).toMatchObject({ sighting_count: 3 });
      expect(r.description).toContain('## Current Amount of Security Events for Target: `3`');
    }
    expect(emu.state.sighting).toHaveLength(48);
    const memberOf = rels('member-of');
    expect(memberOf).toHaveLength(48);
    expect(new Set(memberOf.map((r) => r.source_ref)).size).toBe(48);
    // Each incident's XDR id is back in the incidents table, and is the one XDR holds.
    const local = (await pools.b.query<{ id: string; xdr_id: string | null }>('SELECT id, xdr_id FROM incidents')).rows;
    for (const inc of local) {
      const inXdr = remote.find((r) => r.id === inc.xdr_id);
      expect(inXdr?.external_ids).toContain(`sightline-incident-${inc.id}`);
      // In order: the incident was created before any of its sightings.
      const created = events.findIndex((e) => e.call === 'createIncident' && e.result?.id === inc.xdr_id);
      const itsSightings = new Set(memberOf.filter((r) => r.target_ref === inc.xdr_id).map((r) => r.source_ref));
      expect(itsSightings.size).toBe(3);
      const sightingCreates = events.flatMap((e, n) => (e.call === 'createSighting' && itsSightings.has(e.result!.id) ? [n] : []));
      expect(sightingCreates).toHaveLength(3);
      expect(Math.min(...sightingCreates)).toBeGreaterThan(created);
    }
    expect(await ops()).toEqual([]);
  });

  it('keeps within its call allowance: no claim once it is spent, the rest when it refills', async () => {
    await incidents(12, 1);
    const clock = new FakeClock();
    const xdr = client();
    const limited = new PostgresXdrMirror({ queue: new PostgresXdrQueue(pools.a, {}), xdr, logger: silentLogger, allowance: new CallAllowance(3_600, clock, 6) });
    await limited.syncPending();
    const calls = xdr.callCount;
    // Six calls allowed; the ops that started with allowance left finish theirs (at most two more each).
    expect(calls).toBeGreaterThanOrEqual(6);
    expect(calls).toBeLessThanOrEqual(6 + MIRROR_CONCURRENCY * 2);
    const mirrored = ours().length;
    expect(mirrored).toBeLessThan(12);
    await makeDue();
    await limited.syncPending();
    expect(xdr.callCount).toBe(calls);
    // Time passes: a call a second.
    for (let round = 0; round < 40 && (await ops()).length > 0; round++) {
      clock.advance(10_000);
      await makeDue();
      await limited.syncPending();
    }
    expect(ours()).toHaveLength(12);
    expect(emu.state.sighting).toHaveLength(12);
  });

  it('two instances keep within ONE allowance between them (XDR_MIRROR_CALLS_PER_HOUR is the organisation\'s share, not each instance\'s)', async () => {
    await incidents(12, 1);
    await pools.a.query('UPDATE xdr_call_allowance SET tokens = NULL, refilled_at = NULL, held_until = to_timestamp(0)');
    const clock = new FakeClock();
    const xdrA = client();
    const xdrB = client();
    const shared = (pool: pg.Pool, xdr: XdrHttpClient) =>
      new PostgresXdrMirror({ queue: new PostgresXdrQueue(pool, {}), xdr, logger: silentLogger, allowance: new PostgresCallAllowance(pool, 3_600, clock, silentLogger, { burst: 8, lease: 4 }) });
    const a = shared(pools.a, xdrA);
    const b = shared(pools.b, xdrB);
    await Promise.all([a.syncPending(), b.syncPending()]);
    await makeDue();
    await Promise.all([a.syncPending(), b.syncPending()]);
    const calls = xdrA.callCount + xdrB.callCount;
    // Eight calls between them; ops that started with allowance left finish theirs (two more at most each).
    expect(calls).toBeGreaterThanOrEqual(8);
    expect(calls).toBeLessThanOrEqual(8 + 2 * MIRROR_CONCURRENCY * 2);
    expect(ours().length).toBeLessThan(12);
    // Time passes (a call a second): everything is mirrored, once.
    for (let round = 0; round < 60 && (await ops()).length > 0; round++) {
      clock.advance(10_000);
      await makeDue();
      await Promise.all([a.syncPending(), b.syncPending()]);
    }
    expect(ours()).toHaveLength(12);
    expect(emu.state.sighting).toHaveLength(12);
  });

  it('goes on with the calls it holds when the shared allowance cannot be read, and says so once per outage', async () => {
    await incidents(3, 1);
    const lines: Array<{ level: number; msg: string }> = [];
    const logger = pino({ level: 'info' }, { write: (s: string) => void lines.push(JSON.parse(s) as { level: number; msg: string }) });
    let down = true;
    const unreadable: MirrorAllowance = {
      perHour: 3_600,
      hasRoom: () => true,
      spend: () => undefined,
      holdFor: () => undefined,
      isFull: () => true,
      waitMs: () => 0,
      refresh: async () => {
        if (down) throw new Error('connection refused');
      },
    };
    const m = new PostgresXdrMirror({ queue: new PostgresXdrQueue(pools.a, {}), xdr: client(), logger, allowance: unreadable });
    await m.syncPending();
    await m.syncPending();
    expect(ours()).toHaveLength(3);
    const said = (text: string) => lines.filter((l) => l.msg.includes(text)).length;
    expect(said('could not read its shared allowance')).toBe(1);
    down = false;
    await m.syncPending();
    expect(said('shared allowance can be read again')).toBe(1);
  });

  it('links related-to only once the previous incident has its XDR id', async () => {
    await incidents(1, 1);
    const previous = (await correlation.incidentByTarget('hostname:host-0'))!;
    await correlation.close(previous.id, 'analyst@example.com');
    await incidents(1, 1, 'again');
    const next = (await correlation.incidentByTarget('hostname:host-0'))!;
    expect(next.id).not.toBe(previous.id);

    // XDR refuses the previous incident's create for now (a 503 from a proxy): the next one is
    // created, but its related-to waits without an error, and its sighting behind it.
    const failing = client();
    const create = failing.createIncident.bind(failing);
    let refuse = true;
    failing.createIncident = async (body) => {
      if (refuse && (body.external_ids as string[]).includes(`sightline-incident-${previous.id}`)) throw new UpstreamError('XDR', 'XDR answered 503.', { status: 503 });
      return create(body);
    };
    const a = mirror(pools.a, 'a', recording(failing, 'a', events));
    const first = await a.syncPending();
    expect(first.failed).toBe(1);
    expect(rels('related-to')).toEqual([]);
    const nextXdrId = (await correlation.incident(next.id))!.xdrId;
    expect(nextXdrId).toBeDefined();
    const waiting = await ops();
    expect(waiting.filter((o) => o.incident_id === next.id)).toEqual([
      { incident_id: next.id, kind: 'relate_previous', attempts: 0, last_error: null },
      { incident_id: next.id, kind: 'sighting', attempts: 0, last_error: null },
    ]);
    expect(waiting.find((o) => o.incident_id === previous.id)).toMatchObject({ kind: 'create_incident', last_error: 'XDR answered 503.' });
    // It waits (not due) rather than being claimed again and again in the same pass, and the sighting
    // behind it waits as long (it is not left due, for every claim's search to pass over).
    const deferred = await pools.b.query<{ kind: string }>(`SELECT kind FROM xdr_ops WHERE incident_id = $1 AND next_attempt_at > now() + interval '30 seconds' ORDER BY id`, [next.id]);
    expect(deferred.rows).toEqual([{ kind: 'relate_previous' }, { kind: 'sighting' }]);

    refuse = false;
    await makeDue();
    await settle(a, mirror(pools.b, 'b'));
    const previousXdrId = (await correlation.incident(previous.id))!.xdrId;
    expect(rels('related-to')).toEqual([expect.objectContaining({ source_ref: previousXdrId, target_ref: nextXdrId })]);
    const linked = events.findIndex((e) => e.call === 'createRelationship' && (e.arg as { relationship_type: string }).relationship_type === 'related-to');
    const previousCreated = events.findIndex((e) => e.call === 'createIncident' && e.result?.id === previousXdrId);
    expect(linked).toBeGreaterThan(previousCreated);
    expect(ours().find((i) => i.id === previousXdrId)?.status).toBe('Closed');
  });

  it('ends the pass at a 429 and keeps the ops, waiting as long as XDR asked', async () => {
    await incidents(8, 1);
    const before = await ops();
    expect(before).toHaveLength(16);
    const removeFault = emu.faults.add({ match: /incident/, method: 'POST', status: 429, retryAfterSeconds: 300 });
    const counted = client();
    const create = counted.createIncident.bind(counted);
    let creates = 0;
    counted.createIncident = (body) => {
      creates++;
      return create(body);
    };
    const a = mirror(pools.a, 'a', counted);
    const report = await a.syncPending();
    removeFault();
    expect(report.failed).toBeGreaterThan(0);
    expect(report.done).toBe(0);
    expect(ours()).toEqual([]);
    // The workers already in a call finish it; no new incident is started after the 429.
    expect(creates).toBeLessThanOrEqual(4);
    expect((await ops()).map((o) => o.kind)).toEqual(before.map((o) => o.kind));
    // Each refused incident waits as long as XDR asked: its create, and the sighting behind it.
    const held = await pools.b.query<{ n: string; ops: string }>(`SELECT count(DISTINCT incident_id) AS n, count(*) AS ops FROM xdr_ops WHERE next_attempt_at > now() + interval '200 seconds'`);
    expect(Number(held.rows[0]!.n)).toBe(report.failed);
    expect(Number(held.rows[0]!.ops)).toBe(2 * report.failed);

    // The next pass mirrors the others; the refused ones wait as long as XDR asked.
    await a.syncPending();
    expect(ours()).toHaveLength(8 - report.failed);
    await makeDue();
    await settle(a);
    expect(ours()).toHaveLength(8);
    expect(emu.state.sighting).toHaveLength(8);
  });

  it('dead-letters an op XDR refuses for good after the domain limit, and goes on', async () => {
    await incidents(1, 1);
    const removeFault = emu.faults.add({ match: '/ctia/sighting', method: 'POST', status: 400 });
    const a = mirror(pools.a, 'a');
    const b = mirror(pools.b, 'b');
    expect(await a.syncPending()).toMatchObject({ done: 1, failed: 1, pending: 1 });
    await makeDue();
    expect(await b.syncPending()).toMatchObject({ done: 0, failed: 1, pending: 1 });
    expect(await ops()).toEqual([expect.objectContaining({ kind: 'sighting', attempts: 2 })]);
    await makeDue();
    expect(await a.syncPending()).toMatchObject({ done: 0, failed: 1, pending: 0 });
    removeFault();

    const dead = await new PostgresXdrQueue(pools.b).deadLetters();
    expect(dead).toMatchObject({ total: 1, latest: [{ target: 'host-0', kind: 'sighting', attempts: 3, reason: expect.stringMatching(/400/) }] });
    expect(ours()).toHaveLength(1);
    expect(emu.state.sighting).toEqual([]);
    // The incident goes on: a later sighting is mirrored.
    await incidents(1, 1, 'later');
    await settle(a, b);
    expect(emu.state.sighting).toHaveLength(1);
  });

  /**
   * Mirror A dies right after XDR answered `call` (once): its database sessions end before the
   * claim commits, so nothing of the claim is recorded. (Another of A's workers, on a new
   * connection, may pick the incident up again at once: like B, it must not create it again.)
   */
  let killed: boolean;
  function dyingAfter(call: string): XdrPort {
    killed = false;
    return recording(client(), 'a', events, async (made) => {
      if (made !== call || killed) return;
      killed = true;
      // With a timeout it waits until the sessions are gone (a bare call only signals them).
      await pools.b.query(`SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'mirror-a'`);
      throw new Error('mirror A was killed');
    });
  }

  it('does not create an incident twice when a mirror dies between the XDR create and its commit', async () => {
    await incidents(1, 1);
    const inc = (await correlation.incidentByTarget('hostname:host-0'))!;
    await mirror(pools.a, 'a', dyingAfter('createIncident'))
      .syncPending()
      .catch(() => undefined);
    expect(killed).toBe(true);
    expect(ours()).toHaveLength(1);

    await settle(mirror(pools.b, 'b'));
    expect(ours()).toHaveLength(1);
    expect((await correlation.incident(inc.id))!.xdrId).toBe(ours()[0]!.id);
    expect(emu.state.sighting).toHaveLength(1);
    expect(rels('member-of')).toHaveLength(1);
  });

  it('does not create a sighting twice when a mirror dies between the XDR create and its commit', async () => {
    await incidents(1, 1);
    await settle(mirror(pools.b, 'b'));
    await incidents(1, 1, 'second');
    await mirror(pools.a, 'a', dyingAfter('createSighting'))
      .syncPending()
      .catch(() => undefined);
    expect(killed).toBe(true);
    expect(emu.state.sighting).toHaveLength(2);

    await settle(mirror(pools.b, 'b'));
    expect(emu.state.sighting).toHaveLength(2);
    expect(rels('member-of')).toHaveLength(2);
    expect((await correlation.incidentByTarget('hostname:host-0'))!.count).toBe(2);
    expect(ours()[0]!.meta).toMatchObject({ sighting_count: 2 });
  });

  it('on stop, finishes the XDR calls under way, starts no more, and leaves the rest queued', async () => {
    await incidents(10, 1);
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const gated = client();
    const find = gated.findIncidentsByExternalId.bind(gated);
    let entered = 0;
    gated.findIncidentsByExternalId = async (ext) => {
      entered++;
      await gate;
      return find(ext);
    };
    const a = mirror(pools.a, 'a', gated);
    const pass = a.syncPending();
    // Bounded: wait until the four workers are each in an XDR call.
    for (let i = 0; i < 500 && entered < 4; i++) await new Promise((r) => setTimeout(r, 10));
    expect(entered).toBe(4);
    const stopped = a.stop();
    release();
    await Promise.all([pass, stopped]);
    const created = ours().length;
    expect(created).toBe(4);
    const mirrored = (await pools.b.query<{ n: string }>('SELECT count(*) AS n FROM incidents WHERE xdr_id IS NOT NULL')).rows[0]!.n;
    expect(Number(mirrored)).toBe(4);
    expect(await a.syncPending()).toMatchObject({ done: 0 });
    expect((await ops()).length).toBeGreaterThan(6);
  });

  it('runs a pass when woken and on start, and none after stop', async () => {
    await incidents(2, 1);
    const a = mirror(pools.a, 'a');
    a.wake();
    await a.idle();
    expect(ours()).toHaveLength(2);
    await incidents(3, 1, 'more');
    // The first pass starts at once; the next tick is an hour away.
    a.start(3600);
    await a.idle();
    expect(ours()).toHaveLength(3);
    await a.stop();
    await incidents(4, 1, 'after-stop');
    a.wake();
    await a.idle();
    expect(ours()).toHaveLength(3);
    const waiting = (await ops()).length;
    expect(waiting).toBe(8);
    expect(await a.syncPending()).toEqual({ done: 0, failed: 0, pending: waiting });
  });

  it('ends a claim past its time without spinning on it: the ops stay due', async () => {
    await incidents(2, 1);
    const a = new PostgresXdrMirror({ queue: new PostgresXdrQueue(pools.a), xdr: client(), logger: silentLogger, maxClaimMs: 0 });
    expect(await a.syncPending()).toMatchObject({ done: 0, failed: 0, pending: 4 });
    expect(ours()).toEqual([]);
  });

  /** A pool whose writes (and its claim connections' writes) are counted: each is one commit outside a transaction. */
  function countingWrites(pool: pg.Pool): { pool: pg.Pool; writes: string[] } {
    const writes: string[] = [];
    const note = (sql: unknown) => {
      const text = typeof sql === 'string' ? sql.trim() : '';
      // A WITH is a write when one of its parts is (the claim's final statement), not the candidate search.
      if (/^(UPDATE|DELETE|INSERT)/i.test(text) || (/^WITH/i.test(text) && /\b(UPDATE|DELETE|INSERT)\b/i.test(text))) writes.push(text.slice(0, 40));
    };
    const wrap = <T extends object>(target: T): T =>
      new Proxy(target, {
        get(t, prop) {
          const value: unknown = Reflect.get(t, prop, t);
          if (prop === 'query') return (sql: unknown, ...rest: unknown[]) => (note(sql), (value as (...a: unknown[]) => unknown).call(t, sql, ...rest));
          if (prop === 'connect') return async () => wrap(await (value as () => Promise<pg.PoolClient>).call(t));
          return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(t) : value;
        },
      });
    return { pool: wrap(pool), writes };
  }

  it("records a claim's sightings in two commits, not three per sighting", async () => {
    await incidents(1, 1);
    await settle(mirror(pools.b, 'b'));
    await incidents(1, 5, 'more');
    const counted = countingWrites(pools.a);
    const a = new PostgresXdrMirror({ queue: new PostgresXdrQueue(counted.pool, {}), xdr: client(), logger: silentLogger });
    await a.syncPending();
    expect(await ops()).toEqual([]);
    expect(emu.state.sighting).toHaveLength(6);
    expect(rels('member-of')).toHaveLength(6);
    // The "being sent" mark before the first POST, then everything the claim did, at its end.
    expect(counted.writes).toHaveLength(2);
  });

  it('does not create a sighting or its link twice when a mirror dies after linking it, before its claim commits', async () => {
    await incidents(1, 1);
    await settle(mirror(pools.b, 'b'));
    await incidents(1, 3, 'more');
    await mirror(pools.a, 'a', dyingAfter('createRelationship'))
      .syncPending()
      .catch(() => undefined);
    expect(killed).toBe(true);
    await settle(mirror(pools.b, 'b'));
    expect(emu.state.sighting).toHaveLength(4);
    expect(rels('member-of')).toHaveLength(4);
    expect(new Set(rels('member-of').map((r) => r.source_ref)).size).toBe(4);
    expect(await ops()).toEqual([]);
  });

  it('leaves no "being sent" mark on the sightings a claim did not get to', async () => {
    await incidents(1, 1);
    await settle(mirror(pools.b, 'b'));
    await incidents(1, 3, 'more');
    // XDR refuses the first sighting (a 4xx): the claim ends there, the two behind it were never sent.
    const refusing = client();
    refusing.createSighting = async () => {
      throw new UpstreamError('XDR', 'XDR refused it (400).', { status: 400 });
    };
    await mirror(pools.a, 'a', refusing).syncPending();
    const left = await ops();
    expect(left).toHaveLength(3);
    expect(left[0]).toMatchObject({ attempts: 1, last_error: expect.stringMatching(/400/) });
    expect(left.slice(1).map((o) => o.last_error)).toEqual([null, null]);
  });
});
