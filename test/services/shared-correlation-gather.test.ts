import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createLogger } from '../../src/core/logger.js';
import type { XdrPort } from '../../src/domain/ports/xdr.js';
import { SharedCorrelation } from '../../src/services/shared-correlation.js';
import type { PostgresCorrelationStore } from '../../src/store/postgres/correlation.js';

const config = { coalesceMs: 0, dryRun: false, oncall: [], responseActions: [], webhookUrl: undefined, rejectedIsClosed: true };

/** A log that hands out the claim sizes it is given, one per applyNext, and notes when each claim came (fake clock). */
function scriptedStore(sizes: number[]): { store: PostgresCorrelationStore; claims: number[] } {
  const claims: number[] = [];
  const store = {
    applyNext: async () => {
      claims.push(Date.now());
      const claimed = sizes.shift() ?? 0;
      return claimed === 0 ? { claimed } : { claimed, result: { applied: [], incidents: [], opened: [], rungsFired: [], retries: 0, deferred: [] } };
    },
    claimUnstartedRungs: async () => [],
  } as unknown as PostgresCorrelationStore;
  return { store, claims };
}

function loopOver(store: PostgresCorrelationStore, gatherMs?: number): SharedCorrelation {
  return new SharedCorrelation({
    store,
    notifier: { notify: async () => undefined, notifyIn: async () => true },
    xdr: {} as XdrPort,
    logger: createLogger({ level: 'silent' }),
    config,
    batchSize: 500,
    pollMs: 10_000,
    ...(gatherMs !== undefined ? { gatherMs } : {}),
  });
}

describe('SharedCorrelation: the apply loop gathers sightings between claims that were not full', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: 1_000_000 });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('claims again only 100 ms after a partial claim began, however often the intake wakes it meanwhile', async () => {
    const { store, claims } = scriptedStore([40, 30, 0]);
    const loop = loopOver(store);
    loop.start();
    await vi.advanceTimersByTimeAsync(0);
    expect(claims).toEqual([1_000_000]);
    for (let t = 0; t < 9; t++) {
      loop.wake(); // sightings accepted meanwhile
      await vi.advanceTimersByTimeAsync(10);
    }
    expect(claims).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(10);
    expect(claims).toEqual([1_000_000, 1_000_100]);
    await vi.advanceTimersByTimeAsync(100);
    // The third claim found nothing: the loop sleeps until woken (or its poll), as before.
    expect(claims).toEqual([1_000_000, 1_000_100, 1_000_200]);
    const stopping = loop.stop();
    await vi.advanceTimersByTimeAsync(0);
    await stopping;
  });

  it('claims again at once after a full claim (a backlog is worked off back to back)', async () => {
    const { store, claims } = scriptedStore([500, 500, 20, 0]);
    const loop = loopOver(store);
    loop.start();
    await vi.advanceTimersByTimeAsync(0);
    expect(claims).toEqual([1_000_000, 1_000_000, 1_000_000]);
    await vi.advanceTimersByTimeAsync(100);
    expect(claims).toEqual([1_000_000, 1_000_000, 1_000_000, 1_000_100]);
    const stopping = loop.stop();
    await vi.advanceTimersByTimeAsync(0);
    await stopping;
  });

  it('does not hold up stop(), and with gatherMs 0 claims back to back as before', async () => {
    const gathered = scriptedStore([40, 40, 40]);
    const loop = loopOver(gathered.store);
    loop.start();
    await vi.advanceTimersByTimeAsync(0);
    const stopping = loop.stop();
    await vi.advanceTimersByTimeAsync(0);
    await stopping;
    expect(gathered.claims).toHaveLength(1);

    const eager = scriptedStore([40, 40, 0]);
    const now = loopOver(eager.store, 0);
    now.start();
    await vi.advanceTimersByTimeAsync(0);
    expect(eager.claims).toEqual([1_000_000, 1_000_000, 1_000_000]);
    const stopped = now.stop();
    await vi.advanceTimersByTimeAsync(0);
    await stopped;
  });
});
