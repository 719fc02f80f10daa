import { describe, expect, it } from 'vitest';
import { AddressRateLimiter } from '../../../src/transport/http/rate-limit.js';

function clock(start = 1_000_000): { now: () => number; advance(ms: number): void } {
  let t = start;
  return { now: () => t, advance: (ms) => (t += ms) };
}

describe('AddressRateLimiter', () => {
  it('allows `limit` requests per address in a window, then refuses until that window ends', () => {
    const c = clock();
    const limiter = new AddressRateLimiter(3, 60_000, c.now);
    expect([1, 2, 3].map(() => limiter.hit('10.0.0.1').remaining)).toEqual([2, 1, 0]);
    const refused = limiter.hit('10.0.0.1');
    expect(refused).toEqual({ allowed: false, remaining: 0, resetSeconds: 60 });
    c.advance(59_001);
    expect(limiter.hit('10.0.0.1')).toMatchObject({ allowed: false, resetSeconds: 1 });
    c.advance(1_000);
    expect(limiter.hit('10.0.0.1')).toEqual({ allowed: true, remaining: 2, resetSeconds: 60 });
  });

  it('counts each address on its own, each window starting at its first request', () => {
    const c = clock();
    const limiter = new AddressRateLimiter(1, 60_000, c.now);
    expect(limiter.hit('a').allowed).toBe(true);
    c.advance(30_000);
    expect(limiter.hit('b').allowed).toBe(true);
    expect(limiter.hit('a').allowed).toBe(false);
    c.advance(30_000);
    // a's window has ended, b's has half a minute to go
    expect(limiter.hit('a').allowed).toBe(true);
    expect(limiter.hit('b')).toMatchObject({ allowed: false, resetSeconds: 30 });
  });

  it('keeps a busy client across the store rotation and forgets quiet ones (memory stays bounded)', () => {
    const c = clock();
    const limiter = new AddressRateLimiter(5, 60_000, c.now);
    for (let i = 0; i < 100; i++) limiter.hit(`quiet-${i}`);
    limiter.hit('busy');
    c.advance(50_000);
    limiter.hit('busy');
    c.advance(15_000); // rotation: busy's window (started at 0) has ended, quiet ones move to the older generation
    expect(limiter.hit('busy').remaining).toBe(4);
    c.advance(60_000); // second rotation: the quiet ones were not seen for a whole window
    limiter.hit('busy');
    expect(limiter.size()).toBe(1);
  });

  it('is the express-rate-limit store too: increment and decrement share the same counts', async () => {
    const c = clock();
    const limiter = new AddressRateLimiter(2, 60_000, c.now);
    const info = limiter.increment('x');
    expect(info.totalHits).toBe(1);
    expect(info.resetTime?.getTime()).toBe(c.now() + 60_000);
    expect(limiter.hit('x').remaining).toBe(0);
    limiter.decrement('x');
    expect(limiter.hit('x').allowed).toBe(true);
    expect(limiter.hit('x').allowed).toBe(false);
    limiter.resetKey('x');
    expect(limiter.hit('x').allowed).toBe(true);
  });
});
