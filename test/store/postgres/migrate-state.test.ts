import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../../src/cli/main.js';
import { FakeClock } from '../../../src/core/clock.js';
import { silentLogger } from '../../../src/core/logger.js';
import { readModulesState } from '../../../src/modules/state.js';
import { applySighting } from '../../../src/domain/correlation/correlator.js';
import type { IncomingSighting } from '../../../src/domain/correlation/intake.js';
import { parseLadder } from '../../../src/domain/correlation/ladder.js';
import { emptyCorrelationState, type CorrelationState, type Incident } from '../../../src/domain/correlation/types.js';
import { enqueueForSighting, enqueueStatus } from '../../../src/domain/correlation/xdr-sync.js';
import { DeliveryReceipts, receiptsPathFor } from '../../../src/notify/receipts.js';
import { journalPathFor, SightingJournal } from '../../../src/store/journal/journal.js';
import { PostgresCorrelationStore } from '../../../src/store/postgres/correlation.js';
import { PostgresControlStore } from '../../../src/store/postgres/control-store.js';
import { PostgresIncidentReads } from '../../../src/store/postgres/incident-reads.js';
import { createPool } from '../../../src/store/postgres/pool.js';
import { PostgresSightingsLog } from '../../../src/store/postgres/sightings-log.js';
import { parseState } from '../../../src/store/lowdb-store.js';
import type { State } from '../../../src/store/state.js';
import { createTestDatabase, testPostgres, type TestDatabase } from '../../support/postgres.js';

const server = await testPostgres();
const rungs = parseLadder('gte 2 -> notify; gte 4 -> mention');
const NOW = new Date('2026-11-30T12:00:00.000Z');

function sighting(id: string, host: string, minute: number, ioc = 'evil.example'): IncomingSighting {
  return {
    dedupeKey: id,
    target: { type: 'endpoint', observables: [{ type: 'hostname', value: host }] },
    ioc: { type: 'domain', value: ioc },
    source: 'webhook',
    observedAt: new Date(Date.UTC(2026, 10, 30, 10, minute)).toISOString(),
    ctim: { type: 'sighting', observables: [{ type: 'domain', value: ioc }] },
  };
}

/** Closes as the engine does (correlation/engine.ts closeIncident): status, times, index, the XDR status op. */
function close(cs: CorrelationState, id: string, by: string): void {
  const inc = cs.incidents[id]!;
  inc.status = 'Closed';
  inc.closedAt = NOW.toISOString();
  inc.closedBy = by;
  inc.closeReason = 'benign';
  delete cs.openByTarget[inc.targetKey];
  enqueueStatus(cs, inc, 'Closed');
}

/** XDR created the incident: its id recorded, the create op done (as the mirror leaves it). */
function mirrored(inc: Incident, xdrId: string): void {
  inc.xdrId = xdrId;
  inc.xdrSync.pending = inc.xdrSync.pending.filter((op) => op.kind !== 'create_incident');
  inc.xdrSync.lastSyncedAt = NOW.toISOString();
}

/**
 * A lowdb state made by the app's own code: sightings appended to a real journal, the first
 * ones applied by the correlator's applySighting/enqueueForSighting, closes as the engine
 * closes, receipts recorded by DeliveryReceipts. The last two journal entries stay unapplied.
 */
async function makeLowdbState(dir: string): Promise<{ file: string; state: State; unapplied: IncomingSighting[] }> {
  const file = join(dir, 'sightline.json');
  const journal = await SightingJournal.open({ path: journalPathFor(file), clock: new FakeClock(NOW), logger: silentLogger, dedupeWindowSeconds: 3600 });
  const applied: IncomingSighting[] = [];
  // ws-1: 3 sightings, closed, then 2 more (a new incident linked to the closed one).
  // ws-2: 5 sightings over 2 IOCs (both rungs), open and mirrored. ws-3: 1 sighting, open, never mirrored.
  let n = 0;
  const batch = (host: string, count: number, ioc?: string) => Array.from({ length: count }, () => sighting(`s-${++n}`, host, n, ioc));
  const first = [...batch('ws-1', 3), ...batch('ws-2', 3), ...batch('ws-2', 2, 'bad.example'), ...batch('ws-3', 1)];
  const second = batch('ws-1', 2);
  const unapplied = [...batch('ws-2', 1), ...batch('ws-4', 1)];
  const seqs = await journal.append([...first, ...second, ...unapplied]);
  await journal.close();

  const cs = emptyCorrelationState();
  let ids = 0;
  const apply = (s: IncomingSighting, seq: number) => {
    const r = applySighting(cs, { ...s, seq }, NOW, { rungs, rejectedIsClosed: true, dryRun: false, newId: () => `inc-${String(++ids).padStart(4, '0')}` });
    enqueueForSighting(cs, r, { ...s, seq });
    applied.push(s);
    cs.lastAppliedSeq = seq;
  };
  first.forEach((s, i) => apply(s, seqs[i]!));
  const ws1 = cs.openByTarget['hostname:ws-1']!;
  mirrored(cs.incidents[ws1]!, 'xdr-incident-1');
  cs.incidents[ws1]!.rungsFired[0]!.outcome = 'notified';
  close(cs, ws1, 'alice@example.com');
  second.forEach((s, i) => apply(s, seqs[first.length + i]!));
  mirrored(cs.incidents[cs.openByTarget['hostname:ws-2']!]!, 'xdr-incident-2');
  cs.incidents[cs.openByTarget['hostname:ws-2']!]!.cardMessageId = 'msg-2';
  cs.incidents[cs.openByTarget['hostname:ws-2']!]!.xdrSync.deadLetters = [{ opId: 3, kind: 'sighting', seq: 4, reason: '400 bad observable', attempts: 5, at: NOW.toISOString() }];

  const state: State = {
    version: 1,
    talos: { cursorUrlId: 7, lastHuntedWeek: '2026-11-20', scheduleArmedAt: '2026-01-02T00:00:00.000Z', iocsRepo: { lastCommit: { sha: 'abc', date: '2026-11-26T00:00:00Z' } } },
    hunts: [
      { id: 'hunt-1', trigger: 'schedule', week: '2026-11-20', startedAt: '2026-11-20T09:00:00.000Z', finishedAt: '2026-11-20T09:10:00.000Z', status: 'finished', threatsDone: ['Emotet', 'Qakbot'], casebooks: { Emotet: 'cb-1', Qakbot: 'cb-2' }, summary: '2 threats' },
      { id: 'hunt-2', trigger: 'command', requestedBy: 'bob@example.com', week: '2026-11-27', startedAt: '2026-11-27T09:00:00.000Z', status: 'running', threatsDone: ['Emotet'], casebooks: { Emotet: 'cb-3' } },
    ],
    rooms: { SOC: 'room-soc', 'SOC leads': 'room-leads' },
    outbox: [
      { id: 'ob-1', channel: 'webex', key: 'room-soc', payload: { kind: 'incident_opened' }, createdAt: NOW.toISOString(), attempts: 0, nextAttemptAt: NOW.toISOString() },
      { id: 'ob-2', channel: 'webex', key: 'room-soc', payload: { kind: 'incident_updated' }, createdAt: NOW.toISOString(), attempts: 2, nextAttemptAt: NOW.toISOString(), lastError: '429', dedupeKey: 'hunt-2:card' },
      { id: 'ob-3', channel: 'email', key: 'email', payload: { kind: 'hunt_finished' }, createdAt: NOW.toISOString(), attempts: 0, nextAttemptAt: NOW.toISOString() },
    ],
    outboxKeys: ['hunt-2:card', 'hunt-1:card'],
    outboxDead: [{ id: 'ob-0', channel: 'webex', key: 'room-gone', kind: 'incident_opened', reason: '404 room not found', createdAt: NOW.toISOString(), failedAt: NOW.toISOString(), attempts: 1, payload: {} }],
    correlation: cs,
    investigate: {
      offers: { 'off-1': { id: 'off-1', actionId: 'isolate', moduleInstanceId: 'm-1', module: 'AMP', title: 'Isolate host', observable: { type: 'hostname', value: 'ws-2' }, offeredAt: NOW.toISOString() } },
      confirmations: { 'conf-1': { id: 'conf-1', offerId: 'off-1', requestedBy: 'alice@example.com', requestedAt: NOW.toISOString(), status: 'done', recordId: 'rec-1' } },
      records: [{ id: 'rec-1', title: 'Isolate host', module: 'AMP', observable: { type: 'hostname', value: 'ws-2' }, requestedBy: 'alice@example.com', confirmedBy: 'bob@example.com', at: NOW.toISOString(), result: 'success' }],
    },
    modules: { rss: { 'https://feed.example/rss': { etag: 'W/"9"', seen: ['item-1', 'item-2'] } }, x: { sinceId: '1234', query: 'malware' } },
  };
  await writeFile(file, JSON.stringify(state));
  // ob-3 was delivered just before the stop: its receipt is on disk, the state not rewritten yet.
  const receipts = await DeliveryReceipts.open(receiptsPathFor(file));
  await receipts.record('ob-3');
  // ob-1 went out in part (two of its messages) before the stop; ob-3's progress left with its receipt.
  await receipts.recordParts('ob-1', 2);
  await receipts.recordParts('ob-3', 1);
  await receipts.close();
  return { file, state: parseState(JSON.stringify(state), file), unapplied };
}

async function run(...args: string[]): Promise<{ code: number; output: string }> {
  const lines: string[] = [];
  const code = await main(['migrate-state', ...args], (s) => lines.push(s));
  return { code, output: lines.join('\n') };
}

/** "  kind   N" lines of the report as a map. */
function countsOf(output: string): Record<string, number> {
  return Object.fromEntries([...output.matchAll(/^ {2}(.+?)\s{2,}(\d+)$/gm)].map((m) => [m[1]!, Number(m[2])]));
}

describe.skipIf(!server)('sightline migrate-state', () => {
  let dir: string;
  let db: TestDatabase;
  let other: TestDatabase;
  let pool: pg.Pool;
  let fixture: Awaited<ReturnType<typeof makeLowdbState>>;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sightline-migrate-'));
    fixture = await makeLowdbState(dir);
    [db, other] = await Promise.all([createTestDatabase(server!), createTestDatabase(server!)]);
    pool = createPool({ url: db.url });
  });
  afterAll(async () => {
    await pool?.end();
    await Promise.all([db?.drop(), other?.drop()]);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('imports every kind with counts matching the file, and reads give back the same incidents', async () => {
    const { code, output } = await run(fixture.file, '--database-url', db.url);
    expect(output).toContain(`Imported ${fixture.file}`);
    expect(code).toBe(0);
    const cs = fixture.state.correlation as CorrelationState;
    const incidents = Object.values(cs.incidents);
    const counts = countsOf(output);
    expect(counts).toMatchObject({
      incidents: incidents.length,
      'incident sightings': incidents.reduce((a, i) => a + 1 + i.recentSightings.length, 0),
      'rungs fired': incidents.reduce((a, i) => a + i.rungsFired.length, 0),
      'XDR changes waiting': incidents.reduce((a, i) => a + i.xdrSync.pending.length, 0),
      'XDR dead letters': 1,
      'previous-incident links': 1,
      'sightings not yet applied': fixture.unapplied.length,
      hunts: 2,
      casebooks: 3,
      rooms: 2,
      'module states': 2,
      'module items seen': 2,
      'outbox items waiting': 2,
      'outbox keys': 2,
      'delivery receipts': 1,
      'outbox items sent in part': 1,
      'dead letters': 1,
      'investigate offers': 1,
      'investigate confirmations': 1,
      'investigate actions': 1,
    });
    expect(incidents.length).toBe(4);

    // Reads through the store give the same incidents: ids, ordinals, counts, targets, links, XDR ids, rungs, sightings.
    const reads = new PostgresIncidentReads(pool);
    for (const inc of incidents) {
      const back = (await reads.incident(inc.id))!;
      const { xdrSync, ...rest } = inc;
      const { xdrSync: backSync, ...backRest } = back;
      expect(backRest).toEqual(rest);
      expect(backSync.dropped).toBe(xdrSync.dropped);
      expect(backSync.lastSyncedAt).toBe(xdrSync.lastSyncedAt);
    }
    const all = await reads.allIncidents({ limit: 10 });
    expect(all.items.map((i) => i.ordinal)).toEqual(incidents.map((i) => i.ordinal).sort((a, b) => b - a));
    expect((await reads.openIncidents()).items.map((i) => i.id).sort()).toEqual(Object.values(cs.openByTarget).sort());
    const closed = (await reads.closedIncidents()).items;
    expect(closed.map((i) => i.xdrId)).toEqual(['xdr-incident-1']);
    const relinked = (await reads.incidentByTarget('hostname:ws-1'))!;
    expect(relinked.previousIncidentId).toBe(closed[0]!.id);

    // XDR ops waiting keep their ids, kinds and order; the outbox keeps its order, minus what was delivered.
    const ops = await pool.query<{ id: string; incident_id: string; kind: string }>('SELECT id, incident_id, kind FROM xdr_ops ORDER BY id');
    expect(ops.rows.map((r) => [Number(r.id), r.incident_id, r.kind])).toEqual(
      incidents.flatMap((i) => i.xdrSync.pending.map((op) => [op.id, i.id, op.kind])).sort((a, b) => (a[0] as number) - (b[0] as number)),
    );
    expect((await pool.query<{ id: string }>('SELECT id FROM outbox ORDER BY position')).rows.map((r) => r.id)).toEqual(['ob-1', 'ob-2']);
    expect((await pool.query('SELECT item_id, sent FROM outbox_parts')).rows).toEqual([{ item_id: 'ob-1', sent: 2 }]);

    // Hunts with casebooks, cursors, rooms, modules, the desk: in the control document, as the app's store opens it.
    const control = await PostgresControlStore.open(pool, { logger: silentLogger });
    try {
      const doc = control.get();
      expect(doc.hunts.find((h) => h.id === 'hunt-2')).toMatchObject({ status: 'running', threatsDone: ['Emotet'], casebooks: { Emotet: 'cb-3' } });
      expect(doc.hunts.map((h) => h.id)).toEqual(fixture.state.hunts.map((h) => h.id));
      expect(doc.talos).toEqual(fixture.state.talos);
      expect(doc.rooms).toEqual(fixture.state.rooms);
      expect(readModulesState(doc).x).toEqual({ sinceId: '1234', query: 'malware' });
      expect(readModulesState(doc).rss['https://feed.example/rss']!.seen).toEqual(['item-1', 'item-2']);
      expect(doc.investigate).toEqual(fixture.state.investigate);
      expect(doc.correlation).toBeUndefined();
      expect(doc.outbox).toEqual([]);
    } finally {
      await control.close();
    }
  });

  it('a second run (the URL from DATABASE_URL this time) imports nothing and says so', async () => {
    const before = await pool.query('SELECT (SELECT count(*) FROM incidents) i, (SELECT count(*) FROM incident_sightings) s, (SELECT count(*) FROM xdr_ops) o, (SELECT count(*) FROM outbox) b, (SELECT count(*) FROM sightings) l');
    const saved = process.env.DATABASE_URL;
    process.env.DATABASE_URL = db.url;
    let result: { code: number; output: string };
    try {
      result = await run(fixture.file);
    } finally {
      if (saved === undefined) delete process.env.DATABASE_URL;
      else process.env.DATABASE_URL = saved;
    }
    const { code, output } = result;
    expect(output).toMatch(/^Nothing to import: everything in .* is in PostgreSQL at .* already/);
    expect(code).toBe(0);
    const after = await pool.query('SELECT (SELECT count(*) FROM incidents) i, (SELECT count(*) FROM incident_sightings) s, (SELECT count(*) FROM xdr_ops) o, (SELECT count(*) FROM outbox) b, (SELECT count(*) FROM sightings) l');
    expect(after.rows).toEqual(before.rows);
  });

  it('the sightings not yet applied are counted by the PostgreSQL store into the right incidents, and new numbers follow the imported ones', async () => {
    const cs = fixture.state.correlation as CorrelationState;
    const ws2 = cs.openByTarget['hostname:ws-2']!;
    const store = new PostgresCorrelationStore(pool, new PostgresSightingsLog(pool), { rungs, rejectedIsClosed: true, dryRun: false });
    const { claimed, result } = await store.applyNext();
    expect(claimed).toBe(2);
    expect(result!.opened).toHaveLength(1);
    expect((await store.incident(ws2))!.count).toBe(cs.incidents[ws2]!.count + 1);
    const ws4 = (await store.incidentByTarget('hostname:ws-4'))!;
    expect(ws4.ordinal).toBeGreaterThan(Math.max(...Object.values(cs.incidents).map((i) => i.ordinal)));
    // The redelivery of an imported sighting is a duplicate, as it was for lowdb.
    const again = await new PostgresSightingsLog(pool).append([sighting('s-1', 'ws-1', 1)]);
    expect(again.duplicates).toBe(1);
    // A new sighting gets a seq past every imported one (incident_sightings is keyed by incident and seq).
    const fresh = await new PostgresSightingsLog(pool).append([sighting('new-1', 'ws-2', 59)]);
    const maxImported = Number((await pool.query<{ m: string }>("SELECT max(seq) AS m FROM incident_sightings")).rows[0]!.m);
    expect((fresh.items[0] as { seq: number }).seq).toBeGreaterThan(maxImported);
    const opIds = (await pool.query<{ id: string }>('SELECT id FROM xdr_ops')).rows.map((r) => Number(r.id));
    expect(new Set(opIds).size).toBe(opIds.length);
    expect(Math.max(...opIds)).toBeGreaterThanOrEqual(cs.nextOpId);
  });

  it('refuses a database holding a different state, saying why, and writes nothing', async () => {
    const otherPool = createPool({ url: other.url });
    try {
      const store = new PostgresCorrelationStore(otherPool, new PostgresSightingsLog(otherPool), { rungs, rejectedIsClosed: true, dryRun: false });
      const { migrate } = await import('../../../src/store/postgres/migrate.js');
      await migrate(otherPool);
      await new PostgresSightingsLog(otherPool).append([sighting('foreign-1', 'ws-9', 1)]);
      await store.applyNext();
      const { code, output } = await run(fixture.file, '--database-url', other.url);
      expect(code).toBe(1);
      expect(output).toMatch(/already holds a different state \(1 incident\(s\), 1 sighting\(s\) not in .*sightline\.json\), so nothing was imported; import into an empty database/);
      expect(Number((await otherPool.query('SELECT count(*) AS n FROM incidents')).rows[0].n)).toBe(1);
      expect((await otherPool.query('SELECT doc, revision FROM control_state')).rows[0]).toMatchObject({ doc: { hunts: [] }, revision: '0' });
    } finally {
      await otherPool.end();
    }
  });

  it('fills the control document of a database the app already started on (seen by the running instance at once), and keeps one the app already filled', async () => {
    const [fresh, used] = await Promise.all([createTestDatabase(server!), createTestDatabase(server!)]);
    const pools = [createPool({ url: fresh.url }), createPool({ url: used.url })] as const;
    const stores: PostgresControlStore[] = [];
    try {
      const { migrate } = await import('../../../src/store/postgres/migrate.js');
      await Promise.all(pools.map((p) => migrate(p)));
      stores.push(...(await Promise.all(pools.map((p) => PostgresControlStore.open(p, { logger: silentLogger, refreshMs: 60_000 })))));
      const [app, busy] = stores as [PostgresControlStore, PostgresControlStore];
      // A start of the app arms the schedule: the document still counts as empty.
      await app.update((s) => void (s.talos.scheduleArmedAt = '2026-12-01T00:00:00.000Z'));
      let r = await run(fixture.file, '--database-url', fresh.url);
      expect(r.code).toBe(0);
      expect(countsOf(r.output)).toMatchObject({ hunts: 2, rooms: 2, 'Talos cursors': 4 });
      expect(r.output).not.toContain('were not imported');
      // The running instance's periodic refresh is a minute away: the notification brought it.
      for (let i = 0; i < 500 && app.get().hunts.length === 0; i++) await new Promise((res) => setTimeout(res, 10));
      expect(app.get().hunts.map((h) => h.id)).toEqual(['hunt-1', 'hunt-2']);
      expect(app.get().talos).toEqual(fixture.state.talos);

      // The app keeps rooms of its own already: the file's control sections are left out, and the report says so.
      await busy.update((s) => void (s.rooms.Mine = 'room-mine'));
      r = await run(fixture.file, '--database-url', used.url);
      expect(r.code).toBe(0);
      expect(countsOf(r.output)).toMatchObject({ incidents: 4, hunts: 0, rooms: 0 });
      expect(r.output).toContain('were not imported: the database keeps its own already');
      await busy.refresh();
      expect(busy.get().rooms).toEqual({ Mine: 'room-mine' });
    } finally {
      await Promise.all(stores.map((s) => s.close()));
      await Promise.all(pools.map((p) => p.end()));
      await Promise.all([fresh.drop(), used.drop()]);
    }
  });

  it('refuses a corrupt, a damaged or a missing file naming it, and an unreachable database naming it without the password', async () => {
    const corrupt = join(dir, 'corrupt.json');
    await writeFile(corrupt, '{"version":1,"hunts":[');
    let r = await run(corrupt, '--database-url', db.url);
    expect(r.code).toBe(1);
    expect(r.output).toContain(`The state file ${corrupt} is not valid JSON`);

    const damaged = join(dir, 'damaged.json');
    await writeFile(damaged, JSON.stringify({ version: 1, correlation: { incidents: null } }));
    r = await run(damaged, '--database-url', db.url);
    expect(r.output).toContain(`The state file ${damaged} is damaged`);
    expect(r.output).toContain('correlation.incidents');

    r = await run(join(dir, 'missing.json'), '--database-url', db.url);
    expect(r.output).toContain(`The state file ${join(dir, 'missing.json')} does not exist`);

    r = await run(fixture.file, '--database-url', 'postgres://sightline:s3cret@127.0.0.1:1/nowhere');
    expect(r.code).toBe(1);
    expect(r.output).toContain('PostgreSQL at 127.0.0.1:1/nowhere cannot be reached');
    expect(r.output).not.toContain('s3cret');

    const saved = process.env.DATABASE_URL;
    delete process.env.DATABASE_URL;
    try {
      r = await run(fixture.file);
    } finally {
      if (saved !== undefined) process.env.DATABASE_URL = saved;
    }
    expect(r.code).toBe(64);
    expect(r.output).toContain('--database-url');
    r = await run(fixture.file, '--database_url', db.url);
    expect(r.code).toBe(64);
    expect(r.output).toContain("Unknown option '--database_url'");
  });
});
