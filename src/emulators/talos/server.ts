import { readdirSync, readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import path from 'node:path';
import { LoopbackEmulator } from '../loopback.js';

/**
 * A local stand-in for the places Talos roundups were published (seeds.md §3.1),
 * serving the real fixture files:
 * - GitHub raw:  /Cisco-Talos/Threat-Round-Up/master/{yyyy}/{mmdd}.json
 * - 2021 S3:     /talos-intelligence-site/production/document_files/files/000/095/{urlId}/original/{yyyymmdd}-tru.json.txt
 * Missing weeks answer 404 like GitHub. Tests publish and unpublish weeks at
 * run time, inject failures and latency, and read the request log.
 */
export type RoundupSource = string | { body: string };

export interface TalosEmulatorOptions {
  /** Folder of YYYY/MMDD.json roundup files to serve. */
  fixturesDir: string;
  /** Publish every YYYY/MMDD.json of the fixtures dir under its own name (default true). */
  publishFixtures?: boolean;
  /** S3 upload ids; defaults to DEFAULT_S3_IDS. */
  s3Ids?: Record<number, { date: string; file: RoundupSource }>;
  latencyMs?: number;
}

/** 584 and 597 are the real ids from the seed README (seeds.md §2.1); the others are assigned in order. */
export const DEFAULT_S3_IDS: Record<number, { date: string; file: string }> = {
  520: { date: '2020-11-13', file: '2020/1113.json' },
  584: { date: '2021-06-17', file: '2021/0617.json' },
  597: { date: '2021-07-23', file: '2021/0723.json' },
  640: { date: '2021-12-03', file: '2021/1203.json' },
};

export interface LoggedRequest {
  method: string;
  path: string;
  status: number;
}

const GITHUB = /^\/Cisco-Talos\/Threat-Round-Up\/master\/(\d{4})\/(\d{4})\.json$/;
const S3 = /^\/talos-intelligence-site\/production\/document_files\/files\/000\/095\/(\d+)\/original\/(\d{8})-tru\.json\.txt$/;

export class TalosEmulator extends LoopbackEmulator {
  readonly fixturesDir: string;
  readonly requests: LoggedRequest[] = [];
  private readonly github = new Map<string, RoundupSource>();
  private readonly s3 = new Map<number, { yyyymmdd: string; file: RoundupSource }>();
  private readonly cache = new Map<string, Buffer>();
  private failures: Array<number> = [];
  private latencyMs: number;

  constructor(opts: TalosEmulatorOptions) {
    super();
    this.fixturesDir = opts.fixturesDir;
    this.latencyMs = opts.latencyMs ?? 0;
    if (opts.publishFixtures ?? true) this.publishAllFixtures();
    for (const [id, { date, file }] of Object.entries(opts.s3Ids ?? DEFAULT_S3_IDS)) this.publishS3(Number(id), date, file);
  }

  /** `host:port` for TALOS_ALLOWED_HOSTS. */
  get hostPort(): string {
    return new URL(this.baseUrl).host;
  }

  /** The GitHub-layout URL template pointing at this emulator. */
  get githubTemplate(): string {
    return `${this.baseUrl}/Cisco-Talos/Threat-Round-Up/master/{yyyy}/{mmdd}.json`;
  }

  get s3Template(): string {
    return `${this.baseUrl}/talos-intelligence-site/production/document_files/files/000/095/{urlId}/original/{yyyymmdd}-tru.json.txt`;
  }

  /** Serves `file` (a fixture path like "2021/0723.json", an absolute path, or a literal body) as the roundup named `date`. */
  publish(date: string, file: RoundupSource): void {
    this.github.set(githubKey(date), file);
  }

  publishS3(urlId: number, date: string, file: RoundupSource): void {
    this.s3.set(urlId, { yyyymmdd: date.replaceAll('-', ''), file });
  }

  /** Removes the week `date` from both layouts. */
  unpublish(date: string): void {
    this.github.delete(githubKey(date));
    const yyyymmdd = date.replaceAll('-', '');
    for (const [id, entry] of this.s3) if (entry.yyyymmdd === yyyymmdd) this.s3.delete(id);
  }

  unpublishAll(): void {
    this.github.clear();
    this.s3.clear();
  }

  /** The next `count` requests answer `status` (default 503) instead of their normal answer. */
  failNext(count: number, status = 503): void {
    for (let i = 0; i < count; i++) this.failures.push(status);
  }

  setLatency(ms: number): void {
    this.latencyMs = ms;
  }

  private publishAllFixtures(): void {
    let years: string[];
    try {
      years = readdirSync(this.fixturesDir).filter((d) => /^\d{4}$/.test(d));
    } catch {
      return; // no fixtures: tests publish literal bodies instead
    }
    for (const year of years) {
      for (const name of readdirSync(path.join(this.fixturesDir, year))) {
        const m = /^(\d{2})(\d{2})\.json$/.exec(name);
        if (m) this.publish(`${year}-${m[1]}-${m[2]}`, `${year}/${name}`);
      }
    }
  }

  protected async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://emulator');
    if (this.latencyMs > 0) {
      await new Promise((r) => setTimeout(r, this.latencyMs));
      // The client gave up while we waited: answering (or logging) now would leak into later tests.
      if (res.destroyed || req.socket.destroyed) return;
    }
    const answer = (status: number, body: string | Buffer, headers: Record<string, string> = {}) => {
      this.requests.push({ method: req.method ?? 'GET', path: url.pathname + url.search, status });
      res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': String(Buffer.byteLength(body)), ...headers });
      res.end(req.method === 'HEAD' ? undefined : body);
    };
    const failure = this.failures.shift();
    if (failure !== undefined) return answer(failure, `${failure}: Injected failure`);
    if (req.method !== 'GET' && req.method !== 'HEAD') return answer(405, '405: Method Not Allowed', { allow: 'GET, HEAD' });
    if (url.pathname === '/redirect') {
      const to = url.searchParams.get('to');
      return to ? answer(302, '', { location: to }) : answer(400, '400: Missing ?to=');
    }
    const source = this.lookup(url.pathname);
    if (source === undefined) return answer(404, '404: Not Found');
    try {
      return answer(200, this.read(source));
    } catch {
      return answer(500, '500: Fixture unreadable');
    }
  }

  private lookup(pathname: string): RoundupSource | undefined {
    const gh = GITHUB.exec(pathname);
    if (gh) return this.github.get(`${gh[1]}/${gh[2]}`);
    const s3 = S3.exec(pathname);
    if (s3) {
      const entry = this.s3.get(Number(s3[1]));
      return entry && entry.yyyymmdd === s3[2] ? entry.file : undefined;
    }
    return undefined;
  }

  private read(source: RoundupSource): Buffer | string {
    if (typeof source !== 'string') return source.body;
    const file = path.resolve(this.fixturesDir, source);
    let data = this.cache.get(file);
    if (!data) {
      data = readFileSync(file);
      this.cache.set(file, data);
    }
    return data;
  }
}

function githubKey(date: string): string {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(date);
  if (!m) throw new Error(`publish() wants a YYYY-MM-DD date, got "${date}"`);
  return `${m[1]}/${m[2]}${m[3]}`;
}
