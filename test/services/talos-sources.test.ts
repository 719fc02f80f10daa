import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { FakeClock } from '../../src/core/clock.js';
import { silentLogger } from '../../src/core/logger.js';
import type { Notification } from '../../src/notify/notification.js';
import type { HuntRunner } from '../../src/services/hunt-runner.js';
import type { PostsHuntResult, TalosPostsHunt } from '../../src/services/talos-posts-hunt.js';
import { TalosSourcesHunt } from '../../src/services/talos-sources.js';
import { LowdbStore } from '../../src/store/lowdb-store.js';

/** The roundup runner as the sources see it: each run leaves a record with the given status. */
function fakeRunner(store: LowdbStore, status: 'not_published' | 'finished') {
  let n = 0;
  const runner = {
    runs: 0,
    async runScheduled() {
      runner.runs++;
      const id = `r${n++}`;
      await store.update((s) => void s.hunts.push({ id, trigger: 'schedule', startedAt: '', status, threatsDone: [], casebooks: {} }));
      return { started: true as const, huntId: id };
    },
    async idle() {},
    status: () => ({}),
  };
  return runner;
}

async function setup(posts: PostsHuntResult['status'], roundup: 'not_published' | 'finished', sources = 'iocs-repo,roundup') {
  const store = await LowdbStore.open(path.join(await mkdtemp(path.join(tmpdir(), 'sources-')), 's.json'));
  const sent: Notification[] = [];
  const runner = fakeRunner(store, roundup);
  const postsHunt = { runs: 0, run: async () => (postsHunt.runs++, { status: posts }) as PostsHuntResult, cursor: () => ({ sha: 'abcdef1234', date: '2026-08-20T05:51:00Z' }) };
  const hunts = new TalosSourcesHunt({
    runner: runner as unknown as HuntRunner,
    posts: postsHunt as unknown as TalosPostsHunt,
    store,
    notifier: { notify: async (n: Notification) => void sent.push(n) },
    clock: new FakeClock('2026-08-21T22:00:00Z'),
    logger: silentLogger,
    config: loadConfig({ TALOS_SOURCES: sources, WEBEX_ENABLED: 'false', XDR_CLIENT_ID: 'x', XDR_CLIENT_PASSWORD: 'x' }),
  });
  return { hunts, sent, runner, store, postsHunt };
}

describe('TalosSourcesHunt', () => {
  it('sends one "nothing new" notice when neither source has anything', async () => {
    const { hunts, sent, runner } = await setup('nothing_new', 'not_published');
    await hunts.runScheduled('schedule');
    expect(runner.runs).toBe(1);
    expect(sent).toEqual([{ kind: 'talos_nothing_new', week: '2026-08-21', sources: ['iocs-repo', 'roundup'] }]);
  });

  it('stays quiet when one source had something', async () => {
    for (const [posts, roundup] of [['hunted', 'not_published'], ['nothing_new', 'finished']] as const) {
      const { hunts, sent } = await setup(posts, roundup);
      await hunts.runScheduled('schedule');
      expect(sent).toEqual([]);
    }
  });

  it('does not claim "nothing new" when the posts source failed (it reported its own failure)', async () => {
    const { hunts, sent } = await setup('failed', 'not_published');
    await hunts.runScheduled('schedule');
    expect(sent).toEqual([]);
  });

  it('shows each source with its cursor in hunt status', async () => {
    const { hunts } = await setup('nothing_new', 'not_published');
    const status = hunts.status();
    expect(status.sources?.map((s) => s.name)).toEqual(['iocs-repo', 'roundup']);
    expect(status.sources?.[0]?.cursor).toMatch(/Cisco-Talos\/IOCs@main, last commit abcdef1 \(2026-08-20T05:51:00Z\)/);
  });

  it('resumes a pending posts batch on start, and runs one week at a time', async () => {
    const { hunts, store, postsHunt } = await setup('hunted', 'finished');
    hunts.start();
    expect(postsHunt.runs).toBe(0); // nothing pending: nothing to resume
    await store.update((s) => void (s.talos.iocsRepo = { pending: { huntId: 'h', posts: [], toCommit: { sha: 'a', date: 'b' } } }));
    hunts.start();
    expect(await hunts.runThisWeek('alice@example.com')).toMatchObject({ started: false });
    await hunts.idle();
    expect(postsHunt.runs).toBe(1);
  });

  it('with TALOS_SOURCES=roundup leaves everything to the roundup runner', async () => {
    const { hunts, sent, runner } = await setup('hunted', 'not_published', 'roundup');
    await hunts.runScheduled('schedule');
    expect(runner.runs).toBe(1);
    expect(sent).toEqual([]);
    expect(hunts.status().sources?.map((s) => s.name)).toEqual(['roundup']);
  });
});
