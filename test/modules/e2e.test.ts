import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { XdrHttpClient } from '../../src/clients/xdr/client.js';
import { FakeClock } from '../../src/core/clock.js';
import { silentLogger } from '../../src/core/logger.js';
import { RssEmulator } from '../../src/emulators/rss/server.js';
import { XEmulator } from '../../src/emulators/x/server.js';
import { endpointTarget, XdrEmulator } from '../../src/emulators/xdr/index.js';
import { RssModule } from '../../src/modules/rss/poller.js';
import { readModulesState } from '../../src/modules/state.js';
import { XModule } from '../../src/modules/x/search.js';
import type { LowdbStore } from '../../src/store/lowdb-store.js';
import { HASH, OTHER_HASH, RecordingIntake, tempStore } from './fakes.js';

/** The modules over real HTTP: feed/X emulators in, the real XDR client against the XDR emulator. */
const SEEN_AT = '2024-05-10T08:12:03.000Z';
const HOST = { hostname: 'DESKTOP-AU3IP5K', ip: '10.1.2.3', os: 'Windows 10' };
const scenario = {
  verdicts: [
    { observable: { type: 'domain', value: 'cisco.com' }, module: 'Talos Intelligence', disposition: 1 },
    { observable: { type: 'sha256', value: HASH }, module: 'AMP File Reputation', disposition: 2 },
  ],
  sightings: [
    { observable: { type: 'sha256', value: HASH }, module: 'Secure Endpoint', targets: [endpointTarget(HOST, SEEN_AT)], internal: true },
    // Threat intel mentioning the hash: must never become a target sighting.
    { observable: { type: 'sha256', value: HASH }, module: 'Talos Intelligence', targets: [endpointTarget({ hostname: 'intel-host' }, SEEN_AT)] },
    // A sighting Sightline itself mirrored into private intel earlier: loop prevention.
    { observable: { type: 'sha256', value: HASH }, module: 'Private Intelligence', source: 'Secure Endpoint - via Sightline', targets: [endpointTarget(HOST, SEEN_AT)] },
    { observable: { type: 'sha256', value: OTHER_HASH }, module: 'Secure Endpoint', targets: [endpointTarget({ hostname: 'srv-web-01' }, SEEN_AT)], internal: true },
  ],
};

describe('sighting modules end to end', () => {
  let xdrEmu: XdrEmulator;
  let xdr: XdrHttpClient;
  let intake: RecordingIntake;
  let store: LowdbStore;
  const clock = new FakeClock('2024-06-01T00:00:00Z');

  beforeEach(async () => {
    xdrEmu = new XdrEmulator({ scenario });
    await xdrEmu.start();
    const config = xdrEmu.xdrConfig();
    xdr = new XdrHttpClient({ xdr: config, logger: silentLogger });
    intake = new RecordingIntake();
    ({ store } = await tempStore());
  });
  afterEach(async () => {
    await xdrEmu.stop();
    await store.close();
  });

  it('RSS: a feed item naming a sighted hash gives one sighting for the target; only new items are investigated', async () => {
    const feeds = new RssEmulator();
    await feeds.start();
    try {
      feeds.addFeed('talos', 'rss');
      feeds.addItem('talos', { title: 'Threat roundup', content: `<p>Sample ${HASH}; contacts cisco[.]com</p>` });
      const rss = new RssModule({
        feeds: [feeds.feedUrl('talos')], http: undefined, xdr, intake, store, logger: silentLogger, clock,
        excludedModules: xdrEmu.xdrConfig().excludedModules, cleanRule: 'unless-malicious',
      });

      expect((await rss.pollOnce()).accepted).toBe(1);
      expect(intake.all).toHaveLength(1);
      expect(intake.all[0]).toMatchObject({
        ioc: { type: 'sha256', value: HASH },
        observedAt: SEEN_AT,
        source: `Secure Endpoint via rss:${feeds.feedUrl('talos')}`,
      });
      expect(intake.all[0]!.target.observables[0]).toEqual({ type: 'hostname', value: 'DESKTOP-AU3IP5K' });
      expect(intake.all[0]!.ctim).toMatchObject({ source: 'Secure Endpoint - via Sightline' });
      expect(intake.all[0]!.ctim).not.toHaveProperty('id');
      const observeBodies = xdrEmu.calls.filter((c) => c.path.endsWith('/observe/observables'));
      expect(observeBodies).toHaveLength(1); // cisco.com was Clean: one observe call for the hash only

      expect((await rss.pollOnce()).feeds[0]!.status).toBe('not-modified');
      expect(feeds.requests.at(-1)!.ifNoneMatch).toBe(feeds.etagOf('talos'));

      feeds.addItem('talos', { title: 'Follow-up', content: `Also ${OTHER_HASH}` });
      const third = await rss.pollOnce();
      expect(third.accepted).toBe(1);
      expect(intake.all.at(-1)!.target.observables[0]!.value).toBe('srv-web-01');
      expect(readModulesState(store.get()).rss[feeds.feedUrl('talos')]!.seen).toHaveLength(2);
    } finally {
      await feeds.stop();
    }
  });

  it('X: tweets are investigated and since_id moves only after acceptance', async () => {
    const twitter = new XEmulator();
    await twitter.start();
    try {
      const newest = twitter.addTweet(`#opendir http://203.0.113.5/ ${HASH}`);
      const x = new XModule({
        x: { bearerToken: twitter.bearerToken, apiBase: twitter.apiBase, query: '#opendir' },
        xdr, intake, store, logger: silentLogger, clock, excludedModules: xdrEmu.xdrConfig().excludedModules, cleanRule: 'unless-malicious',
      });
      expect(await x.pollOnce()).toMatchObject({ status: 'investigated', accepted: 1, sinceId: newest });
      expect(intake.all[0]!.target.observables[0]!.value).toBe('DESKTOP-AU3IP5K');
      expect(await x.pollOnce()).toMatchObject({ status: 'no-tweets' });
      expect(twitter.requests.at(-1)!.query.since_id).toBe(newest);
      // The same hash tweeted again: the intake sees the same dedupe key.
      twitter.addTweet(`#opendir again ${HASH}`);
      expect(await x.pollOnce()).toMatchObject({ status: 'investigated', accepted: 0, duplicates: 1 });
    } finally {
      await twitter.stop();
    }
  });
});
