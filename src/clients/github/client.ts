import { z } from 'zod';
import type { Clock } from '../../core/clock.js';
import { NotFoundError, UpstreamError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import { HttpClient } from '../http.js';

/**
 * The GitHub REST API (version 2022-11-28) as the Talos hunt uses it, over
 * undici through our HttpClient: the same retry, body-limit and logging rules
 * as every other outside call, and no extra dependency tree (Octokit brings
 * ~20 packages for four GET calls).
 *
 * Budget: every answer's `x-ratelimit-*` is read; a spent budget (403/429
 * with remaining 0) makes the client wait for `x-ratelimit-reset` instead of
 * failing, up to `maxWaitMs`, then it says when to come back. Conditional
 * requests: the last ETag of a URL is sent as If-None-Match; a 304 costs no
 * budget and reuses the stored body. Raw files come from the raw host, which
 * is not metered.
 */
export interface GithubRepoRef {
  owner: string;
  repo: string;
  branch: string;
}

export interface EtagEntry {
  etag: string;
  body: unknown;
}

/** Where ETags live: in memory by default; the hunt persists the ones worth keeping. */
export interface EtagStore {
  get(url: string): EtagEntry | undefined;
  set(url: string, entry: EtagEntry): void;
}

export interface GithubClientOptions {
  repo: GithubRepoRef;
  apiUrl: string;
  rawUrl: string;
  token?: string;
  clock: Clock;
  logger: Logger;
  /** Longest wait for a budget reset before giving up with a sentence (default 1 h 5 min). */
  maxWaitMs?: number;
  http?: HttpClient;
  etags?: EtagStore;
  maxFileBytes?: number;
}

export interface RateLimit {
  limit: number;
  remaining: number;
  /** Epoch seconds. */
  reset: number;
}

const commitSummary = z.looseObject({ sha: z.string(), commit: z.looseObject({ message: z.string().default(''), committer: z.looseObject({ date: z.string() }).nullable().optional(), author: z.looseObject({ date: z.string() }).nullable().optional() }) });
const commitDetail = commitSummary.extend({
  files: z.array(z.looseObject({ filename: z.string(), status: z.string(), raw_url: z.string().nullable().optional() })).default([]),
});
const contentEntry = z.looseObject({ name: z.string(), path: z.string(), type: z.string(), sha: z.string().optional(), download_url: z.string().nullable().optional() });

export interface CommitRef {
  sha: string;
  date: string;
  message: string;
}

export interface CommitFile {
  path: string;
  status: string;
}

const PER_PAGE = 100;
/** 10 pages = 1,000 commits: far above a week of Talos uploads (46 in eight months of 2026). */
const MAX_PAGES = 10;
const MAX_BUDGET_WAITS = 3;

export class GithubClient {
  readonly repo: GithubRepoRef;
  /** Metered API requests sent (not 304s, not raw files), for benchmarks and tests. */
  apiRequests = 0;
  lastRateLimit: RateLimit | undefined;
  private readonly opts: GithubClientOptions;
  private readonly http: HttpClient;
  private readonly etags: EtagStore;
  private readonly logger: Logger;

  constructor(opts: GithubClientOptions) {
    this.opts = opts;
    this.repo = opts.repo;
    this.logger = opts.logger.child({ component: 'github' });
    this.http = opts.http ?? new HttpClient({ service: 'GitHub', logger: this.logger });
    const memory = new Map<string, EtagEntry>();
    this.etags = opts.etags ?? { get: (u) => memory.get(u), set: (u, e) => memory.set(u, e) };
  }

  /** Commits on the branch since `since` (ISO), oldest first. */
  async commitsSince(since: string): Promise<CommitRef[]> {
    const out: CommitRef[] = [];
    for (let page = 1; page <= MAX_PAGES; page++) {
      const query = new URLSearchParams({ sha: this.repo.branch, since, per_page: String(PER_PAGE), page: String(page) });
      const body = z.array(commitSummary).parse(await this.api(`/commits?${query}`));
      for (const c of body) out.push({ sha: c.sha, date: c.commit.committer?.date ?? c.commit.author?.date ?? since, message: c.commit.message });
      if (body.length < PER_PAGE) break;
    }
    return out.reverse();
  }

  /** The files a commit touched. */
  async commitFiles(sha: string): Promise<CommitFile[]> {
    const body = commitDetail.parse(await this.api(`/commits/${encodeURIComponent(sha)}`));
    return body.files.map((f) => ({ path: f.filename, status: f.status }));
  }

  /** The files of one folder (e.g. `2026/08`). */
  async folder(dir: string): Promise<string[]> {
    const body = z.array(contentEntry).parse(await this.api(`/contents/${encodePath(dir)}?ref=${encodeURIComponent(this.repo.branch)}`));
    return body.filter((e) => e.type === 'file').map((e) => e.path);
  }

  /** A file's text from the raw host (raw.githubusercontent.com), not metered. */
  async raw(path: string): Promise<string> {
    const url = `${this.opts.rawUrl}/${this.repo.owner}/${this.repo.repo}/${this.repo.branch}/${encodePath(path)}`;
    const res = await this.http.send({ method: 'GET', url, headers: { 'user-agent': USER_AGENT, accept: '*/*' }, acceptStatus: [404], maxBodyBytes: this.opts.maxFileBytes });
    if (res.status === 404) throw new NotFoundError(`${path} is not in ${this.repo.owner}/${this.repo.repo} (branch ${this.repo.branch}); it may have been removed.`);
    return res.text;
  }

  private async api(pathAndQuery: string): Promise<unknown> {
    const url = `${this.opts.apiUrl}/repos/${this.repo.owner}/${this.repo.repo}${pathAndQuery}`;
    for (let wait = 0; ; wait++) {
      const cached = this.etags.get(url);
      const headers: Record<string, string> = { 'user-agent': USER_AGENT, accept: 'application/vnd.github+json', 'x-github-api-version': '2022-11-28' };
      if (this.opts.token) headers.authorization = `Bearer ${this.opts.token}`;
      if (cached) headers['if-none-match'] = cached.etag;
      const res = await this.http.send({ method: 'GET', url, headers, acceptStatus: [304, 403, 404, 429], maxBodyBytes: this.opts.maxFileBytes });
      this.lastRateLimit = readRateLimit(res.headers) ?? this.lastRateLimit;
      if (res.status === 304 && cached) return cached.body;
      const spent = (res.status === 403 || res.status === 429) && this.lastRateLimit?.remaining === 0;
      if (spent) {
        if (wait >= MAX_BUDGET_WAITS) throw this.budgetError();
        await this.waitForReset();
        continue;
      }
      this.apiRequests++;
      if (res.status === 404) throw new NotFoundError(`GitHub has no ${pathAndQuery.split('?')[0]} in ${this.repo.owner}/${this.repo.repo}; check TALOS_IOCS_REPO and TALOS_IOCS_BRANCH.`);
      if (res.status === 403 || res.status === 429) {
        throw new UpstreamError('GitHub', `GitHub refused the request (HTTP ${res.status}); check GITHUB_TOKEN, or leave it empty to use the anonymous budget.`, { status: res.status });
      }
      const etag = res.headers.etag;
      if (etag) this.etags.set(url, { etag, body: res.body });
      return res.body;
    }
  }

  private async waitForReset(): Promise<void> {
    const reset = (this.lastRateLimit?.reset ?? 0) * 1000;
    const ms = Math.max(1000, reset - this.opts.clock.now().getTime() + 1000);
    if (ms > (this.opts.maxWaitMs ?? 65 * 60_000)) throw this.budgetError();
    this.logger.warn({ waitMs: ms, reset: new Date(reset).toISOString() }, 'GitHub request budget spent; waiting for the reset');
    await this.opts.clock.sleep(ms);
  }

  private budgetError(): UpstreamError {
    const reset = new Date((this.lastRateLimit?.reset ?? 0) * 1000).toISOString().slice(11, 16);
    return new UpstreamError(
      'GitHub',
      `GitHub's request budget is spent until ${reset} UTC; the Talos hunt will take up where it stopped then. Set GITHUB_TOKEN for 5,000 requests an hour.`,
      { status: 429, retryAfterMs: Math.max(0, (this.lastRateLimit?.reset ?? 0) * 1000 - this.opts.clock.now().getTime()) },
    );
  }
}

const USER_AGENT = 'sightline-talos-hunt';

function readRateLimit(headers: Record<string, string>): RateLimit | undefined {
  const remaining = headers['x-ratelimit-remaining'];
  if (remaining === undefined) return undefined;
  return { limit: Number(headers['x-ratelimit-limit'] ?? 0), remaining: Number(remaining), reset: Number(headers['x-ratelimit-reset'] ?? 0) };
}

/** Percent-encodes each path segment (spaces as %20), keeping the slashes. */
export function encodePath(path: string): string {
  return path.split('/').map(encodeURIComponent).join('/');
}
