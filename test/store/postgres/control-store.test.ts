import type pg from 'pg';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { StoreError } from '../../../src/core/errors.js';
import { silentLogger } from '../../../src/core/logger.js';
import { FakeClock } from '../../../src/core/clock.js';
import type { ResponseAction } from '../../../src/domain/ports/xdr.js';
import { StoreHuntProgress } from '../../../src/services/hunt-progress.js';
import { ResponseActionDesk } from '../../../src/services/response-actions.js';
import { PostgresControlStore, TABLE_SECTIONS } from '../../../src/store/postgres/control-store.js';
import { migrate } from '../../../src/store/postgres/migrate.js';
import { MIGRATIONS } from '../../../src/store/postgres/migrations/index.js';
import { createPool } from '../../../src/store/postgres/pool.js';
import { MAX_HUNT_HISTORY, type HuntRecord, type State } from '../../../src/store/state.js';
import { createTestDatabase, testPostgres, useTwoInstances } from '../../support/postgres.js';

const server = await testPostgres();
const REFRESH_MS = 300;

/** Waits (bounded) until `check` is true; returns how long it took. */
async function until(check: () => boolean, what: string, limitMs = 10_000): Promise<number> {
  const t0 = Date.now();
  while (!check()) {
    if (Date.now() - t0 > limitMs) throw new Error(`gave up waiting for ${what} after ${limitMs} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
  return Date.now() - t0;
}

function hunt(id: string, over: Partial<HuntRecord> = {}): HuntRecord {
  return { id, trigger: 'schedule', week: '2026-11-27', startedAt: '2026-11-27T09:00:00.000Z', status: 'running', threatsDone: [], casebooks: {}, ...over };
}

async function row(pool: pg.Pool): Promise<{ doc: Record<string, unknown>; revision: number }> {
  const { rows } = await pool.query<{ doc: Record<string, unknown>; revision: string }>('SELECT doc, revision FROM control_state WHERE id = 1');
  return { doc: rows[0]!.doc, revision: Number(rows[0]!.revision) };
}

/** The copy as JSON would store it (undefined members gone), for comparing with the row. */
function asStored(state: Readonly<State>): unknown {
  const { outbox, ...rest } = JSON.parse(JSON.stringify(state)) as State;
  expect(outbox).toEqual([]);
  return rest;
}

describe.skipIf(!server)('the control document, two instances on one database', () => {
  const pools = useTwoInstances(server!);
  const stores: PostgresControlStore[] = [];
  const open = async (pool: pg.Pool, refreshMs = REFRESH_MS) => {
    const s = await PostgresControlStore.open(pool, { logger: silentLogger, refreshMs });
    stores.push(s);
    return s;
  };

  beforeEach(async () => {
    await pools.a.query(`UPDATE control_state SET doc = '{"version":1,"talos":{},"hunts":[],"rooms":{}}', revision = 0`);
  });
  afterEach(async () => {
    await Promise.all(stores.splice(0).map((s) => s.close()));
  });

  it('keeps an update across a reopen, and writes revision + 1', async () => {
    const a = await open(pools.a);
    const result = await a.update((s) => {
      s.rooms.SOC = 'room-soc';
      s.talos.lastHuntedWeek = '2026-11-20';
      s.hunts.push(hunt('hunt-1'));
      return s.hunts.length;
    });
    expect(result).toBe(1);
    await a.close();
    const { doc, revision } = await row(pools.a);
    expect(revision).toBe(1);
    const again = await open(pools.a);
    expect(again.get().rooms).toEqual({ SOC: 'room-soc' });
    expect(again.get().talos.lastHuntedWeek).toBe('2026-11-20');
    expect(again.get().hunts.map((h) => h.id)).toEqual(['hunt-1']);
    expect(asStored(again.get())).toEqual(doc);
  });

  it('loses no change when both instances update the same document at once (50 increments each)', async () => {
    const [a, b] = [await open(pools.a), await open(pools.b)];
    const bump = (s: State) => (s.talos.cursorUrlId = (s.talos.cursorUrlId ?? 0) + 1);
    const results = await Promise.all(Array.from({ length: 50 }, () => [a.update(bump), b.update(bump)]).flat());
    // Each mutate saw the latest document: every value from 1 to 100 was returned exactly once.
    expect([...results].sort((x, y) => x - y)).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
    const { doc, revision } = await row(pools.a);
    expect((doc.talos as { cursorUrlId: number }).cursorUrlId).toBe(100);
    expect(revision).toBe(100);
    await until(() => a.get().talos.cursorUrlId === 100 && b.get().talos.cursorUrlId === 100, 'both copies at 100');
  });

  it('runs a decide-once mutate once across instances (a double-clicked confirmation)', async () => {
    const [a, b] = [await open(pools.a), await open(pools.b)];
    await a.update((s) => void (s.investigate = { offers: {}, confirmations: { c1: { id: 'c1', status: 'pending' } }, records: [] }));
    const claim = (s: State) => {
      const c = (s.investigate as { confirmations: Record<string, { status: string }> }).confirmations.c1!;
      if (c.status !== 'pending') return false;
      c.status = 'running';
      return true;
    };
    const claims = await Promise.all([a.update(claim), b.update(claim), a.update(claim), b.update(claim)]);
    expect(claims.filter(Boolean)).toHaveLength(1);
  });

  it("shows one instance's change to the other without it updating: by notification, and by the periodic refresh when none came", async () => {
    const [a, b] = [await open(pools.a), await open(pools.b)];
    await a.update((s) => void (s.rooms.SOC = 'room-1'));
    await until(() => b.get().rooms.SOC === 'room-1', "B seeing A's room", REFRESH_MS * 3);

    // A write that sends no notification (as if it was missed): the revision check finds it.
    await pools.a.query(`UPDATE control_state SET doc = jsonb_set(doc, '{rooms,SOC}', '"room-2"'), revision = revision + 1`);
    await until(() => b.get().rooms.SOC === 'room-2' && a.get().rooms.SOC === 'room-2', 'both seeing the silent write', REFRESH_MS * 3);
    expect(b.currentRevision).toBe((await row(pools.a)).revision);
  });

  it('refresh() loads a change no notification announced, at once (what a new leader calls before resuming hunts)', async () => {
    const b = await open(pools.b, 60_000);
    await pools.a.query(`UPDATE control_state SET doc = jsonb_set(doc, '{hunts}', '[{"id":"h-9","trigger":"schedule","startedAt":"2026-11-27T09:00:00.000Z","status":"running","threatsDone":[],"casebooks":{}}]'), revision = revision + 1`);
    expect(b.get().hunts).toEqual([]);
    await b.refresh();
    expect(b.get().hunts.map((h) => h.id)).toEqual(['h-9']);
  });

  it('listens again after its listening connection is cut, and catches up', async () => {
    const [a, b] = [await open(pools.a), await open(pools.b, 60_000)];
    await pools.a.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'instance-b (control)'");
    await a.update((s) => void (s.rooms.SOC = 'room-after-cut'));
    // B's periodic refresh is a minute away: only a reconnect (and its catch-up read) can bring the change this soon.
    await until(() => b.get().rooms.SOC === 'room-after-cut', 'B catching up after its listener was cut', 20_000);
    const { rows } = await pools.a.query("SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'instance-b (control)'");
    expect(rows[0].n).toBe(1);
  }, 30_000);

  it('a failed write rejects with a sentence, puts the copy back to the committed document, and `writable` follows the last write', async () => {
    const a = await open(pools.a);
    await a.update((s) => void (s.rooms.SOC = 'room-ok'));
    // jsonb cannot hold a NUL character: the statement fails after mutate changed the copy.
    const err = await a.update((s) => {
      s.rooms.SOC = 'room-\u0000-bad';
      s.hunts.push(hunt('hunt-lost'));
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StoreError);
    expect((err as StoreError).userMessage).toMatch(/^PostgreSQL refused a value it cannot store while saving the hunts, Talos cursors, rooms and module state/);
    expect(a.writable).toBe(false);
    const { doc, revision } = await row(pools.a);
    expect(revision).toBe(1);
    expect(asStored(a.get())).toEqual(doc);
    expect(a.get().rooms.SOC).toBe('room-ok');
    expect(a.get().hunts).toEqual([]);

    await a.update((s) => void (s.rooms.SOC = 'room-ok-2'));
    expect(a.writable).toBe(true);
    expect((await row(pools.a)).revision).toBe(2);
  });

  it("a mutate that throws rejects with its own error and changes nothing (memory or row), without touching `writable`", async () => {
    const a = await open(pools.a);
    const err = await a.update((s) => {
      s.rooms.SOC = 'half-done';
      throw new RangeError('caller bug');
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RangeError);
    expect(a.get().rooms.SOC).toBeUndefined();
    expect(a.writable).toBe(true);
    expect((await row(pools.a)).revision).toBe(0);
  });

  it('with its pool gone: a durable update rejects naming DATABASE_URL, a not-durable one answers and is dropped', async () => {
    const pool = createPool({ url: pools.url, applicationName: 'instance-c' });
    const c = await PostgresControlStore.open(pool, { logger: silentLogger, refreshMs: 60_000 });
    try {
      await c.update((s) => void (s.rooms.SOC = 'room-c'));
      await pool.end();
      const err = await c.update((s) => void (s.rooms.SOC = 'room-lost')).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(StoreError);
      expect((err as StoreError).userMessage).toMatch(/check DATABASE_URL/);
      expect(c.writable).toBe(false);
      expect(c.get().rooms.SOC).toBe('room-c');
      // The ETag cache's `void store.update(…, { durable: false })` must never reject.
      expect(await c.update((s) => ((s.rooms.Other = 'x'), 'answered'), { durable: false })).toBe('answered');
      expect(c.get().rooms.Other).toBeUndefined();
    } finally {
      await c.close();
    }
    expect((await row(pools.a)).doc.rooms).toEqual({ SOC: 'room-c' });
  });

  it('a not-durable update answers, and is committed in order before the next one', async () => {
    const a = await open(pools.a);
    const answers = await Promise.all([
      a.update((s) => ((s.rooms.A = '1'), 'first'), { durable: false }),
      a.update((s) => ((s.rooms.A = '2'), 'second')),
    ]);
    expect(answers).toEqual(['first', 'second']);
    const { doc, revision } = await row(pools.a);
    expect(revision).toBe(2);
    expect(doc.rooms).toEqual({ A: '2' });
  });

  it('never writes the correlation or outbox sections into the document, and keeps them empty in memory', async () => {
    const a = await open(pools.a);
    await a.update((s) => {
      s.correlation = { incidents: {} };
      s.outbox.push({ id: 'ob-1', channel: 'webex', key: 'room', payload: {}, createdAt: 'x', attempts: 0, nextAttemptAt: 'x' });
      s.outboxKeys = ['k'];
      s.outboxDead = [];
      s.rooms.SOC = 'room-soc';
    });
    const { doc } = await row(pools.a);
    for (const section of TABLE_SECTIONS) expect(doc).not.toHaveProperty(section);
    expect(doc.rooms).toEqual({ SOC: 'room-soc' });
    expect(a.get().outbox).toEqual([]);
    expect(a.get().correlation).toBeUndefined();
    expect(a.get().outboxKeys).toBeUndefined();
  });

  it("keeps a hunt as HuntRunner does (record pushed, bounded history, progress per threat), seen by the other instance", async () => {
    const [a, b] = [await open(pools.a), await open(pools.b)];
    const record = hunt('hunt-new');
    await a.update((s) => {
      for (let i = 0; i < MAX_HUNT_HISTORY; i++) s.hunts.push(hunt(`old-${i}`, { status: 'finished' }));
    });
    await a.update((s) => {
      s.hunts.push(record);
      if (s.hunts.length > MAX_HUNT_HISTORY) s.hunts.splice(0, s.hunts.length - MAX_HUNT_HISTORY);
    });
    const progress = new StoreHuntProgress(a, record.id);
    await progress.markThreatDone('Emotet', { threat: 'Emotet', observables: 3, targets: [], casebook: { id: 'cb-1' } } as never);
    expect(a.get().hunts).toHaveLength(MAX_HUNT_HISTORY);
    await until(() => b.get().hunts.at(-1)?.threatsDone.length === 1, 'B seeing the threat done');
    const resumed = new StoreHuntProgress(b, record.id);
    expect(resumed.threatsDone()).toEqual(['Emotet']);
    expect(resumed.casebookOf('Emotet')).toBe('cb-1');
    expect(b.get().hunts[0]!.id).toBe('old-1');
  });

  it('runs a response action once when Confirm reaches both instances at the same moment (ResponseActionDesk unchanged)', async () => {
    const [a, b] = [await open(pools.a), await open(pools.b)];
    const triggered: string[] = [];
    const xdr = { triggerResponseAction: async (action: ResponseAction) => (triggered.push(action.id), { status: 'success' }) };
    const clock = new FakeClock('2026-12-01T10:00:00Z');
    const [deskA, deskB] = [a, b].map((store) => new ResponseActionDesk({ store, xdr, clock, logger: silentLogger })) as [ResponseActionDesk, ResponseActionDesk];
    const block: ResponseAction = { id: 'block', title: 'Block this domain', module: 'Umbrella', moduleInstanceId: 'mi-1', observable: { type: 'domain', value: 'evil.example' } };
    const offerId = (await deskA.offer([block])).get('domain:evil.example')![0]!.offerId;
    const { confirmation } = await deskA.ask(offerId, 'alice@example.com');
    // B may not have loaded the confirmation yet: its update loads the row under the lock before deciding.
    const outcomes = await Promise.all([deskA.confirm(confirmation.id, 'alice@example.com'), deskB.confirm(confirmation.id, 'alice@example.com')]);
    expect(outcomes.map((o) => o.kind).sort()).toEqual(['already', 'ran']);
    expect(triggered).toEqual(['block']);
    await until(() => deskB.list(1, 10).total === 1, "B listing A's action record");
  });

  it('writes nothing when a mutate changed nothing', async () => {
    const a = await open(pools.a);
    await a.update((s) => void (s.rooms.SOC = 'room-soc'));
    expect(await a.update((s) => s.rooms.SOC)).toBe('room-soc');
    await a.update((s) => void (s.rooms.SOC = 'room-soc'));
    expect((await row(pools.a)).revision).toBe(1);
  });

  it('refuses updates once closed', async () => {
    const a = await open(pools.a);
    await a.close();
    await expect(a.update(() => undefined)).rejects.toThrow(/store is closed/);
  });
});

describe.skipIf(!server)('schema migration 4', () => {
  it('copies what the per-fact tables of migration 1 held into the document, then drops them', async () => {
    const db = await createTestDatabase(server!);
    const pool = createPool({ url: db.url });
    try {
      await migrate(pool, { migrations: MIGRATIONS.filter((m) => m.version < 4) });
      await pool.query(`
        INSERT INTO hunts (id, trigger, requested_by, week, started_at, finished_at, status, threats_done, summary, outcomes)
          VALUES ('hunt-1', 'command', 'bob@example.com', '2026-11-20', '2026-11-20T09:00:00Z', '2026-11-20T09:10:00.5Z', 'finished', '{Emotet}', '1 threat', '[{"threat":"Emotet","note":null}]'),
                 ('hunt-2', 'schedule', NULL, '2026-11-27', '2026-11-27T09:00:00Z', NULL, 'running', '{}', NULL, NULL);
        INSERT INTO hunt_casebooks VALUES ('hunt-1', 'Emotet', 'cb-1');
        INSERT INTO talos_cursors (name, value) VALUES ('roundup.cursorUrlId', '7'), ('schedule.armedAt', '"2026-01-02T00:00:00.000Z"'),
          ('iocsRepo.lastCommit', '{"sha":"abc","date":"2026-11-26T00:00:00Z"}');
        INSERT INTO talos_posts VALUES ('2026/11/post', 'Post', NULL, '{domain:evil.example}', '2026-11-26T00:00:00Z');
        INSERT INTO rooms VALUES ('SOC', 'room-soc');
        INSERT INTO module_state (module, instance, state) VALUES ('rss', 'https://feed.example/rss', '{"etag":"W/\\"9\\""}'), ('x', 'x', '{"sinceId":"1234"}');
        INSERT INTO module_seen (module, instance, item_id, seen_at) VALUES ('rss', 'https://feed.example/rss', 'item-2', '2026-11-02Z'), ('rss', 'https://feed.example/rss', 'item-1', '2026-11-01Z');
        INSERT INTO investigate_offers (id, offer) VALUES ('off-1', '{"id":"off-1","title":"Isolate"}');
        INSERT INTO investigate_actions (at, record) VALUES ('2026-11-30Z', '{"id":"rec-1","at":"2026-11-30T00:00:00.000Z"}');
      `);
      await migrate(pool);
      const { doc, revision } = await row(pool);
      expect(revision).toBe(1);
      expect(doc).toEqual({
        version: 1,
        hunts: [
          { id: 'hunt-1', trigger: 'command', requestedBy: 'bob@example.com', week: '2026-11-20', startedAt: '2026-11-20T09:00:00.000Z', finishedAt: '2026-11-20T09:10:00.500Z', status: 'finished', threatsDone: ['Emotet'], casebooks: { Emotet: 'cb-1' }, summary: '1 threat', outcomes: [{ threat: 'Emotet', note: null }], source: 'roundup' },
          { id: 'hunt-2', trigger: 'schedule', week: '2026-11-27', startedAt: '2026-11-27T09:00:00.000Z', status: 'running', threatsDone: [], casebooks: {}, source: 'roundup' },
        ],
        talos: {
          cursorUrlId: 7,
          scheduleArmedAt: '2026-01-02T00:00:00.000Z',
          iocsRepo: { lastCommit: { sha: 'abc', date: '2026-11-26T00:00:00Z' }, posts: { '2026/11/post': { name: 'Post', observables: ['domain:evil.example'], huntedAt: '2026-11-26T00:00:00.000Z' } } },
        },
        rooms: { SOC: 'room-soc' },
        modules: { rss: { 'https://feed.example/rss': { etag: 'W/"9"', seen: ['item-1', 'item-2'] } }, x: { sinceId: '1234' } },
        investigate: { offers: { 'off-1': { id: 'off-1', title: 'Isolate' } }, records: [{ id: 'rec-1', at: '2026-11-30T00:00:00.000Z' }] },
      });
      const { rows } = await pool.query("SELECT count(*)::int AS n FROM pg_tables WHERE tablename IN ('hunts', 'hunt_casebooks', 'talos_cursors', 'rooms', 'module_seen', 'investigate_actions')");
      expect(rows[0].n).toBe(0);
      // The document the app opens.
      const store = await PostgresControlStore.open(pool, { logger: silentLogger });
      expect(store.get().hunts[1]!.status).toBe('running');
      await store.close();
    } finally {
      await pool.end();
      await db.drop();
    }
  });

  it('starts an empty database with an empty document at revision 0', async () => {
    const db = await createTestDatabase(server!);
    const pool = createPool({ url: db.url });
    try {
      await migrate(pool);
      expect(await row(pool)).toEqual({ doc: { version: 1, talos: {}, hunts: [], rooms: {} }, revision: 0 });
    } finally {
      await pool.end();
      await db.drop();
    }
  });
});
