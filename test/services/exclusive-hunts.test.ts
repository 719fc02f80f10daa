import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/core/logger.js';
import type { HuntStatus } from '../../src/domain/ports/services.js';
import { ExclusiveHunts, type HuntLock, type ResumableHunts } from '../../src/services/exclusive-hunts.js';

const logger = createLogger({ level: 'silent' });

/** One lock shared by several "instances", as PostgreSQL's advisory lock is. */
function sharedLock(): { holder?: string; forInstance(name: string): HuntLock } {
  const shared: { holder?: string; forInstance(name: string): HuntLock } = {
    forInstance: (name) => ({
      tryAcquire: async () => {
        if (shared.holder) return false;
        shared.holder = name;
        return true;
      },
      release: async () => {
        if (shared.holder === name) shared.holder = undefined;
      },
      heldElsewhere: async () => shared.holder !== undefined && shared.holder !== name,
    }),
  };
  return shared;
}

/** A hunt source whose hunt runs until `finish()`. */
function fakeHunts(log: string[], name: string): ResumableHunts & { finish(): void } {
  let running: { done: Promise<void>; finish(): void } | undefined;
  const begin = (what: string) => {
    let finish!: () => void;
    const done = new Promise<void>((r) => (finish = r)).then(() => {
      running = undefined;
    });
    running = { done, finish };
    log.push(`${name}:${what}`);
    return { started: true as const, huntId: `${name}-${what}` };
  };
  return {
    status: (): HuntStatus => ({ running: running ? { id: 'h', label: 'week', startedAt: '', threatsDone: 0, threatsTotal: 0 } : undefined }) as HuntStatus,
    runThisWeek: async () => begin('week'),
    runUri: async (uri) => begin(uri),
    runScheduled: async (trigger) => begin(trigger),
    idle: async () => {
      await running?.done;
    },
    finish: () => running?.finish(),
  };
}

describe('one Talos hunt at a time across instances', () => {
  it('answers "already running" on the other instance while a hunt runs, and lets it start once the hunt is over', async () => {
    const lock = sharedLock();
    const log: string[] = [];
    const innerA = fakeHunts(log, 'a');
    const a = new ExclusiveHunts(innerA, lock.forInstance('a'), { logger, resume: async () => undefined });
    const b = new ExclusiveHunts(fakeHunts(log, 'b'), lock.forInstance('b'), { logger, resume: async () => undefined });

    expect(await a.runThisWeek('analyst')).toMatchObject({ started: true });
    const refused = await b.runThisWeek('analyst');
    expect(refused).toMatchObject({ started: false, alreadyRunning: { label: expect.stringMatching(/another Sightline instance/) } });
    expect(await b.runUri('https://example.com/x.json', 'analyst')).toMatchObject({ started: false });
    innerA.finish();
    await innerA.idle();
    await new Promise((r) => setImmediate(r));
    expect(lock.holder).toBeUndefined();
    expect(await b.runThisWeek('analyst')).toMatchObject({ started: true });
    expect(log).toEqual(['a:week', 'b:week']);
  });

  it('makes the scheduled hunt wait for a hunt another instance runs, then run it', async () => {
    const lock = sharedLock();
    const log: string[] = [];
    const innerA = fakeHunts(log, 'a');
    const innerB = fakeHunts(log, 'b');
    const a = new ExclusiveHunts(innerA, lock.forInstance('a'), { logger, resume: async () => undefined });
    const b = new ExclusiveHunts(innerB, lock.forInstance('b'), { logger, resume: async () => undefined, waitMs: 5 });
    await a.runThisWeek('analyst');
    const scheduled = b.runScheduled('schedule');
    await new Promise((r) => setTimeout(r, 30));
    expect(log).toEqual(['a:week']);
    innerA.finish();
    await new Promise((r) => setTimeout(r, 30));
    expect(log).toEqual(['a:week', 'b:schedule']);
    innerB.finish();
    await scheduled;
    expect(lock.holder).toBeUndefined();
  });

  it('resumes an interrupted hunt after a takeover only when no live instance holds the lock', async () => {
    const lock = sharedLock();
    const resumed: string[] = [];
    const innerB = fakeHunts([], 'b');
    const b = new ExclusiveHunts(innerB, lock.forInstance('b'), { logger, resume: async () => void resumed.push('b') });
    lock.holder = 'a'; // instance a is alive, running its hunt
    await b.resume();
    expect(resumed).toEqual([]);
    lock.holder = undefined; // a died: its session, and the lock, are gone
    await b.resume();
    expect(resumed).toEqual(['b']);
    await new Promise((r) => setImmediate(r));
    expect(lock.holder).toBeUndefined(); // nothing was running after the resume: released
  });

  it('`hunt status` on any instance shows a hunt another instance runs, and the shared store\'s XDR dead letters', async () => {
    const lock = sharedLock();
    const letters = { total: 2, latest: [{ incidentId: 'inc-1', target: 'host-1', opId: 7, kind: 'sighting' as const, reason: 'XDR said 400', attempts: 3, at: '2026-12-01T10:00:00.000Z' }] };
    const innerA = fakeHunts([], 'a');
    const a = new ExclusiveHunts(innerA, lock.forInstance('a'), { logger, resume: async () => undefined });
    const b = new ExclusiveHunts(fakeHunts([], 'b'), lock.forInstance('b'), { logger, resume: async () => undefined, deadLetters: async () => letters });
    expect((await b.status()).running).toBeUndefined();
    expect((await b.status()).xdrDeadLetters).toEqual(letters);
    await a.runThisWeek('alice@example.com');
    const onB = await b.status();
    expect(onB.running?.onAnotherInstance).toBe(true);
    expect((await a.status()).running).toMatchObject({ label: 'week' }); // the holder shows its own hunt
    innerA.finish();
    await innerA.idle();
    await new Promise((r) => setImmediate(r));
    expect((await b.status()).running).toBeUndefined();
    // A store that cannot be asked leaves the dead letters out; the status still answers.
    const c = new ExclusiveHunts(fakeHunts([], 'c'), lock.forInstance('c'), { logger, resume: async () => undefined, deadLetters: async () => Promise.reject(new Error('database down')) });
    expect((await c.status()).xdrDeadLetters).toBeUndefined();
  });
});
