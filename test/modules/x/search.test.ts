import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { HttpClient } from '../../../src/clients/http.js';
import { FakeClock } from '../../../src/core/clock.js';
import { silentLogger } from '../../../src/core/logger.js';
import { XEmulator } from '../../../src/emulators/x/server.js';
import { readModulesState } from '../../../src/modules/state.js';
import { XModule, type XModuleOptions } from '../../../src/modules/x/search.js';
import type { LowdbStore } from '../../../src/store/lowdb-store.js';
import { endpoint, fakeXdr, HASH, OTHER_HASH, RecordingIntake, sightingOn, tempStore, type FakeXdr } from '../fakes.js';

const sha = (value: string) => ({ type: 'sha256', value });

describe('XModule', () => {
  let emu: XEmulator;
  let xdr: FakeXdr;
  let intake: RecordingIntake;
  let store: LowdbStore;
  let clock: FakeClock;
  const moduleWith = (x: Partial<XModuleOptions['x']> = {}) =>
    new XModule({
      x: { bearerToken: emu.bearerToken, apiBase: emu.apiBase, query: '#opendir', ...x },
      http: new HttpClient({ service: 'X', retry: { retries: 0 } }),
      xdr, intake, store, logger: silentLogger, clock,
      excludedModules: ['Talos Intelligence'], cleanRule: 'unless-malicious',
    });

  beforeEach(async () => {
    clock = new FakeClock('2024-06-01T00:00:00Z');
    emu = new XEmulator({ now: () => clock.now().getTime() });
    await emu.start();
    xdr = fakeXdr({
      sightings: [
        sightingOn('Secure Endpoint', sha(HASH), endpoint('desktop-1', '2024-05-10T08:00:00.000Z')),
        sightingOn('Secure Endpoint', sha(OTHER_HASH), endpoint('desktop-2', '2024-05-11T08:00:00.000Z')),
      ],
    });
    intake = new RecordingIntake();
    ({ store } = await tempStore());
  });
  afterEach(async () => {
    await emu.stop();
    await store.close();
  });

  it('is off without a bearer token and sends nothing', async () => {
    const x = moduleWith({ bearerToken: undefined });
    expect(x.enabled).toBe(false);
    expect(await x.pollOnce()).toMatchObject({ status: 'disabled' });
    x.start(60);
    await x.stop();
    expect(emu.requests).toEqual([]);
  });

  it('investigates matching tweets, persists since_id, and sends it next time', async () => {
    emu.addTweet(`#opendir payload ${HASH}`);
    emu.addTweet('cat pictures');
    const newest = emu.addTweet('#opendir hxxp://1.2.3[.]4/bins/');
    const x = moduleWith();

    const first = await x.pollOnce();
    expect(first).toMatchObject({ status: 'investigated', tweets: 2, accepted: 1, sinceId: newest });
    expect(emu.requests[0]!.query).toEqual({ query: '#opendir', max_results: '100' });
    expect(emu.requests[0]!.authorized).toBe(true);
    expect(xdr.calls.deliberate[0]).toEqual([sha(HASH), { type: 'url', value: 'http://1.2.3.4/bins/' }, { type: 'ip', value: '1.2.3.4' }]);
    expect(intake.all[0]).toMatchObject({ ioc: sha(HASH), source: 'Secure Endpoint via x:#opendir' });
    expect(readModulesState(store.get()).x).toMatchObject({ sinceId: newest, query: '#opendir' });

    const second = await x.pollOnce();
    expect(second.status).toBe('no-tweets');
    expect(emu.requests[1]!.query.since_id).toBe(newest);
    expect(xdr.calls.deliberate).toHaveLength(1);

    const later = emu.addTweet(`#opendir more ${OTHER_HASH}`);
    const third = await x.pollOnce();
    expect(third).toMatchObject({ status: 'investigated', tweets: 1, accepted: 1, sinceId: later });
    expect(xdr.calls.deliberate[1]).toEqual([sha(OTHER_HASH)]);
  });

  it('does not investigate the t.co wrappers X puts around links', async () => {
    emu.addTweet(`#opendir listing https://t.co/AbC123xyz with ${HASH}`);
    await moduleWith().pollOnce();
    expect(xdr.calls.deliberate[0]).toEqual([sha(HASH)]);
  });

  it('keeps since_id where it was when the intake fails, so the batch is read again', async () => {
    const id = emu.addTweet(`#opendir ${HASH}`);
    const x = moduleWith();
    intake.failNext = new Error('disk full');
    expect((await x.pollOnce()).status).toBe('failed');
    expect(readModulesState(store.get()).x.sinceId).toBeUndefined();
    expect(await x.pollOnce()).toMatchObject({ status: 'investigated', accepted: 1, sinceId: id });
  });

  it('starts afresh when the query changes', async () => {
    emu.addTweet(`#opendir ${HASH}`);
    await moduleWith().pollOnce();
    await moduleWith({ query: '#malware' }).pollOnce();
    expect(emu.requests.at(-1)!.query.since_id).toBeUndefined();
  });

  it('reads every page of new tweets after a since_id', async () => {
    const first = emu.addTweet('#opendir start');
    await moduleWith().pollOnce();
    for (let i = 0; i < 150; i++) emu.addTweet(`#opendir n${i}`);
    const report = await moduleWith().pollOnce();
    expect(report.tweets).toBe(150);
    expect(emu.requests.slice(1).map((r) => r.query.since_id)).toEqual([first, first]);
    expect(emu.requests[2]!.query.next_token).toBeTruthy();
  });

  it('pauses after a 429 until x-rate-limit-reset', async () => {
    emu.addTweet(`#opendir ${HASH}`);
    emu.rateLimitNext(1, 600);
    const x = moduleWith();
    expect((await x.pollOnce()).status).toBe('rate-limited');
    expect(readModulesState(store.get()).x.pausedUntil).toBe('2024-06-01T00:10:00.000Z');
    expect((await x.pollOnce()).status).toBe('rate-limited');
    expect(emu.requests).toHaveLength(1);
    clock.advance(601_000);
    expect(await x.pollOnce()).toMatchObject({ status: 'investigated', accepted: 1 });
  });

  it('says which setting to check when X refuses the token', async () => {
    const x = new XModule({
      x: { bearerToken: 'wrong', apiBase: emu.apiBase, query: '#opendir' },
      http: undefined, xdr, intake, store, logger: silentLogger, clock, excludedModules: [], cleanRule: 'any',
    });
    expect(await x.pollOnce()).toMatchObject({ status: 'failed', error: 'X refused the bearer token; check X_BEARER_TOKEN.' });
  });
});
