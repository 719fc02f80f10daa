import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GithubClient } from '../../../src/clients/github/client.js';
import { HttpClient } from '../../../src/clients/http.js';
import { FakeClock } from '../../../src/core/clock.js';
import { NotFoundError, UpstreamError } from '../../../src/core/errors.js';
import { silentLogger } from '../../../src/core/logger.js';
import { GithubEmulator } from '../../../src/emulators/github/server.js';
import { TALOS_IOCS_DIR } from '../../support/fixtures.js';

const clock = new FakeClock('2026-08-21T10:00:00Z');
const github = new GithubEmulator({ fixturesDir: TALOS_IOCS_DIR, now: () => clock.now().getTime() });
beforeAll(async () => {
  await github.start();
  github.commit('2026-08-13T10:05:00Z', [{ path: '2026/08/dissecting-the-jwr-phishing-framework.json' }]);
  github.commit('2026-08-13T10:06:00Z', [{ path: '2026/08/dissecting-the-jwr-phishing-framework.txt' }]);
  github.commit('2026-08-20T05:50:00Z', [{ path: '2026/08/UAT-10147 deploys SPECTRE.json' }, { path: '2026/08/UAT-10147 deploys SPECTRE.txt' }]);
});
afterAll(() => github.stop());

const client = (over: { maxWaitMs?: number; token?: string } = {}) =>
  new GithubClient({
    repo: { owner: 'Cisco-Talos', repo: 'IOCs', branch: 'main' },
    apiUrl: github.apiUrl,
    rawUrl: github.rawUrl,
    clock,
    logger: silentLogger,
    http: new HttpClient({ service: 'GitHub', retry: { retries: 1, minTimeoutMs: 1, maxTimeoutMs: 1 } }),
    ...over,
  });

describe('GitHub client against the emulator', () => {
  it('lists commits since a time, oldest first, and the files of each', async () => {
    const c = client();
    const commits = await c.commitsSince('2026-08-14T00:00:00Z');
    expect(commits).toHaveLength(1);
    expect(await c.commitFiles(commits[0]!.sha)).toEqual([
      { path: '2026/08/UAT-10147 deploys SPECTRE.json', status: 'added' },
      { path: '2026/08/UAT-10147 deploys SPECTRE.txt', status: 'added' },
    ]);
    expect(c.lastRateLimit?.limit).toBe(60);
  });

  it('reads a folder and raw files whose names have spaces, without spending budget on raw files', async () => {
    const c = client();
    const files = await c.folder('2026/08');
    expect(files).toContain('2026/08/UAT-10147 deploys SPECTRE.txt');
    const before = c.apiRequests;
    expect(await c.raw('2026/08/UAT-10147 deploys SPECTRE.txt')).toMatch(/[0-9a-f]{64}/);
    expect(c.apiRequests).toBe(before);
    await expect(c.raw('2026/08/nope.json')).rejects.toBeInstanceOf(NotFoundError);
  });

  it('asks again with If-None-Match and gets a free 304', async () => {
    const c = client();
    const first = await c.commitsSince('2026-08-01T00:00:00Z');
    const counted = github.countedRequests;
    const second = await c.commitsSince('2026-08-01T00:00:00Z');
    expect(second).toEqual(first);
    expect(github.countedRequests).toBe(counted);
    expect(github.requests.at(-1)!.status).toBe(304);
    expect(c.apiRequests).toBe(1);
  });

  it('waits for the reset when the budget is spent, then goes on', async () => {
    github.spendBudget();
    const start = clock.now().getTime();
    const commits = await client().commitsSince('2026-08-14T00:00:00Z');
    expect(commits).toHaveLength(1);
    expect(clock.now().getTime() - start).toBeGreaterThan(0);
    expect(github.requests.some((r) => r.status === 403)).toBe(true);
  });

  it('says when to come back if the reset is further than it may wait', async () => {
    github.spendBudget();
    const err = await client({ maxWaitMs: 1000 }).commitsSince('2026-08-14T00:00:00Z').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UpstreamError);
    expect((err as UpstreamError).userMessage).toMatch(/budget is spent until \d\d:\d\d UTC.*GITHUB_TOKEN/);
    clock.advance(3_700_000);
  });
});
