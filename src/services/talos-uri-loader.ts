import { GithubClient } from '../clients/github/client.js';
import { checkRoundupUri } from '../clients/talos/allowlist.js';
import type { TalosFetcher } from '../clients/talos/fetcher.js';
import type { Config } from '../config/load.js';
import type { Clock } from '../core/clock.js';
import { NotFoundError, SightlineError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { buildPostThreat, groupPostFiles, parseIocFile } from '../domain/talos/post.js';
import { readTalosFile } from '../domain/talos/read-file.js';
import { classifyTalosUri, recentMonthFolders, sameBlogPost, type TalosUri } from '../domain/talos/talos-uri.js';
import type { Roundup, Threat } from '../domain/types.js';

/**
 * Loads what `hunt blog <uri>` names: a roundup, a raw or GitHub `blob` IOC
 * file, a GitHub `tree/…/YYYY/MM` folder (every post in it) or a Talos blog
 * post address, mapped to its files through the bundles' observed-data url.
 * Every file is read from an address on TALOS_ALLOWED_HOSTS; GitHub addresses
 * are only parsed, then read from the configured API and raw hosts.
 */
export interface TalosUriLoaderDeps {
  fetcher: Pick<TalosFetcher, 'fetchText'>;
  config: Config;
  clock: Clock;
  logger: Logger;
  /** Injected in tests; defaults to a client for the repository the address names. */
  github?: (repo: { owner: string; repo: string; branch: string }) => GithubClient;
}

/** How many month folders a blog address is searched in (Talos uploads in or just after the post's month). */
const BLOG_SEARCH_MONTHS = 3;

export class TalosUriLoader {
  constructor(private readonly d: TalosUriLoaderDeps) {}

  /** Refuses an address before any work starts (the SSRF guard of `hunt blog`). */
  check(uri: string): void {
    const target = classifyTalosUri(uri);
    if (target.kind === 'file' || target.kind === 'blog') checkRoundupUri(target.url, this.d.config.talos.allowedHosts);
    else if (target.kind === 'repo-file') checkRoundupUri(this.rawUrl(target, target.path), this.d.config.talos.allowedHosts);
    else checkRoundupUri(this.rawUrl(target, `${target.path}/x.json`), this.d.config.talos.allowedHosts);
  }

  async load(uri: string): Promise<Roundup> {
    const target = classifyTalosUri(uri);
    const opts = { includeSampleHashes: this.d.config.talos.includeSampleHashes, cidrExpandMax: this.d.config.talos.cidrExpandMax };
    switch (target.kind) {
      case 'file': {
        const file = await this.d.fetcher.fetchText(target.url);
        return readTalosFile(file.text, file.uri, opts);
      }
      case 'repo-file': {
        const file = await this.d.fetcher.fetchText(this.rawUrl(target, target.path));
        return { ...readTalosFile(file.text, uri, opts), source: uri };
      }
      case 'folder':
        return { source: uri, threats: await this.folderThreats(target, target.path) };
      case 'blog':
        return { source: uri, threats: [await this.blogThreat(target)] };
    }
  }

  private async folderThreats(repo: Extract<TalosUri, { kind: 'folder' }>, dir: string): Promise<Threat[]> {
    const paths = await this.client(repo).folder(dir);
    const threats: Threat[] = [];
    for (const group of groupPostFiles(paths)) threats.push(await this.postThreat(repo, group.paths));
    if (threats.length === 0) throw new NotFoundError(`${dir} holds no IOC files (.json or .txt); check the folder address.`);
    return threats;
  }

  private async blogThreat(target: Extract<TalosUri, { kind: 'blog' }>): Promise<Threat> {
    const c = this.d.config.talosIocs;
    const repo = { owner: c.owner, repo: c.repo, branch: c.branch };
    const client = this.client(repo);
    for (const dir of recentMonthFolders(this.d.clock.now(), BLOG_SEARCH_MONTHS)) {
      const paths = await client.folder(dir).catch((err: unknown) => {
        if (err instanceof NotFoundError) return [] as string[];
        throw err;
      });
      // Names that share the slug's words first: usually the first bundle read is the one.
      const words = target.slug.toLowerCase().split(/[^a-z0-9]+/).filter((w) => w.length > 3);
      const score = (p: string) => words.filter((w) => p.toLowerCase().includes(w)).length;
      const bundles = paths.filter((p) => /\.json$/i.test(p)).sort((a, b) => score(b) - score(a));
      for (const path of bundles) {
        const result = parseIocFile({ path, text: await this.d.fetcher.fetchText(this.rawUrl(repo, path)).then((f) => f.text) });
        if (result.link && sameBlogPost(result.link, target.url)) {
          const group = groupPostFiles(paths).find((g) => g.paths.includes(path))!;
          return this.postThreat(repo, group.paths);
        }
      }
    }
    throw new SightlineError(
      'not_found',
      `No IOC file in ${c.owner}/${c.repo} of the last ${BLOG_SEARCH_MONTHS} months names ${target.url} as its blog post; give the IOC file or its month folder instead (github.com/${c.owner}/${c.repo}/tree/${c.branch}/YYYY/MM).`,
      { httpStatus: 404 },
    );
  }

  private async postThreat(repo: { owner: string; repo: string; branch: string }, paths: string[]): Promise<Threat> {
    const files = [];
    for (const path of paths) {
      const file = await this.d.fetcher.fetchText(this.rawUrl(repo, path));
      files.push({ path, result: parseIocFile({ path, text: file.text }) });
    }
    return buildPostThreat(files);
  }

  private rawUrl(repo: { owner: string; repo: string; branch: string }, path: string): string {
    return `${this.d.config.talosIocs.rawUrl}/${repo.owner}/${repo.repo}/${repo.branch}/${path.split('/').map(encodeURIComponent).join('/')}`;
  }

  private client(repo: { owner: string; repo: string; branch: string }): GithubClient {
    if (this.d.github) return this.d.github(repo);
    const c = this.d.config.talosIocs;
    return new GithubClient({ repo, apiUrl: c.apiUrl, rawUrl: c.rawUrl, token: c.token, maxWaitMs: c.maxWaitSeconds * 1000, clock: this.d.clock, logger: this.d.logger });
  }
}
