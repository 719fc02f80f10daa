import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HttpClient } from '../../src/clients/http.js';
import { TalosFetcher } from '../../src/clients/talos/fetcher.js';
import { loadConfig } from '../../src/config/load.js';
import { FakeClock } from '../../src/core/clock.js';
import { UriRefusedError } from '../../src/core/errors.js';
import { silentLogger } from '../../src/core/logger.js';
import { classifyTalosUri } from '../../src/domain/talos/talos-uri.js';
import { GithubEmulator } from '../../src/emulators/github/server.js';
import { TalosUriLoader } from '../../src/services/talos-uri-loader.js';
import { TALOS_IOCS_DIR } from '../support/fixtures.js';

const github = new GithubEmulator({ fixturesDir: TALOS_IOCS_DIR });
const clock = new FakeClock('2026-08-21T10:00:00Z');
let loader: TalosUriLoader;

beforeAll(async () => {
  await github.start();
  const month = ['dissecting-the-jwr-phishing-framework', 'UAT-10147 deploys SPECTRE', 'UAT-10147 integrates agentic AI'];
  github.commit('2026-08-20T05:00:00Z', month.flatMap((p) => [{ path: `2026/08/${p}.json` }, { path: `2026/08/${p}.txt` }]));
  github.commit('2026-08-20T05:01:00Z', [{ path: '2026/08/lang5.py', content: 'print(1)' }]);
  const config = loadConfig({
    WEBEX_ENABLED: 'false',
    XDR_CLIENT_ID: 'x',
    XDR_CLIENT_PASSWORD: 'x',
    TALOS_ALLOWED_HOSTS: `${github.hostPort},blog.talosintelligence.com`,
    GITHUB_API_URL: github.apiUrl,
    GITHUB_RAW_URL: github.rawUrl,
  });
  const fetcher = new TalosFetcher({ talos: config.talos, logger: silentLogger, http: new HttpClient({ service: 'Talos', retry: { retries: 0 } }) });
  loader = new TalosUriLoader({ fetcher, config, clock, logger: silentLogger });
});
afterAll(() => github.stop());

describe('hunt blog addresses', () => {
  it('classifies blob, tree, blog and plain addresses', () => {
    expect(classifyTalosUri('https://github.com/Cisco-Talos/IOCs/blob/main/2026/08/UAT-10147%20deploys%20SPECTRE.json')).toEqual({
      kind: 'repo-file',
      owner: 'Cisco-Talos',
      repo: 'IOCs',
      branch: 'main',
      path: '2026/08/UAT-10147 deploys SPECTRE.json',
    });
    expect(classifyTalosUri('https://github.com/Cisco-Talos/IOCs/tree/main/2026/08')).toMatchObject({ kind: 'folder', path: '2026/08' });
    expect(classifyTalosUri('https://blog.talosintelligence.com/kraken-ransomware-group/')).toMatchObject({ kind: 'blog', slug: 'kraken-ransomware-group' });
    expect(classifyTalosUri('https://raw.githubusercontent.com/Cisco-Talos/IOCs/main/2025/06/pathwiper.json')).toMatchObject({ kind: 'file' });
  });

  it('reads a GitHub blob address as one post', async () => {
    const r = await loader.load('https://github.com/Cisco-Talos/IOCs/blob/main/2026/08/UAT-10147%20deploys%20SPECTRE.json');
    expect(r.threats.map((t) => t.name)).toEqual(['UAT-10147 Deploys SPECTRE: A Cross-Platform Implant with Linux Rootkit and BYOVD Capabilities']);
  });

  it('reads every post of a tree/…/YYYY/MM folder, json and txt together, ignoring stray files', async () => {
    const r = await loader.load('https://github.com/Cisco-Talos/IOCs/tree/main/2026/08');
    expect(r.threats).toHaveLength(3);
    const jwr = r.threats.find((t) => t.name === 'Dissecting the JWR phishing framework')!;
    expect(jwr.files!.map((f) => f.file)).toEqual(['2026/08/dissecting-the-jwr-phishing-framework.json', '2026/08/dissecting-the-jwr-phishing-framework.txt']);
    expect(jwr.files![1]!.added).toBe(235);
  });

  it('maps a blog post address to its files through the observed-data url', async () => {
    const r = await loader.load('https://blog.talosintelligence.com/dissecting-the-jwr-phishing-framework/');
    expect(r.threats).toHaveLength(1);
    expect(r.threats[0]!.name).toBe('Dissecting the JWR phishing framework');
    expect(r.threats[0]!.link).toBe('https://blog.talosintelligence.com/dissecting-the-jwr-phishing-framework');
  });

  it('says what to do when no file names the blog post', async () => {
    await expect(loader.load('https://blog.talosintelligence.com/some-other-post/')).rejects.toThrow(/month folder instead/);
  });

  it('refuses addresses outside the allow-list before any work', () => {
    expect(() => loader.check('https://evil.example/x.json')).toThrow(UriRefusedError);
    expect(() => loader.check('https://github.com/Cisco-Talos/IOCs/tree/main/2026/08')).not.toThrow();
  });
});
