import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { WebexHttpApi } from '../../../src/clients/webex/api.js';
import { RoomDirectory } from '../../../src/clients/webex/rooms.js';
import { silentLogger } from '../../../src/core/logger.js';
import { WebexEmulator } from '../../../src/emulators/webex/index.js';
import { emptyState, type State } from '../../../src/store/state.js';
import type { Store } from '../../../src/store/store.js';

/** The Store contract in memory: enough for the directory, which only touches `rooms`. */
class MemoryStore implements Store {
  writable = true;
  writes = 0;
  constructor(private state: State = emptyState()) {}
  get(): Readonly<State> {
    return this.state;
  }
  async update<T>(mutate: (state: State) => T): Promise<T> {
    const out = mutate(this.state);
    this.writes++;
    return out;
  }
  async flush(): Promise<void> {}
  async close(): Promise<void> {}
}

let emu: WebexEmulator;
let api: WebexHttpApi;

beforeEach(async () => {
  emu = new WebexEmulator();
  await emu.start();
  api = new WebexHttpApi({ baseUrl: emu.apiBase, token: emu.botToken, logger: silentLogger });
});

afterEach(async () => {
  await emu.stop();
});

const count = (method: string, path: RegExp) => emu.requestLog.filter((r) => r.method === method && path.test(r.path)).length;

describe('RoomDirectory', () => {
  it('creates a room once when many callers ask at the same time, and adds the members', async () => {
    const store = new MemoryStore();
    const rooms = new RoomDirectory({ api, store, members: ['alice@example.com', 'bob@example.com'], logger: silentLogger });
    const ids = await Promise.all(Array.from({ length: 5 }, () => rooms.ensureRoom('TALOS ROUNDUP Investigation')));
    expect(new Set(ids).size).toBe(1);
    expect(count('POST', /^\/v1\/rooms$/)).toBe(1);
    expect(count('POST', /^\/v1\/memberships$/)).toBe(2);
    expect(store.get().rooms['TALOS ROUNDUP Investigation']).toBe(ids[0]);
    expect(emu.rooms()[0]?.members.sort()).toEqual(['alice@example.com', 'bob@example.com', 'sightline@webex.bot']);
    // Later calls in this process are answered from memory.
    await rooms.ensureRoom('TALOS ROUNDUP Investigation');
    expect(count('POST', /^\/v1\/memberships$/)).toBe(2);
  });

  it('makes one room when two instances (each its own directory and store copy) ask at the same time under their shared lock, two without it', async () => {
    let tail: Promise<unknown> = Promise.resolve();
    // What PostgreSQL mode passes (an advisory lock): one look-up-or-create at a time across instances.
    const sharedLock = <T,>(work: () => Promise<T>): Promise<T> => {
      const run = tail.then(work, work);
      tail = run.catch(() => undefined);
      return run;
    };
    const instance = (exclusive?: typeof sharedLock) =>
      new RoomDirectory({ api, store: new MemoryStore(), members: ['alice@example.com'], logger: silentLogger, ...(exclusive ? { exclusive } : {}) });
    const locked = await Promise.all([instance(sharedLock).ensureRoom('Shared room'), instance(sharedLock).ensureRoom('Shared room')]);
    expect(locked[0]).toBe(locked[1]);
    expect(emu.rooms().filter((r) => r.title === 'Shared room')).toHaveLength(1);
    // The same race without the lock is what the lock is for.
    await Promise.all([instance().ensureRoom('Unlocked room'), instance().ensureRoom('Unlocked room')]);
    expect(emu.rooms().filter((r) => r.title === 'Unlocked room')).toHaveLength(2);
  });

  it('reuses the stored id without listing or creating, re-adding members idempotently', async () => {
    const room = await api.createRoom('Sightline Incidents');
    await api.addMember(room.id, 'alice@example.com');
    const state = emptyState();
    state.rooms['Sightline Incidents'] = room.id;
    const before = emu.requestLog.length;
    const rooms = new RoomDirectory({ api, store: new MemoryStore(state), members: ['alice@example.com'], logger: silentLogger });
    await expect(rooms.ensureRoom('Sightline Incidents')).resolves.toBe(room.id);
    const after = emu.requestLog.slice(before);
    expect(after.map((r) => `${r.method} ${r.path}`)).toEqual(['POST /v1/memberships']);
  });

  it('finds an existing room by title when the store does not know it', async () => {
    const existing = emu.createRoomAsPerson('SOC War Room', ['alice@example.com']);
    for (let i = 0; i < 3; i++) await api.createRoom(`noise ${i}`);
    const store = new MemoryStore();
    const rooms = new RoomDirectory({ api, store, members: [], logger: silentLogger });
    await expect(rooms.ensureRoom('SOC War Room')).resolves.toBe(existing.id);
    expect(count('POST', /^\/v1\/rooms$/)).toBe(3);
    expect(store.get().rooms['SOC War Room']).toBe(existing.id);
  });

  it('looks a room up again when the stored id is no longer known to Webex', async () => {
    const state = emptyState();
    state.rooms['SOC'] = 'Y2lzY29zcGFyazovL3VzL1JPT00vZ29uZQ';
    const store = new MemoryStore(state);
    const rooms = new RoomDirectory({ api, store, members: ['alice@example.com'], logger: silentLogger });
    const id = await rooms.ensureRoom('SOC');
    expect(id).not.toBe('Y2lzY29zcGFyazovL3VzL1JPT00vZ29uZQ');
    expect(store.get().rooms['SOC']).toBe(id);
    expect(emu.rooms().map((r) => r.title)).toEqual(['SOC']);
  });

  it('lets a failed lookup be retried by the next caller', async () => {
    const rooms = new RoomDirectory({ api, store: new MemoryStore(), members: [], logger: silentLogger });
    emu.injectFault({ pathPattern: '^/v1/rooms$', method: 'POST', status: 400, count: 1 });
    await expect(rooms.ensureRoom('X')).rejects.toMatchObject({ status: 400 });
    await expect(rooms.ensureRoom('X')).resolves.toMatch(/^[A-Za-z0-9_-]+$/);
  });
});
