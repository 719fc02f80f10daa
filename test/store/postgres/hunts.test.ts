import { beforeEach, describe, expect, it } from 'vitest';
import type { HuntRecord, TalosState } from '../../../src/store/state.js';
import {
  casebookOf,
  claimCasebook,
  getCursor,
  getHunt,
  markThreatDone,
  readTalosState,
  recentHunts,
  runningHunts,
  saveHunt,
  setCursor,
  writeTalosState,
} from '../../../src/store/postgres/hunts.js';
import {
  allRooms,
  getConfirmation,
  getModuleState,
  getOffer,
  getRoom,
  markSeen,
  recentActions,
  recordAction,
  saveConfirmation,
  saveOffer,
  seenItems,
  setModuleState,
  setRoom,
} from '../../../src/store/postgres/module-state.js';
import { testPostgres, useMigratedDatabase } from '../../support/postgres.js';

const server = await testPostgres();

function hunt(id: string, over: Partial<HuntRecord> = {}): HuntRecord {
  return { id, trigger: 'schedule', week: '2026-11-27', startedAt: '2026-11-27T09:00:00.000Z', status: 'running', threatsDone: [], casebooks: {}, ...over };
}

describe.skipIf(!server)('hunts, Talos cursors, rooms and module state on PostgreSQL', () => {
  const db = useMigratedDatabase(server!);

  beforeEach(async () => {
    await db.pool.query(
      'TRUNCATE hunts, hunt_casebooks, talos_cursors, talos_posts, rooms, module_state, module_seen, investigate_offers, investigate_confirmations, investigate_actions RESTART IDENTITY CASCADE',
    );
  });

  it('round-trips a hunt record with its casebooks, and lists running and recent hunts', async () => {
    const h = hunt('h-1', { trigger: 'command', requestedBy: 'alice@example.com', uri: 'https://talos/x', threatsDone: ['Emotet'], casebooks: { Emotet: 'cb-1' }, outcomes: [{ threat: 'Emotet', hits: 2 }], dryRun: true, source: 'iocs-repo' });
    expect(await saveHunt(db.pool, h)).toBe(true);
    await saveHunt(db.pool, hunt('h-2', { startedAt: '2026-11-28T09:00:00.000Z', status: 'finished', finishedAt: '2026-11-28T09:05:00.000Z', summary: 'done' }));
    expect(await getHunt(db.pool, 'h-1')).toEqual(h);
    expect((await runningHunts(db.pool)).map((r) => r.id)).toEqual(['h-1']);
    expect((await recentHunts(db.pool, 1)).map((r) => r.id)).toEqual(['h-2']);
    expect(await getHunt(db.pool, 'nope')).toBeUndefined();
  });

  it('never forgets a threat done: a late write of an older copy keeps what another instance finished', async () => {
    await saveHunt(db.pool, hunt('h-1'));
    await markThreatDone(db.pool, 'h-1', 'Emotet');
    await markThreatDone(db.pool, 'h-1', 'Emotet');
    expect(await saveHunt(db.pool, hunt('h-1', { threatsDone: ['Qakbot'], status: 'finished' }))).toBe(false);
    const back = (await getHunt(db.pool, 'h-1'))!;
    expect(back.threatsDone.sort()).toEqual(['Emotet', 'Qakbot']);
    expect(back.status).toBe('finished');
  });

  it('gives the first casebook of a hunt and threat to every later claim, so a resumed hunt never makes a second', async () => {
    await saveHunt(db.pool, hunt('h-1'));
    const claims = await Promise.all(['cb-a', 'cb-b', 'cb-c'].map((id) => claimCasebook(db.pool, 'h-1', 'Emotet', id)));
    expect(new Set(claims).size).toBe(1);
    expect(await casebookOf(db.pool, 'h-1', 'Emotet')).toBe(claims[0]);
    expect(await claimCasebook(db.pool, 'h-1', 'Qakbot', 'cb-q')).toBe('cb-q');
    expect(Number((await db.pool.query('SELECT count(*) AS n FROM hunt_casebooks')).rows[0].n)).toBe(2);
    // A saved record carrying another casebook id for the threat does not replace the first.
    await saveHunt(db.pool, hunt('h-1', { casebooks: { Emotet: 'cb-z' } }));
    expect((await getHunt(db.pool, 'h-1'))!.casebooks).toEqual({ Emotet: claims[0], Qakbot: 'cb-q' });
  });

  it('round-trips the Talos state: roundup cursor, schedule facts, the IOCs repo cursor, pending batch, etags and posts', async () => {
    const talos: TalosState = {
      cursorUrlId: 42,
      lastHuntedWeek: '2026-11-20',
      pendingRetry: { week: '2026-11-27', attempt: 2, nextAttemptAt: '2026-11-27T10:00:00.000Z' },
      scheduleArmedAt: '2026-01-01T00:00:00.000Z',
      iocsRepo: {
        lastCommit: { sha: 'abc', date: '2026-11-26T00:00:00Z' },
        posts: { '2026/11/emotet': { name: 'Emotet', link: 'https://blog/e', observables: ['domain:a.example', 'ip:1.2.3.4'], huntedAt: '2026-11-26T01:00:00.000Z' } },
        pending: { huntId: 'h-9', posts: [{ key: '2026/11/qak', paths: ['2026/11/qak.txt'] }], toCommit: { sha: 'def', date: '2026-11-27T00:00:00Z' } },
        etags: { commits: { etag: 'W/"1"', body: [{ sha: 'abc' }] } },
        lastCheckedAt: '2026-11-27T08:00:00.000Z',
      },
    };
    expect(await writeTalosState(db.pool, talos)).toEqual({ cursors: 8, posts: 1 });
    expect(await readTalosState(db.pool)).toEqual(talos);
    // A field cleared in the state is removed from the table.
    await writeTalosState(db.pool, { ...talos, pendingRetry: undefined });
    expect((await readTalosState(db.pool)).pendingRetry).toBeUndefined();
    await setCursor(db.pool, 'roundup.cursorUrlId', 43);
    expect(await getCursor<number>(db.pool, 'roundup.cursorUrlId')).toBe(43);
  });

  it('keeps rooms, module state, items seen once, and the investigate desk', async () => {
    await setRoom(db.pool, 'SOC', 'room-1');
    await setRoom(db.pool, 'SOC', 'room-2');
    expect(await getRoom(db.pool, 'SOC')).toBe('room-2');
    expect(await allRooms(db.pool)).toEqual({ SOC: 'room-2' });

    await setModuleState(db.pool, 'rss', 'https://feed/a', { etag: 'e1' });
    expect(await getModuleState(db.pool, 'rss', 'https://feed/a')).toEqual({ etag: 'e1' });
    expect(await markSeen(db.pool, 'rss', 'https://feed/a', ['i1', 'i2'])).toEqual(['i1', 'i2']);
    expect(await markSeen(db.pool, 'rss', 'https://feed/a', ['i2', 'i3'])).toEqual(['i3']);
    expect((await seenItems(db.pool, 'rss', 'https://feed/a')).sort()).toEqual(['i1', 'i2', 'i3']);

    expect(await saveOffer(db.pool, { id: 'o1', offeredAt: '2026-11-30T00:00:00.000Z' })).toBe(true);
    expect(await saveOffer(db.pool, { id: 'o1' })).toBe(false);
    expect(await getOffer(db.pool, 'o1')).toEqual({ id: 'o1', offeredAt: '2026-11-30T00:00:00.000Z' });
    await saveConfirmation(db.pool, { id: 'c1', status: 'pending' });
    await saveConfirmation(db.pool, { id: 'c1', status: 'done' });
    expect(await getConfirmation(db.pool, 'c1')).toEqual({ id: 'c1', status: 'done' });
    await recordAction(db.pool, { at: '2026-11-30T00:00:00.000Z' });
    await recordAction(db.pool, { at: '2026-11-30T01:00:00.000Z' });
    expect(await recentActions(db.pool)).toEqual([{ at: '2026-11-30T01:00:00.000Z' }, { at: '2026-11-30T00:00:00.000Z' }]);
  });
});
