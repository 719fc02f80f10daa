import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import path from 'node:path';
import { LoopbackEmulator } from '../loopback.js';

/**
 * A local stand-in for the parts of GitHub the Talos hunt reads
 * (REST API version 2022-11-28, shapes as in docs.github.com):
 * - GET /repos/{owner}/{repo}/commits?since=&per_page=&page=   newest first
 * - GET /repos/{owner}/{repo}/commits/{sha}                    with `files`
 * - GET /repos/{owner}/{repo}/contents/{path}                  a folder listing
 * - GET /raw/{owner}/{repo}/{branch}/{path}                    raw files (raw.githubusercontent.com)
 * API answers carry `x-ratelimit-limit/-remaining/-reset` and an ETag; a
 * matching If-None-Match answers 304 without spending budget, like GitHub. A
 * spent budget answers 403 with `x-ratelimit-remaining: 0` until the reset.
 * A request without User-Agent is refused (GitHub requires one). Tests add
 * commits at run time, spend the budget and inject faults.
 */
export interface GithubFile {
  path: string;
  /** Literal content, or `fixture` read (once) from the emulator's folder. */
  content?: string;
  fixture?: string;
}

interface StoredCommit {
  sha: string;
  date: string;
  message: string;
  files: Array<{ filename: string; status: 'added' | 'modified' | 'removed' }>;
}

export interface GithubEmulatorOptions {
  /** Folder the `fixture` paths are read from. */
  fixturesDir: string;
  owner?: string;
  repo?: string;
  branch?: string;
  /** Budget per window without a token (60) and with one (5000). */
  limit?: number;
  tokenLimit?: number;
  windowSeconds?: number;
  /** Epoch milliseconds; tests move time to pass a reset. */
  now?: () => number;
}

export interface GithubRequestLog {
  path: string;
  status: number;
  /** True when it counted against the rate limit. */
  counted: boolean;
}

export class GithubEmulator extends LoopbackEmulator {
  readonly owner: string;
  readonly repo: string;
  readonly branch: string;
  readonly requests: GithubRequestLog[] = [];
  private readonly fixturesDir: string;
  private readonly files = new Map<string, Buffer>();
  private readonly commits: StoredCommit[] = [];
  private readonly budgets = new Map<string, { remaining: number; reset: number }>();
  private readonly limit: number;
  private readonly tokenLimit: number;
  private readonly windowSeconds: number;
  private readonly failures: number[] = [];
  now: () => number;

  constructor(opts: GithubEmulatorOptions) {
    super();
    this.fixturesDir = opts.fixturesDir;
    this.owner = opts.owner ?? 'Cisco-Talos';
    this.repo = opts.repo ?? 'IOCs';
    this.branch = opts.branch ?? 'main';
    this.limit = opts.limit ?? 60;
    this.tokenLimit = opts.tokenLimit ?? 5000;
    this.windowSeconds = opts.windowSeconds ?? 3600;
    this.now = opts.now ?? Date.now;
  }

  /** API base, as GITHUB_API_URL. */
  get apiUrl(): string {
    return this.baseUrl;
  }

  /** Raw base, as GITHUB_RAW_URL (the raw.githubusercontent.com stand-in). */
  get rawUrl(): string {
    return `${this.baseUrl}/raw`;
  }

  get hostPort(): string {
    return new URL(this.baseUrl).host;
  }

  /** Records one commit ("Add files via upload") adding or changing `files`; returns its sha. */
  commit(date: string, files: GithubFile[], message = 'Add files via upload'): string {
    const changes = files.map((f) => {
      const status = this.files.has(f.path) ? ('modified' as const) : ('added' as const);
      this.files.set(f.path, f.content !== undefined ? Buffer.from(f.content) : readFileSync(path.resolve(this.fixturesDir, f.fixture ?? f.path)));
      return { filename: f.path, status };
    });
    const sha = createHash('sha1').update(`${this.commits.length}\u0000${date}\u0000${files.map((f) => f.path).join('\u0000')}`).digest('hex');
    this.commits.push({ sha, date: new Date(date).toISOString().replace('.000Z', 'Z'), message, files: changes });
    return sha;
  }

  /** The next API request finds the budget spent (until the window resets). */
  spendBudget(token = false): void {
    this.budgetFor(token ? 'token' : 'anonymous').remaining = 0;
  }

  /** The next `count` API requests answer `status` (default 502). */
  failNext(count: number, status = 502): void {
    for (let i = 0; i < count; i++) this.failures.push(status);
  }

  /** API requests that counted against the budget. */
  get countedRequests(): number {
    return this.requests.filter((r) => r.counted).length;
  }

  protected handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://emulator');
    const send = (status: number, body: unknown, headers: Record<string, string> = {}, counted = false) => {
      this.requests.push({ path: url.pathname + url.search, status, counted });
      const text = typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body);
      const type = typeof body === 'string' || Buffer.isBuffer(body) ? 'text/plain; charset=utf-8' : 'application/json; charset=utf-8';
      res.writeHead(status, { 'content-type': type, ...headers });
      res.end(status === 304 ? undefined : text);
    };
    if (req.method !== 'GET') return send(405, { message: 'Method Not Allowed' });

    const raw = new RegExp(`^/raw/${this.owner}/${this.repo}/${this.branch}/(.+)$`).exec(url.pathname);
    if (raw) {
      const file = this.files.get(decodeURIComponent(raw[1]!));
      return file ? send(200, file) : send(404, '404: Not Found');
    }
    if (!req.headers['user-agent']) {
      return send(403, { message: 'Request forbidden by administrative rules. Please make sure your request has a User-Agent header.' });
    }
    const token = typeof req.headers.authorization === 'string';
    const budget = this.budgetFor(token ? 'token' : 'anonymous');
    const rateHeaders = () => ({
      'x-ratelimit-limit': String(token ? this.tokenLimit : this.limit),
      'x-ratelimit-remaining': String(budget.remaining),
      'x-ratelimit-reset': String(budget.reset),
      'x-ratelimit-used': String((token ? this.tokenLimit : this.limit) - budget.remaining),
      'x-ratelimit-resource': 'core',
    });
    if (budget.remaining <= 0) {
      return send(403, { message: 'API rate limit exceeded for 127.0.0.1.', documentation_url: 'https://docs.github.com/rest/overview/rate-limits-for-the-rest-api' }, rateHeaders());
    }
    const failure = this.failures.shift();
    if (failure !== undefined) return send(failure, { message: 'Server Error' }, rateHeaders());

    const body = this.route(url);
    if (body === undefined) {
      budget.remaining--;
      return send(404, { message: 'Not Found', documentation_url: 'https://docs.github.com/rest' }, rateHeaders(), true);
    }
    const etag = `W/"${createHash('sha1').update(JSON.stringify(body)).digest('hex')}"`;
    if (req.headers['if-none-match'] === etag) return send(304, '', { etag, ...rateHeaders() });
    budget.remaining--;
    return send(200, body, { etag, ...rateHeaders() }, true);
  }

  private route(url: URL): unknown {
    const prefix = `/repos/${this.owner}/${this.repo}`;
    if (!url.pathname.startsWith(prefix)) return undefined;
    const rest = url.pathname.slice(prefix.length);
    if (rest === '/commits') {
      const since = url.searchParams.get('since');
      const perPage = Math.min(100, Number(url.searchParams.get('per_page') ?? 30));
      const page = Math.max(1, Number(url.searchParams.get('page') ?? 1));
      const list = [...this.commits].reverse().filter((c) => !since || c.date >= new Date(since).toISOString().replace('.000Z', 'Z'));
      return list.slice((page - 1) * perPage, page * perPage).map((c) => this.commitSummary(c));
    }
    const one = /^\/commits\/([0-9a-f]{7,40})$/.exec(rest);
    if (one) {
      const c = this.commits.find((x) => x.sha.startsWith(one[1]!));
      if (!c) return undefined;
      return {
        ...this.commitSummary(c),
        files: c.files.map((f) => ({ filename: f.filename, status: f.status, raw_url: this.rawFileUrl(f.filename), sha: this.blobSha(f.filename) })),
      };
    }
    const contents = /^\/contents\/(.+)$/.exec(rest);
    if (contents) {
      const dir = decodeURIComponent(contents[1]!).replace(/\/$/, '');
      const entries = [...this.files].filter(([p]) => p.startsWith(`${dir}/`) && !p.slice(dir.length + 1).includes('/'));
      if (entries.length === 0) return undefined;
      return entries
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([p, data]) => ({ name: p.slice(dir.length + 1), path: p, sha: this.blobSha(p), size: data.length, type: 'file', download_url: this.rawFileUrl(p) }));
    }
    return undefined;
  }

  private commitSummary(c: StoredCommit): Record<string, unknown> {
    const person = { name: 'Talos', email: 'talos@example.invalid', date: c.date };
    return { sha: c.sha, commit: { message: c.message, author: person, committer: person }, html_url: `https://github.com/${this.owner}/${this.repo}/commit/${c.sha}` };
  }

  private rawFileUrl(p: string): string {
    return `${this.rawUrl}/${this.owner}/${this.repo}/${this.branch}/${p.split('/').map(encodeURIComponent).join('/')}`;
  }

  private blobSha(p: string): string {
    return createHash('sha1').update(this.files.get(p) ?? '').digest('hex');
  }

  private budgetFor(key: string): { remaining: number; reset: number } {
    const nowSeconds = Math.floor(this.now() / 1000);
    let budget = this.budgets.get(key);
    if (!budget || nowSeconds >= budget.reset) {
      budget = { remaining: key === 'token' ? this.tokenLimit : this.limit, reset: nowSeconds + this.windowSeconds };
      this.budgets.set(key, budget);
    }
    return budget;
  }
}
