import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { HttpClient } from '../../../src/clients/http.js';
import { FakeClock } from '../../../src/core/clock.js';
import { UpstreamError } from '../../../src/core/errors.js';
import { silentLogger } from '../../../src/core/logger.js';
import { RssEmulator } from '../../../src/emulators/rss/server.js';
import { RssModule, type RssModuleOptions } from '../../../src/modules/rss/poller.js';
import { readModulesState } from '../../../src/modules/state.js';
import { LowdbStore } from '../../../src/store/lowdb-store.js';
import { endpoint, fakeXdr, HASH, OTHER_HASH, RecordingIntake, sightingOn, tempStore, type FakeXdr } from '../fakes.js';

const sha = (value: string) => ({ type: 'sha256', value });
const THIRD_HASH = 'c'.repeat(64);

describe('RssModule', () => {
  let emu: RssEmulator;
  let xdr: FakeXdr;
  let intake: RecordingIntake;
  let store: LowdbStore;
  let file: string;
  const clock = new FakeClock('2024-06-01T00:00:00Z');
  const noRetry = () => new HttpClient({ service: 'RSS feed', retry: { retries: 0 } });
  const moduleFor = (feeds: string[], extra: Partial<RssModuleOptions> = {}) =>
    new RssModule({ feeds, http: noRetry(), xdr, intake, store, logger: silentLogger, clock, excludedModules: ['Talos Intelligence'], cleanRule: 'unless-malicious', ...extra });

  beforeEach(async () => {
    emu = new RssEmulator();
    await emu.start();
    emu.addFeed('talos', 'rss');
    emu.addFeed('unit42', 'atom');
    xdr = fakeXdr({
      verdicts: [{ observable: { type: 'domain', value: 'cisco.com' }, module: 'Talos Intelligence', disposition: 1 }],
      sightings: [
        sightingOn('Secure Endpoint', sha(HASH), endpoint('desktop-1', '2024-05-10T08:00:00.000Z')),
        sightingOn('Secure Endpoint', sha(OTHER_HASH), endpoint('desktop-2', '2024-05-11T08:00:00.000Z')),
        sightingOn('Secure Endpoint', sha(THIRD_HASH), endpoint('desktop-3', '2024-05-12T08:00:00.000Z')),
      ],
    });
    intake = new RecordingIntake();
    ({ store, file } = await tempStore());
  });
  afterEach(async () => {
    await emu.stop();
    await store.close();
  });

  it('investigates new items once, then polls conditionally', async () => {
    emu.addItem('talos', { title: 'Loader', content: `<p>Hash ${HASH} and cisco[.]com</p>` });
    const rss = moduleFor([emu.feedUrl('talos')]);

    const first = await rss.pollOnce();
    expect(first.feeds[0]).toMatchObject({ status: 'updated', newItems: 1, accepted: 1 });
    expect(intake.all).toHaveLength(1);
    expect(intake.all[0]).toMatchObject({ ioc: sha(HASH), observedAt: '2024-05-10T08:00:00.000Z' });
    expect(xdr.calls.observe).toEqual([[sha(HASH)]]); // cisco.com was Clean

    const second = await rss.pollOnce();
    expect(second.feeds[0]!.status).toBe('not-modified');
    expect(emu.requests.at(-1)).toMatchObject({ status: 304, ifNoneMatch: emu.etagOf('talos') });
    expect(emu.requests.at(-1)!.ifModifiedSince).toBeTruthy();
    expect(xdr.calls.deliberate).toHaveLength(1);

    emu.addItem('talos', { title: 'Second', content: `New sample ${OTHER_HASH}` });
    const third = await rss.pollOnce();
    expect(third.feeds[0]).toMatchObject({ status: 'updated', newItems: 1, accepted: 1 });
    expect(xdr.calls.deliberate.at(-1)).toEqual([sha(OTHER_HASH)]);
    expect(intake.all.map((s) => s.target.observables[0]!.value)).toEqual(['desktop-1', 'desktop-2']);
  });

  it('keeps feed state across a new module and a reopened store', async () => {
    emu.addItem('talos', { title: 'Loader', content: HASH });
    await moduleFor([emu.feedUrl('talos')]).pollOnce();
    await store.close();
    store = await LowdbStore.open(file);
    const saved = readModulesState(store.get()).rss[emu.feedUrl('talos')]!;
    expect(saved.etag).toBe(emu.etagOf('talos'));
    expect(saved.seen).toHaveLength(1);

    const again = await moduleFor([emu.feedUrl('talos')]).pollOnce();
    expect(again.feeds[0]!.status).toBe('not-modified');
    expect(xdr.calls.deliberate).toHaveLength(1);
  });

  it('skips seen items even when the server ignores the validators', async () => {
    emu.addItem('talos', { title: 'A', content: HASH });
    const rss = moduleFor([emu.feedUrl('talos')]);
    await rss.pollOnce();
    await store.update((s) => {
      const feed = readModulesState(s).rss[emu.feedUrl('talos')]!;
      s.modules = { rss: { [emu.feedUrl('talos')]: { ...feed, etag: undefined, lastModified: undefined } }, x: {} };
    });
    const again = await rss.pollOnce();
    expect(again.feeds[0]).toMatchObject({ status: 'updated', newItems: 0 });
    expect(xdr.calls.deliberate).toHaveLength(1);
  });

  it('reads Atom feeds too', async () => {
    emu.addItem('unit42', { title: 'Atom', content: `<div>${THIRD_HASH}</div>` });
    const report = await moduleFor([emu.feedUrl('unit42')]).pollOnce();
    expect(report.accepted).toBe(1);
    expect(intake.all[0]!.target.observables[0]!.value).toBe('desktop-3');
  });

  it('reports a failing or malformed feed and still polls the others', async () => {
    emu.addItem('talos', { title: 'A', content: HASH });
    const rss = moduleFor([emu.malformedUrl, `${emu.url}/feeds/missing`, emu.feedUrl('talos')]);
    const report = await rss.pollOnce();
    expect(report.feeds.map((f) => f.status)).toEqual(['failed', 'failed', 'updated']);
    expect(report.feeds[0]!.error).toMatch(/not well-formed XML/);
    expect(report.feeds[1]!.error).toMatch(/404/);
    expect(report.failed).toBe(2);
    expect(report.accepted).toBe(1);
    expect(readModulesState(store.get()).rss[emu.malformedUrl]!.lastError).toMatch(/not well-formed/);
  });

  it('retries items whose investigation failed: neither seen nor validators are stored', async () => {
    emu.addItem('talos', { title: 'A', content: HASH });
    const rss = moduleFor([emu.feedUrl('talos')]);
    xdr.failNext = new UpstreamError('XDR', 'XDR is down.', { status: 503 });
    const failed = await rss.pollOnce();
    expect(failed.feeds[0]!.status).toBe('failed');
    const saved = readModulesState(store.get()).rss[emu.feedUrl('talos')]!;
    expect(saved.seen).toEqual([]);
    expect(saved.etag).toBeUndefined();
    expect(saved.lastError).toBe('XDR is down.');

    const retried = await rss.pollOnce();
    expect(emu.requests.at(-1)!.status).toBe(200);
    expect(retried.feeds[0]).toMatchObject({ status: 'updated', accepted: 1 });
  });

  it('fetches the article page only when asked and only on the feed host', async () => {
    emu.addItem('talos', { title: 'Short', content: 'see the post', article: `<p>Full IOC list: ${HASH}</p>` });
    emu.addItem('talos', { title: 'Elsewhere', content: 'see the post', link: 'http://other.example.invalid/post' });
    const plain = await moduleFor([emu.feedUrl('talos')]).pollOnce();
    expect(plain.accepted).toBe(0);

    const { store: fresh } = await tempStore();
    const withArticles = new RssModule({
      feeds: [emu.feedUrl('talos')], http: noRetry(), xdr, intake, store: fresh, logger: silentLogger, clock,
      excludedModules: [], cleanRule: 'any', fetchArticle: true,
    });
    const report = await withArticles.pollOnce();
    expect(report.accepted).toBe(1);
    const articleRequests = emu.requests.filter((r) => r.path.startsWith('/articles/'));
    expect(articleRequests.map((r) => r.path)).toEqual(['/articles/talos/0']);
    await fresh.close();
  });

  it('limits the items investigated per poll and continues on the next one', async () => {
    emu.addItem('talos', { title: 'A', content: HASH });
    emu.addItem('talos', { title: 'B', content: OTHER_HASH });
    const rss = moduleFor([emu.feedUrl('talos')], { maxItemsPerPoll: 1 });
    const first = await rss.pollOnce();
    expect(first.feeds[0]).toMatchObject({ newItems: 2, investigatedItems: 1 });
    expect(xdr.calls.deliberate[0]).toEqual([sha(HASH)]); // oldest first
    const second = await rss.pollOnce();
    expect(second.feeds[0]).toMatchObject({ newItems: 1, investigatedItems: 1 });
    expect(xdr.calls.deliberate[1]).toEqual([sha(OTHER_HASH)]);
    expect((await rss.pollOnce()).feeds[0]!.status).toBe('not-modified');
  });

  it('start() polls at once and stop() waits for the poll in flight', async () => {
    emu.addItem('talos', { title: 'A', content: HASH });
    const rss = moduleFor([emu.feedUrl('talos')]);
    rss.start(3600);
    await rss.stop();
    expect(intake.all).toHaveLength(1);
  });

  it('does nothing without feeds', async () => {
    const rss = moduleFor([]);
    expect(rss.enabled).toBe(false);
    expect((await rss.pollOnce()).feeds).toEqual([]);
  });
});
