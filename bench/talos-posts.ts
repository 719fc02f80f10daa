import { GithubClient } from '../src/clients/github/client.js';
import { HttpClient } from '../src/clients/http.js';
import { FakeClock } from '../src/core/clock.js';
import { silentLogger } from '../src/core/logger.js';
import { GithubEmulator } from '../src/emulators/github/server.js';
import { XdrEmulator } from '../src/emulators/xdr/index.js';
import { TalosPostsSource } from '../src/services/talos-posts-source.js';
import { runOurHunt } from './hunt.js';
import { table, type BenchResult, type TargetCheck } from './report.js';
import type { LoadedRoundup } from './roundups.js';
import { fmt, median } from './stats.js';
import { fileURLToPath } from 'node:url';

/**
 * Benchmark 2b: the weekly hunt of Cisco-Talos/IOCs posts. (1) GitHub requests
 * for one weekly hunt of the 2026/08 month (three posts in four upload
 * commits) against the bound 1 + one per new commit + one per file; (2) the
 * hunt of those posts (all in one hunt, sharing the batches) against the hunt
 * benchmark's bound, API calls × latency ÷ 4.
 */
const IOCS_DIR = fileURLToPath(new URL('../test/fixtures/talos-iocs', import.meta.url));
const MONTH = ['dissecting-the-jwr-phishing-framework', 'UAT-10147 deploys SPECTRE', 'UAT-10147 integrates agentic AI'].map((p) => `2026/08/${p}`);

export async function benchTalosPosts(o: { quick: boolean }): Promise<BenchResult> {
  const latencyMs = o.quick ? 5 : 50;
  const runs = o.quick ? 1 : 3;
  const clock = new FakeClock('2026-08-21T10:00:00Z');
  const github = new GithubEmulator({ fixturesDir: IOCS_DIR, now: () => clock.now().getTime() });
  const xdr = new XdrEmulator({ latencyMs });
  await Promise.all([github.start(), xdr.start()]);
  const targets: TargetCheck[] = [];
  let markdown = '';
  try {
    const cursorSha = github.commit('2026-08-01T08:00:00Z', [{ path: '2025/11/Kraken-ransomware-group.json' }]);
    github.commit('2026-08-13T10:05:00Z', [{ path: `${MONTH[0]}.json` }]);
    github.commit('2026-08-13T10:06:00Z', [{ path: `${MONTH[0]}.txt` }]);
    github.commit('2026-08-20T05:50:00Z', [{ path: `${MONTH[1]}.json` }, { path: `${MONTH[1]}.txt` }]);
    github.commit('2026-08-20T05:51:00Z', [{ path: `${MONTH[2]}.json` }, { path: `${MONTH[2]}.txt` }]);
    const client = new GithubClient({
      repo: { owner: 'Cisco-Talos', repo: 'IOCs', branch: 'main' },
      apiUrl: github.apiUrl,
      rawUrl: github.rawUrl,
      clock,
      logger: silentLogger,
      http: new HttpClient({ service: 'GitHub', retry: { retries: 0 } }),
    });
    const source = new TalosPostsSource({ github: client, clock, logger: silentLogger, firstLookbackDays: 7, allowedHosts: [github.hostPort], rawUrl: github.rawUrl });
    const before = github.requests.length;
    const t0 = performance.now();
    const found = await source.whatIsNew({ sha: cursorSha, date: '2026-08-01T08:00:00Z' });
    const threats = await source.threats(found.posts, {});
    const readMs = performance.now() - t0;
    const requests = github.requests.slice(before);
    const commits = 4;
    const files = found.posts.reduce((n, p) => n + p.paths.length, 0);
    const bound = 1 + commits + files;
    const metered = requests.filter((r) => r.counted).length;
    // Next week, nothing new: one conditional request.
    const again = github.requests.length;
    await source.whatIsNew({ sha: found.toCommit!.sha, date: found.toCommit!.date });
    await source.whatIsNew({ sha: found.toCommit!.sha, date: found.toCommit!.date });
    const quiet = github.requests.slice(again);
    targets.push({ what: 'GitHub requests per weekly hunt (2026/08: 4 commits, 6 files)', target: `≤ 1 + commits + files = ${bound}`, measured: `${requests.length} (${metered} metered)`, met: requests.length <= bound });

    const roundup = { source: 'Cisco-Talos/IOCs 2026/08', threats: threats.map((t) => t.threat) };
    const loaded = { file: '2026/08 (3 posts)', roundup, raw: {} } as unknown as LoadedRoundup;
    const ours = [];
    for (let i = 0; i < runs; i++) ours.push(await runOurHunt(xdr, loaded, { batchSize: 50, concurrency: 4 }));
    const wall = median(ours.map((r) => r.wallMs));
    const api = median(ours.map((r) => r.apiCalls));
    const huntBound = (api * latencyMs) / 4;
    if (!o.quick) targets.push({ what: 'hunt of the 2026/08 posts: wall vs API calls × latency ÷ 4', target: '≤ 1.5×', measured: `${fmt(wall / huntBound, 2)}×`, met: wall / huntBound <= 1.5 });
    const observables = roundup.threats.reduce((n, t) => n + t.observables.length, 0);
    markdown = [
      `GitHub emulator (src/emulators/github) holding the 2026/08 month of Cisco-Talos/IOCs as uploaded (JWR's .json and .txt in two commits, the two UAT-10147 posts one commit each), cursor at the commit before; the bot's GithubClient and TalosPostsSource read what is new. Raw files are not metered by GitHub (raw.githubusercontent.com).`,
      '',
      table(
        ['what', 'requests', 'metered (API budget)', 'bound', 'time'],
        [
          ['weekly hunt, 3 new posts', String(requests.length), String(metered), String(bound), `${fmt(readMs)} ms`],
          ['next week, nothing new (asked twice)', String(quiet.length), `${quiet.filter((r) => r.counted).length} (then 304)`, '1', '—'],
        ],
      ),
      '',
      `Hunt of those posts (${threats.length} threats, ${fmt(observables)} observables, the .txt adding 235 domains to JWR) with the XDR emulator at ${latencyMs} ms per call, batch 50, concurrency 4, median of ${runs} runs: ${fmt(wall)} ms for ${fmt(api)} API calls; bound ${fmt(huntBound)} ms (${fmt(wall / huntBound, 2)}×).`,
    ].join('\n');
  } finally {
    await Promise.allSettled([github.stop(), xdr.stop()]);
  }
  return { name: 'talos-posts', title: '2b. Talos posts (Cisco-Talos/IOCs)', markdown, targets };
}
