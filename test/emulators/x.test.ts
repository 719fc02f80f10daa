import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { XEmulator } from '../../src/emulators/x/server.js';

describe('XEmulator', () => {
  let emu: XEmulator;
  const search = async (params: Record<string, string>, token: string | null = emu.bearerToken) => {
    const url = `${emu.apiBase}/tweets/search/recent?${new URLSearchParams(params)}`;
    const res = await request(url, { headers: token ? { authorization: `Bearer ${token}` } : {} });
    return { status: res.statusCode, headers: res.headers, body: (await res.body.json()) as any };
  };
  beforeEach(async () => {
    emu = new XEmulator({ bearerToken: 'secret-token', now: () => Date.parse('2024-06-01T00:00:00Z') });
    await emu.start();
  });
  afterEach(() => emu.stop());

  it('refuses a missing or wrong bearer token with X’s problem body', async () => {
    for (const token of [null, 'wrong']) {
      const res = await search({ query: '#opendir' }, token);
      expect(res.status).toBe(401);
      expect(res.body).toEqual({ title: 'Unauthorized', type: 'about:blank', status: 401, detail: 'Unauthorized' });
    }
  });

  it('filters by query substring and since_id, newest first, with increasing numeric ids', async () => {
    const a = emu.addTweet('#opendir at hxxp://1.2.3[.]4/');
    emu.addTweet('unrelated');
    const c = emu.addTweet('another #OpenDir listing');
    expect(BigInt(c) > BigInt(a)).toBe(true);
    const all = await search({ query: '#opendir', max_results: '100' });
    expect(all.body.data.map((t: { id: string }) => t.id)).toEqual([c, a]);
    expect(all.body.meta).toEqual({ newest_id: c, oldest_id: a, result_count: 2 });
    const newer = await search({ query: '#opendir', max_results: '100', since_id: a });
    expect(newer.body.data.map((t: { id: string }) => t.id)).toEqual([c]);
    const none = await search({ query: '#opendir', since_id: c });
    expect(none.body).toEqual({ meta: { result_count: 0 } });
  });

  it('pages with next_token', async () => {
    for (let i = 0; i < 15; i++) emu.addTweet(`#opendir ${i}`);
    const first = await search({ query: '#opendir', max_results: '10' });
    expect(first.body.meta.result_count).toBe(10);
    const second = await search({ query: '#opendir', max_results: '10', next_token: first.body.meta.next_token });
    expect(second.body.meta.result_count).toBe(5);
    expect(second.body.meta.next_token).toBeUndefined();
  });

  it('validates parameters like X', async () => {
    expect((await search({ query: '#opendir', max_results: '500' })).status).toBe(400);
    expect((await search({ max_results: '10' })).body.title).toBe('Invalid Request');
    expect((await search({ query: 'x', since_id: 'abc' })).status).toBe(400);
  });

  it('injects 429 with x-rate-limit-reset and Retry-After', async () => {
    emu.rateLimitNext(1, 60);
    const limited = await search({ query: '#opendir' });
    expect(limited.status).toBe(429);
    expect(limited.headers['x-rate-limit-remaining']).toBe('0');
    expect(limited.headers['x-rate-limit-reset']).toBe(String(Date.parse('2024-06-01T00:00:00Z') / 1000 + 60));
    expect(limited.headers['retry-after']).toBe('60');
    expect(limited.body).toMatchObject({ title: 'Too Many Requests', status: 429 });
    expect((await search({ query: '#opendir' })).status).toBe(200);
    expect(emu.requests.map((r) => r.status)).toEqual([429, 200]);
  });
});
