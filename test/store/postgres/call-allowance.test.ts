import { beforeEach, describe, expect, it } from 'vitest';
import { FakeClock } from '../../../src/core/clock.js';
import { silentLogger } from '../../../src/core/logger.js';
import { PostgresCallAllowance, sharedMirrorAllowance } from '../../../src/store/postgres/call-allowance.js';
import { testPostgres, useTwoInstances } from '../../support/postgres.js';

const server = await testPostgres();

/** Spends what the allowance lets start, as the mirror does (one call per op here). */
function spendAll(a: PostgresCallAllowance): number {
  let spent = 0;
  while (a.hasRoom()) {
    a.spend();
    spent++;
  }
  return spent;
}

describe.skipIf(!server)('the XDR mirror allowance shared by every instance (PostgreSQL)', () => {
  const pools = useTwoInstances(server!, ['allowance-a', 'allowance-b']);
  let clock: FakeClock;

  beforeEach(async () => {
    clock = new FakeClock(new Date('2026-12-04T06:00:00Z'));
    await pools.a.query(`UPDATE xdr_call_allowance SET tokens = NULL, refilled_at = NULL, held_until = to_timestamp(0)`);
  });

  // 3,600 an hour: one call a second; a burst of 10, leased 4 at a time.
  const allowance = (pool = pools.a) => new PostgresCallAllowance(pool, 3_600, clock, silentLogger, { burst: 10, lease: 4 });

  it('two instances together spend at most the burst, however often they ask', async () => {
    const a = allowance(pools.a);
    const b = allowance(pools.b);
    let spent = 0;
    for (let round = 0; round < 10; round++) {
      await Promise.all([a.refresh(), b.refresh()]);
      spent += spendAll(a) + spendAll(b);
    }
    expect(spent).toBe(10);
    // Each instance got a share, not one instance the whole burst.
    expect(a.hasRoom() || b.hasRoom()).toBe(false);
  });

  it('refills with time, for whichever instance asks', async () => {
    const a = allowance(pools.a);
    const b = allowance(pools.b);
    for (let round = 0; round < 5; round++) {
      await a.refresh();
      spendAll(a);
    }
    await b.refresh();
    expect(b.hasRoom()).toBe(false);
    expect(b.waitMs()).toBe(1_000); // one call a second
    clock.advance(3_000);
    await b.refresh();
    expect(spendAll(b)).toBe(3);
    // Never more than the burst after a long quiet spell.
    clock.advance(3_600_000);
    let spent = 0;
    for (let round = 0; round < 5; round++) {
      await Promise.all([a.refresh(), b.refresh()]);
      spent += spendAll(a) + spendAll(b);
    }
    expect(spent).toBe(10);
    expect(a.isFull()).toBe(false);
  });

  it("holds every instance after one of them met XDR's 429, until the Retry-After has passed", async () => {
    const a = allowance(pools.a);
    const b = allowance(pools.b);
    await b.refresh();
    expect(b.hasRoom()).toBe(true);
    a.holdFor(30_000);
    // The hold is written in the background: wait until the row says it.
    for (let i = 0; i < 50; i++) {
      const { rows } = await pools.b.query<{ held: boolean }>(`SELECT held_until > $1::timestamptz AS held FROM xdr_call_allowance`, [clock.now()]);
      if (rows[0]!.held) break;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    // With a lease at hand an instance asks at most once a second: it learns of the hold then.
    await b.refresh();
    expect(b.hasRoom()).toBe(true);
    clock.advance(1_000);
    await b.refresh();
    expect(b.hasRoom()).toBe(false);
    expect(b.waitMs()).toBe(29_000);
    clock.advance(29_000);
    await b.refresh();
    expect(b.hasRoom()).toBe(true);
  });

  it('an overspend (an op finishing its calls) is paid back from the shared bucket', async () => {
    const a = allowance(pools.a);
    await a.refresh();
    for (let i = 0; i < 7; i++) a.spend(); // leased 4, spent 7: owes 3
    expect(a.hasRoom()).toBe(false);
    await a.refresh(); // 6 left in the bucket: 3 repay the debt, 3 are usable
    expect(spendAll(a)).toBe(3);
    const b = allowance(pools.b);
    await b.refresh();
    expect(b.hasRoom()).toBe(false);
  });

  it('says it is full only when no instance has needed it for a while', async () => {
    const a = allowance(pools.a);
    await a.refresh();
    expect(a.isFull()).toBe(true); // the bucket was full when asked (the lease came out of it after)
    spendAll(a);
    await a.refresh();
    expect(a.isFull()).toBe(false);
    clock.advance(60_000);
    await a.refresh();
    expect(a.isFull()).toBe(true);
  });

  it('is none when XDR_MIRROR_CALLS_PER_HOUR is 0 or unset', () => {
    expect(sharedMirrorAllowance(pools.a, 0, clock, silentLogger)).toBeUndefined();
    expect(sharedMirrorAllowance(pools.a, undefined, clock, silentLogger)).toBeUndefined();
    expect(sharedMirrorAllowance(pools.a, 4_000, clock, silentLogger)?.burst).toBe(333);
  });

  it('does not ask the database while it cannot change anything (held, bucket empty, lease at hand)', async () => {
    const a = allowance(pools.a);
    let statements = 0;
    const counting = new Proxy(pools.a, {
      get: (target, prop) => (prop === 'query' ? (...args: unknown[]) => (statements++, (target.query as (...a: unknown[]) => unknown).apply(target, args)) : Reflect.get(target, prop, target)),
    });
    const watched = new PostgresCallAllowance(counting, 3_600, clock, silentLogger, { burst: 10, lease: 4 });
    await watched.refresh();
    await watched.refresh(); // lease at hand, asked a moment ago
    expect(statements).toBe(1);
    for (let round = 0; round < 4; round++) {
      await a.refresh();
      spendAll(a);
    }
    spendAll(watched);
    await watched.refresh(); // the bucket is empty now: learnt once
    await watched.refresh();
    expect(statements).toBe(2);
    clock.advance(1_000); // one call refilled
    await watched.refresh();
    expect(statements).toBe(3);
    expect(spendAll(watched)).toBe(1);
  });
});
