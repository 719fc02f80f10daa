import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TalosFetcher } from '../../src/clients/talos/fetcher.js';
import { casebookUrl, XdrHttpClient } from '../../src/clients/xdr/client.js';
import { loadConfig, type Config } from '../../src/config/load.js';
import { FakeClock } from '../../src/core/clock.js';
import { silentLogger } from '../../src/core/logger.js';
import { parseRoundup } from '../../src/domain/talos/parse.js';
import type { Roundup } from '../../src/domain/types.js';
import { SmtpEmulator } from '../../src/emulators/smtp/server.js';
import { TalosEmulator } from '../../src/emulators/talos/server.js';
import { endpointTarget, parseScenario, XdrEmulator } from '../../src/emulators/xdr/index.js';
import { EmailChannel } from '../../src/notify/email/channel.js';
import { Outbox } from '../../src/notify/outbox.js';
import { HuntRunner } from '../../src/services/hunt-runner.js';
import { LowdbStore } from '../../src/store/lowdb-store.js';
import { TALOS_ROUNDUPS_DIR } from '../support/fixtures.js';

const FIXTURES = TALOS_ROUNDUPS_DIR;
const FRIDAY = '2021-07-23';

/** A scenario over the real 2021/0723 roundup: two threats sighted on hosts, some IOCs Clean. */
function scenarioFor(roundup: Roundup) {
  const [first, , third] = roundup.threats;
  const hashOf = (t: Roundup['threats'][number]) => t.observables.find((o) => o.type === 'sha256')!;
  const seen = '2021-07-21T09:00:00.000Z';
  return parseScenario({
    verdicts: [
      // Clean in one module, so dropped (and never observed)…
      { observable: first!.observables[0]!, module: 'Talos Intelligence', disposition: 1 },
      { observable: third!.observables[0]!, module: 'Talos Intelligence', disposition: 1 },
      // …but Clean AND Malicious is kept under the default rule.
      { observable: hashOf(first!), module: 'Talos Intelligence', disposition: 1 },
      { observable: hashOf(first!), module: 'Secure Endpoint', disposition: 2 },
    ],
    sightings: [
      { observable: hashOf(first!), module: 'Secure Endpoint', targets: [endpointTarget({ hostname: 'WS-FIN-042', ip: '10.0.4.42' }, seen)], internal: true },
      { observable: hashOf(first!), module: 'Secure Endpoint', targets: [endpointTarget({ hostname: 'ws-fin-042', ip: '10.0.4.42' }, seen)], internal: true },
      { observable: hashOf(third!), module: 'Umbrella', targets: [endpointTarget({ hostname: 'LAB-7' }, seen)], internal: true },
      // Noise the hunt must ignore: a threat-intel module and a non-internal sighting.
      { observable: hashOf(roundup.threats[1]!), module: 'Talos Intelligence', targets: [endpointTarget({ hostname: 'NOT-OURS' }, seen)] },
      { observable: hashOf(roundup.threats[3]!), module: 'Secure Endpoint', targets: [endpointTarget({ hostname: 'EXTERNAL' }, seen)], internal: false },
    ],
  });
}

describe('HuntRunner against the Talos, XDR and SMTP emulators', () => {
  let talos: TalosEmulator;
  let xdr: XdrEmulator;
  let smtp: SmtpEmulator;
  let roundup: Roundup;
  let config: Config;
  let stateFile: string;
  const clock = new FakeClock('2021-07-24T10:00:00Z'); // Saturday after the 2021-07-23 roundup

  beforeEach(async () => {
    roundup = parseRoundup(await readFile(path.join(FIXTURES, '2021/0723.json'), 'utf8'), 'x', { includeSampleHashes: false, cidrExpandMax: 4 });
    talos = new TalosEmulator({ fixturesDir: FIXTURES, publishFixtures: false });
    xdr = new XdrEmulator({ scenario: scenarioFor(roundup) });
    smtp = new SmtpEmulator();
    const [, , mail] = await Promise.all([talos.start(), xdr.start(), smtp.start()]);
    const x = xdr.xdrConfig();
    stateFile = path.join(await mkdtemp(path.join(tmpdir(), 'hunt-')), 'state.json');
    config = loadConfig({
      TALOS_SOURCES: 'roundup', // the roundup's own path, retries included
      STATE_FILE: stateFile,
      TALOS_URL_TEMPLATE: talos.githubTemplate,
      TALOS_ALLOWED_HOSTS: talos.hostPort,
      TALOS_MAX_RETRY_ITERATIONS: '2',
      XDR_CLIENT_ID: x.clientId,
      XDR_CLIENT_PASSWORD: x.clientPassword,
      XDR_TOKEN_URL: x.tokenUrl,
      XDR_IROH_BASE: x.irohBase,
      XDR_CTIA_BASE: x.ctiaBase,
      SMTP_HOST: mail.host,
      SMTP_PORT: String(mail.port),
      EMAIL_TO: 'soc@example.com',
    });
  });
  afterEach(async () => {
    await Promise.allSettled([talos.stop(), xdr.stop(), smtp.stop()]);
  });

  async function runner() {
    const store = await LowdbStore.open(stateFile);
    const outbox = new Outbox(store, [new EmailChannel({ config: config.email, logger: silentLogger, timeoutMs: 5000 })], clock, silentLogger);
    outbox.start();
    const hunts = new HuntRunner({
      store,
      fetcher: new TalosFetcher({ talos: config.talos, logger: silentLogger }),
      xdr: new XdrHttpClient({ xdr: config.xdr, logger: silentLogger, httpOptions: { retry: { minTimeoutMs: 5, maxTimeoutMs: 20 } } }),
      notifier: outbox,
      clock,
      logger: silentLogger,
      config,
      casebookUrl: (id) => casebookUrl(config.xdr.casebookUrlTemplate, id),
    });
    await hunts.start();
    return { store, outbox, hunts };
  }

  const subjects = () => smtp.messages.map((m) => m.subject);

  it('hunts 2021/0723 into exactly the expected casebooks and e-mails', async () => {
    talos.publish(FRIDAY, '2021/0723.json');
    const { hunts, outbox, store } = await runner();
    expect(await hunts.runThisWeek('alice@example.com')).toMatchObject({ started: true });
    await hunts.idle();
    await outbox.drain();

    const [first, , third] = roundup.threats;
    const casebooks = Object.values(xdr.state.casebook ?? {}) as unknown as { title: string; observables: { value: string }[] }[];
    expect(casebooks.map((c) => c.title).sort()).toEqual([`Talos Roundup – ${first!.name}`, `Talos Roundup – ${third!.name}`].sort());
    // Clean observables never reach a casebook; Clean+Malicious does.
    const firstBook = casebooks.find((c) => c.title.endsWith(first!.name))!;
    expect(firstBook.observables.map((o) => o.value)).not.toContain(first!.observables[0]!.value);
    expect(firstBook.observables).toHaveLength(first!.observables.length - 1);

    await smtp.waitFor((m) => /finished/i.test(m.subject));
    const s = subjects();
    expect(s.filter((x) => /Investigation started/.test(x))).toHaveLength(1);
    expect(s.filter((x) => /^Found targets - /.test(x)).sort()).toEqual([`Found targets - ${first!.name}`, `Found targets - ${third!.name}`].sort());
    expect(s.filter((x) => /^No Targets found - Threat /.test(x))).toHaveLength(roundup.threats.length - 2);
    const found = smtp.messages.find((m) => m.subject === `Found targets - ${first!.name}`)!;
    expect(found.text).toMatch(/ws-fin-042|WS-FIN-042/);
    expect(found.text).not.toMatch(/NOT-OURS|EXTERNAL/);
    // Two module sightings of the same machine (different case) are one target.
    expect(found.text.match(/WS-FIN-042/gi)!.length).toBeGreaterThan(0);
    expect(store.get().talos.lastHuntedWeek).toBe(FRIDAY);
    const record = store.get().hunts.at(-1)!;
    expect(record.status).toBe('finished');
    expect(record.summary).toMatch(/2 target/);
  });

  it('waits for an unpublished roundup, across a restart, and hunts it once published', async () => {
    const first = await runner();
    await first.hunts.runThisWeek('alice@example.com');
    await first.hunts.idle();
    expect(first.store.get().talos.pendingRetry).toMatchObject({ week: FRIDAY, attempt: 1 });
    await first.hunts.stop();
    await first.outbox.stop();

    // A restart: the pending retry is still there and is re-armed.
    const second = await runner();
    expect(second.store.get().talos.pendingRetry?.attempt).toBe(1);
    talos.publish('2021-07-22', '2021/0723.json'); // published under the Thursday name
    clock.advance(3600_000);
    await second.hunts.retryNow();
    await second.hunts.idle();
    await second.outbox.drain();
    expect(second.store.get().talos.pendingRetry).toBeUndefined();
    expect(second.store.get().talos.lastHuntedWeek).toBe(FRIDAY);
    expect(Object.keys(xdr.state.casebook ?? {})).toHaveLength(2);
    expect(subjects().some((x) => /not published/i.test(x))).toBe(false);
  });

  it('gives up after the configured retries with one "not published" notice', async () => {
    const { hunts, outbox, store } = await runner();
    await hunts.runThisWeek('alice@example.com');
    await hunts.idle();
    for (let i = 0; i < 3; i++) {
      await hunts.retryNow();
      await hunts.idle();
    }
    await outbox.drain();
    await smtp.waitFor((m) => /not published/i.test(m.subject));
    expect(subjects().filter((x) => /not published/i.test(x))).toHaveLength(1);
    expect(store.get().talos.pendingRetry).toBeUndefined();
    expect(await hunts.retryNow()).toBeUndefined();
  });

  it('reaches the same end state when XDR answers 5xx, 429 and drops connections', async () => {
    talos.publish(FRIDAY, '2021/0723.json');
    xdr.faults.add({ match: '/iroh', status: 503, rate: 0.2 });
    xdr.faults.add({ match: '/iroh', status: 429, retryAfterSeconds: 0, rate: 0.1 });
    xdr.faults.add({ match: '/iroh', drop: true, rate: 0.05 });
    const { hunts, outbox } = await runner();
    await hunts.runThisWeek('alice@example.com');
    await hunts.idle();
    await outbox.drain();
    expect(Object.keys(xdr.state.casebook ?? {})).toHaveLength(2);
    await smtp.waitFor((m) => /finished/i.test(m.subject));
    expect(subjects().filter((x) => /^Found targets - /.test(x))).toHaveLength(2);
  });

  it('resumes a weekly hunt stopped before its roundup was found under the same record, not as a second hunt', async () => {
    const before = await LowdbStore.open(stateFile);
    await before.update((s) => {
      s.hunts.push({ id: 'hunt-interrupted', trigger: 'schedule', week: FRIDAY, startedAt: clock.now().toISOString(), status: 'running', threatsDone: [], casebooks: {} });
    });
    await before.close();
    talos.publish(FRIDAY, '2021/0723.json');
    const { hunts, outbox, store } = await runner(); // start() resumes it
    await hunts.idle();
    await outbox.drain();
    expect(store.get().hunts).toHaveLength(1);
    expect(store.get().hunts[0]).toMatchObject({ id: 'hunt-interrupted', status: 'finished', week: FRIDAY });
    expect(store.get().talos.lastHuntedWeek).toBe(FRIDAY);
    // The schedule's missed-run check finds the week hunted and does not run it again.
    expect(await hunts.runScheduled('missed')).toMatchObject({ started: false });
    expect(Object.keys(xdr.state.casebook ?? {})).toHaveLength(2);
    await smtp.waitFor((m) => /finished/i.test(m.subject));
    expect(subjects().filter((x) => /Investigation started/.test(x))).toHaveLength(1);
  });

  it('resumes a hunt interrupted by a restart without a second casebook or e-mail', async () => {
    talos.publish(FRIDAY, '2021/0723.json');
    // One XDR call at a time and slow observes, so the hunt can be stopped part-way.
    xdr.faults.add({ match: '/iroh/iroh-enrich/observe', latencyMs: 200 });
    config = { ...config, xdr: { ...config.xdr, concurrency: 1 } };
    const first = await runner();
    await first.hunts.runThisWeek('alice@example.com');
    // Stop it part-way: once its first casebook exists in XDR (threats are investigated concurrently,
    // so that casebook's threat may or may not be recorded as done yet: both must resume cleanly).
    const started = () => Object.keys(xdr.state.casebook ?? {}).length > 0 || (first.store.get().hunts.at(-1)?.threatsDone.length ?? 0) > 0;
    for (let i = 0; i < 400 && !started(); i++) await new Promise((r) => setTimeout(r, 10));
    await first.hunts.stop();
    await first.outbox.drain();
    await first.outbox.stop();
    await first.store.close(); // a graceful stop, as the app does: what was delivered is on disk
    const interrupted = first.store.get().hunts.at(-1)!;
    expect(interrupted.status).toBe('running');
    expect(interrupted.threatsDone.length).toBeLessThan(roundup.threats.length);

    xdr.faults.clear();
    const second = await runner(); // start() resumes it
    await second.hunts.idle();
    await second.outbox.drain();
    expect(second.store.get().hunts.at(-1)).toMatchObject({ id: interrupted.id, status: 'finished' });
    expect(Object.keys(xdr.state.casebook ?? {})).toHaveLength(2);
    await smtp.waitFor((m) => /finished/i.test(m.subject));
    const s = subjects();
    expect(s.filter((x) => /Investigation started/.test(x))).toHaveLength(1);
    expect(s.filter((x) => /^Found targets - /.test(x))).toHaveLength(2);
    expect(s.filter((x) => /^No Targets found/.test(x))).toHaveLength(roundup.threats.length - 2);
  });
});
