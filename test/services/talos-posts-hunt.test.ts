import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { githubClientFor } from '../../src/clients/github/from-config.js';
import { HttpClient } from '../../src/clients/http.js';
import { casebookUrl, XdrHttpClient } from '../../src/clients/xdr/client.js';
import { loadConfig, type Config } from '../../src/config/load.js';
import { FakeClock } from '../../src/core/clock.js';
import { silentLogger } from '../../src/core/logger.js';
import { parsePost } from '../../src/domain/talos/post.js';
import { GithubEmulator } from '../../src/emulators/github/server.js';
import { SmtpEmulator } from '../../src/emulators/smtp/server.js';
import { endpointTarget, parseScenario, XdrEmulator } from '../../src/emulators/xdr/index.js';
import { EmailChannel } from '../../src/notify/email/channel.js';
import { Outbox } from '../../src/notify/outbox.js';
import { stateEtagStore, TalosPostsHunt } from '../../src/services/talos-posts-hunt.js';
import { LowdbStore } from '../../src/store/lowdb-store.js';
import { TALOS_IOCS_DIR } from '../support/fixtures.js';

const JWR = '2026/08/dissecting-the-jwr-phishing-framework';
const SPECTRE = '2026/08/UAT-10147 deploys SPECTRE';
const AGENTIC = '2026/08/UAT-10147 integrates agentic AI';
const read = (p: string) => readFile(path.join(TALOS_IOCS_DIR, p), 'utf8');
const post = async (base: string) => parsePost([{ path: `${base}.json`, text: await read(`${base}.json`) }, { path: `${base}.txt`, text: await read(`${base}.txt`) }]);

describe('Talos posts hunt against the GitHub, XDR and SMTP emulators', () => {
  let github: GithubEmulator;
  let xdr: XdrEmulator;
  let smtp: SmtpEmulator;
  let config: Config;
  let stateFile: string;
  let spectreName: string;
  let jwrName: string;
  const clock = new FakeClock('2026-08-21T10:00:00Z');

  beforeEach(async () => {
    clock.set('2026-08-21T10:00:00Z');
    const spectre = await post(SPECTRE);
    const jwr = await post(JWR);
    spectreName = spectre.name;
    jwrName = jwr.name;
    const seen = '2026-08-19T09:00:00.000Z';
    const sha = (t: typeof spectre) => t.observables.find((o) => o.type === 'sha256')!;
    github = new GithubEmulator({ fixturesDir: TALOS_IOCS_DIR, now: () => clock.now().getTime() });
    xdr = new XdrEmulator({
      scenario: parseScenario({
        verdicts: [{ observable: sha(spectre), module: 'Secure Endpoint', disposition: 2 }],
        sightings: [
          { observable: sha(spectre), module: 'Secure Endpoint', targets: [endpointTarget({ hostname: 'WS-ENG-7', ip: '10.0.7.7' }, seen)], internal: true },
          { observable: sha(jwr), module: 'Secure Endpoint', targets: [endpointTarget({ hostname: 'WS-HR-3', ip: '10.0.3.3' }, seen)], internal: true },
        ],
      }),
    });
    smtp = new SmtpEmulator();
    const [, , mail] = await Promise.all([github.start(), xdr.start(), smtp.start()]);
    // Older than the first hunt's 7 days: not hunted.
    github.commit('2026-08-01T08:00:00Z', [{ path: '2025/11/Kraken-ransomware-group.json' }]);
    // Three posts this week, the JWR one uploaded in two commits.
    github.commit('2026-08-14T10:05:00Z', [{ path: `${JWR}.json` }]);
    github.commit('2026-08-14T10:06:00Z', [{ path: `${JWR}.txt` }, { path: '2026/08/lang5.py', content: 'print(1)' }]);
    github.commit('2026-08-20T05:50:00Z', [{ path: `${SPECTRE}.json` }, { path: `${SPECTRE}.txt` }]);
    github.commit('2026-08-20T05:51:00Z', [{ path: `${AGENTIC}.json` }, { path: `${AGENTIC}.txt` }]);
    const x = xdr.xdrConfig();
    stateFile = path.join(await mkdtemp(path.join(tmpdir(), 'posts-')), 'state.json');
    config = loadConfig({
      STATE_FILE: stateFile,
      TALOS_ALLOWED_HOSTS: github.hostPort,
      GITHUB_API_URL: github.apiUrl,
      GITHUB_RAW_URL: github.rawUrl,
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
    await Promise.allSettled([github.stop(), xdr.stop(), smtp.stop()]);
  });

  async function hunter(signal?: AbortSignal) {
    const store = await LowdbStore.open(stateFile);
    const outbox = new Outbox(store, [new EmailChannel({ config: config.email, logger: silentLogger, timeoutMs: 5000 })], clock, silentLogger);
    outbox.start();
    const client = githubClientFor(config, { clock, logger: silentLogger, etags: stateEtagStore(store), http: new HttpClient({ service: 'GitHub', retry: { retries: 0 } }) });
    const hunt = new TalosPostsHunt({
      store,
      github: client,
      xdr: new XdrHttpClient({ xdr: config.xdr, logger: silentLogger, httpOptions: { retry: { minTimeoutMs: 5, maxTimeoutMs: 20 } } }),
      notifier: outbox,
      clock,
      logger: silentLogger,
      config,
      casebookUrl: (id) => casebookUrl(config.xdr.casebookUrlTemplate, id),
      signal,
    });
    return { store, outbox, hunt, client };
  }

  const subjects = () => smtp.messages.map((m) => m.subject);
  const casebookTitles = () => (Object.values(xdr.state.casebook ?? {}) as unknown as Array<{ title: string }>).map((c) => c.title).sort();

  it('hunts exactly the three new posts, then finds nothing new and says so', async () => {
    const { hunt, outbox, store, client } = await hunter();
    const first = await hunt.run('schedule');
    expect(first.status).toBe('hunted');
    const agentic = (await post(AGENTIC)).name;
    expect(first.status === 'hunted' && [...first.posts].sort()).toEqual([spectreName, jwrName, agentic].sort());
    expect(casebookTitles()).toEqual([`Talos – ${jwrName}`, `Talos – ${spectreName}`].sort());
    await outbox.drain();
    const finished = await smtp.waitFor((m) => /finished/i.test(m.subject));
    expect(subjects().filter((s) => /^Found targets - /.test(s))).toHaveLength(2);
    // The summary links each post's blog address.
    expect(JSON.stringify(finished)).toContain('https://blog.talosintelligence.com/dissecting-the-jwr-phishing-framework');
    // 1 commit list + 1 per new commit (4) ; raw files are not metered.
    expect(client.apiRequests).toBe(5);
    expect(store.get().talos.iocsRepo?.lastCommit?.date).toBe('2026-08-20T05:51:00Z');

    // A week later: one request (the commit list since the cursor) finds nothing; asked again, it is a free 304.
    let counted = github.countedRequests;
    expect(await hunt.run('schedule')).toMatchObject({ status: 'nothing_new' });
    expect(github.countedRequests).toBe(counted + 1);
    counted = github.countedRequests;
    expect(await hunt.run('schedule')).toMatchObject({ status: 'nothing_new' });
    expect(github.countedRequests).toBe(counted);
    expect(github.requests.at(-1)!.status).toBe(304);
    expect(casebookTitles()).toHaveLength(2);
  });

  it('hunts a post changed later only for what it adds', async () => {
    const { hunt } = await hunter();
    await hunt.run('schedule');
    const txt = await read(`${SPECTRE}.txt`);
    github.commit('2026-08-22T09:00:00Z', [{ path: `${SPECTRE}.txt`, content: `${txt}\nnew-c2[.]example\n` }]);
    clock.set('2026-08-28T10:00:00Z');
    const again = await hunt.run('schedule');
    expect(again).toMatchObject({ status: 'hunted', posts: [spectreName] });
    const record = (await hunter()).store.get().hunts.at(-1)!;
    expect(record.summary).toMatch(/^1 post/);
    const hunted = (await hunter()).store.get().talos.iocsRepo!.posts!;
    const key = Object.keys(hunted).find((k) => k.includes('spectre'))!;
    expect(hunted[key]!.observables).toContain('domain:new-c2.example');
  });

  it('resumes a hunt killed mid-way without a second casebook or card', async () => {
    xdr.faults.add({ match: '/iroh/iroh-enrich/observe', latencyMs: 150 });
    config = { ...config, xdr: { ...config.xdr, concurrency: 1 } };
    const abort = new AbortController();
    const first = await hunter(abort.signal);
    const running = first.hunt.run('schedule').catch((e: unknown) => e);
    const started = () => Object.keys(xdr.state.casebook ?? {}).length > 0;
    for (let i = 0; i < 500 && !started(); i++) await new Promise((r) => setTimeout(r, 10));
    abort.abort(new Error('stop'));
    await running;
    await first.outbox.drain();
    await first.outbox.stop();
    await first.store.close();
    expect(first.store.get().talos.iocsRepo?.pending).toBeDefined();
    expect(first.store.get().talos.iocsRepo?.lastCommit).toBeUndefined();

    xdr.faults.clear();
    const second = await hunter();
    const result = await second.hunt.run('schedule');
    expect(result).toMatchObject({ status: 'hunted', huntId: first.store.get().talos.iocsRepo!.pending!.huntId });
    await second.outbox.drain();
    await smtp.waitFor((m) => /finished/i.test(m.subject));
    expect(casebookTitles()).toHaveLength(2);
    expect(subjects().filter((s) => /Investigation started/.test(s))).toHaveLength(1);
    expect(subjects().filter((s) => /^Found targets - /.test(s))).toHaveLength(2);
    expect(second.store.get().talos.iocsRepo?.pending).toBeUndefined();
  });

  it('waits for a spent GitHub budget to reset and loses no post', async () => {
    const { hunt } = await hunter();
    github.spendBudget();
    const before = clock.now().getTime();
    const result = await hunt.run('schedule');
    expect(result.status === 'hunted' && result.posts).toHaveLength(3);
    expect(clock.now().getTime()).toBeGreaterThan(before);
  });

  it('leaves the cursor alone when the budget stays spent past GITHUB_MAX_WAIT_SECONDS', async () => {
    config = loadConfig({ STATE_FILE: stateFile, TALOS_ALLOWED_HOSTS: github.hostPort, GITHUB_API_URL: github.apiUrl, GITHUB_RAW_URL: github.rawUrl, XDR_CLIENT_ID: config.xdr.clientId, XDR_CLIENT_PASSWORD: config.xdr.clientPassword, XDR_TOKEN_URL: config.xdr.tokenUrl, XDR_IROH_BASE: config.xdr.irohBase, XDR_CTIA_BASE: config.xdr.ctiaBase, GITHUB_MAX_WAIT_SECONDS: '0' });
    const { hunt, store } = await hunter();
    github.spendBudget();
    const failed = await hunt.run('schedule');
    expect(failed).toMatchObject({ status: 'failed' });
    expect(store.get().talos.iocsRepo?.lastCommit).toBeUndefined();
    clock.advance(3_700_000);
    expect(await hunt.run('schedule')).toMatchObject({ status: 'hunted' });
  });
});
