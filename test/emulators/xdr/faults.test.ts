import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { FaultInjector, RateLimiter } from '../../../src/emulators/xdr/faults.js';
import type { XdrEmulator } from '../../../src/emulators/xdr/index.js';
import { api, getToken, startEmulator } from './helpers.js';

let emu: XdrEmulator;
let token: string;
const deliberate = () => api(emu, 'POST', '/iroh/iroh-enrich/deliberate/observables', [{ type: 'domain', value: 'a.example' }], token);

beforeAll(async () => {
  emu = await startEmulator();
});
afterAll(() => emu.stop());
beforeEach(async () => {
  emu.reset();
  token = await getToken(emu);
});

describe('XDR emulator faults', () => {
  it('answers the next N matching requests with an injected 5xx, then recovers', async () => {
    emu.faults.add({ match: /^\/iroh\/iroh-enrich\//, status: 502, times: 2 });
    expect([(await deliberate()).status, (await deliberate()).status, (await deliberate()).status]).toEqual([502, 502, 200]);
    expect((await api(emu, 'GET', '/ctia/incident/search', undefined, token)).status).toBe(200);
  });

  it('injects 429 with Retry-After and the X-Ratelimit-Org headers', async () => {
    emu.faults.add({ match: '/iroh/iroh-enrich', status: 429, retryAfterSeconds: 7, times: 1 });
    const res = await deliberate();
    expect(res.status).toBe(429);
    expect(res.headers.get('retry-after')).toBe('7');
    expect(res.headers.get('x-ratelimit-org-remaining')).toBe('0');
  });

  it('drops the connection without an answer', async () => {
    emu.faults.add({ match: '/iroh/iroh-enrich', drop: true, times: 1 });
    await expect(deliberate()).rejects.toThrow();
    expect(emu.calls.at(-1)).toMatchObject({ path: '/iroh/iroh-enrich/deliberate/observables', status: 0 });
    expect((await deliberate()).status).toBe(200);
  });

  it('rate limit mode refuses the excess of a window with 429 + Retry-After', async () => {
    emu.setRateLimit({ requests: 2, windowMs: 60_000 });
    const statuses = [(await deliberate()).status, (await deliberate()).status];
    const third = await deliberate();
    expect(statuses).toEqual([200, 200]);
    expect(third.status).toBe(429);
    expect(Number(third.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(third.headers.get('x-ratelimit-org-limit')).toBe('2');
  });

  // One retry: concurrency is observed in real time, and a starved runner can serialise the requests.
  it('counts the most requests in flight at once', { retry: 1 }, async () => {
    emu.faults.add({ match: '/iroh/iroh-enrich', latencyMs: 40 });
    await Promise.all(Array.from({ length: 5 }, () => deliberate()));
    expect(emu.stats.maxInFlight).toBe(5);
    expect(emu.stats.inFlight).toBe(0);
  });

  it('logs method, path, status and body size of each call', async () => {
    await deliberate();
    expect(emu.calls.at(-1)).toEqual({ method: 'POST', path: '/iroh/iroh-enrich/deliberate/observables', query: '', status: 200, bodyBytes: JSON.stringify([{ type: 'domain', value: 'a.example' }]).length });
  });
});

describe('fault building blocks', () => {
  it('a seeded rate fires reproducibly', () => {
    const fire = (seed: number) => {
      const f = new FaultInjector(seed);
      f.add({ match: '/', status: 500, rate: 0.5 });
      return Array.from({ length: 20 }, () => f.decide('GET', '/x').status ?? 200);
    };
    expect(fire(7)).toEqual(fire(7));
    expect(fire(7)).toContain(500);
    expect(fire(7)).toContain(200);
  });

  it('the rate limiter opens a new window when the old one has passed', () => {
    let t = 0;
    const rl = new RateLimiter({ requests: 1, windowMs: 1000 }, () => t);
    expect(rl.take().limited).toBe(false);
    expect(rl.take()).toMatchObject({ limited: true, retryAfterSeconds: 1 });
    t = 1000;
    expect(rl.take().limited).toBe(false);
  });
});
