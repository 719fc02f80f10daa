import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GithubEmulator } from '../../src/emulators/github/server.js';
import { TALOS_IOCS_DIR } from '../support/fixtures.js';

let now = Date.parse('2026-08-21T10:00:00Z');
const github = new GithubEmulator({ fixturesDir: TALOS_IOCS_DIR, limit: 3, now: () => now });
beforeAll(async () => {
  await github.start();
  github.commit('2026-08-20T05:50:00Z', [{ path: '2026/08/UAT-10147 deploys SPECTRE.json' }]);
});
afterAll(() => github.stop());

const get = (path: string, headers: Record<string, string> = { 'user-agent': 'test' }) => request(`${github.apiUrl}${path}`, { headers });

describe('GitHub emulator', () => {
  it('requires a User-Agent, like GitHub', async () => {
    const res = await get('/repos/Cisco-Talos/IOCs/commits', {});
    expect(res.statusCode).toBe(403);
    await res.body.text();
  });

  it('answers a folder listing with raw download addresses (spaces encoded)', async () => {
    const res = await get('/repos/Cisco-Talos/IOCs/contents/2026/08');
    const body = (await res.body.json()) as Array<{ path: string; download_url: string }>;
    expect(body[0]!.download_url).toContain('UAT-10147%20deploys%20SPECTRE.json');
    expect(res.headers['x-ratelimit-remaining']).toBe('2');
  });

  it('injects faults, then spends the budget until the window resets', async () => {
    github.failNext(1, 502);
    const failed = await get('/repos/Cisco-Talos/IOCs/commits');
    expect(failed.statusCode).toBe(502);
    await failed.body.text();
    for (const expected of [200, 200, 403]) {
      const res = await get('/repos/Cisco-Talos/IOCs/commits');
      expect(res.statusCode).toBe(expected);
      await res.body.text();
      if (expected === 403) expect(res.headers['x-ratelimit-remaining']).toBe('0');
    }
    now += 3_600_000;
    const after = await get('/repos/Cisco-Talos/IOCs/commits');
    expect(after.statusCode).toBe(200);
    await after.body.text();
  });
});
